package seccomp

import (
	"fmt"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fullProfile sets every field of the profile's types, so that changing
// any one of them is a change Key must see.
func fullProfile() *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(1),
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86},
		Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
		ListenerPath:  "/run/agent.sock", ListenerMetadata: "meta",
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write"}, Action: specs.ActAllow},
			{Names: []string{"personality"}, Action: specs.ActErrno, ErrnoRet: uintp(38),
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, ValueTwo: 0xff, Op: specs.OpMaskedEqual}}},
		},
	}
}

// mutations returns, for each leaf field reachable from v (slices walked
// element by element, and grown), a name and a function that changes it.
// A field of a kind it does not know fails the test: a new field in the
// runtime-spec must be added to Key and then here.
func mutations(t *testing.T, path string, v reflect.Value) []mutation {
	switch v.Kind() {
	case reflect.String:
		return []mutation{{path, func() { v.SetString(v.String() + "x") }}}
	case reflect.Uint, reflect.Uint64:
		return []mutation{{path, func() { v.SetUint(v.Uint() + 1) }}}
	case reflect.Pointer:
		if v.Type().Elem().Kind() != reflect.Uint {
			break
		}
		if v.IsNil() {
			return []mutation{{path + " (zero)", func() { v.Set(reflect.New(v.Type().Elem())) }}}
		}
		return []mutation{
			{path + " (value)", func() { v.Elem().SetUint(v.Elem().Uint() + 1) }},
			{path + " (absent)", func() { v.Set(reflect.Zero(v.Type())) }},
		}
	case reflect.Slice:
		out := []mutation{{path + " (grown)", func() { v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem()))) }}}
		for i := 0; i < v.Len(); i++ {
			out = append(out, mutations(t, fmt.Sprintf("%s[%d]", path, i), v.Index(i))...)
		}
		return out
	case reflect.Struct:
		var out []mutation
		for i := 0; i < v.NumField(); i++ {
			out = append(out, mutations(t, path+"."+v.Type().Field(i).Name, v.Field(i))...)
		}
		return out
	}
	t.Fatalf("%s: a field of kind %s that Key's test does not know (and Key may not hash)", path, v.Type())
	return nil
}

type mutation struct {
	name   string
	change func()
}

// Every field of the profile changes the key: no two profiles that
// compile differently may share a cached program.
func TestKeyCoversEveryField(t *testing.T) {
	base := Key(fullProfile())
	if Key(fullProfile()) != base {
		t.Fatal("the same profile gave two keys")
	}
	n := len(mutations(t, "", reflect.ValueOf(fullProfile()).Elem()))
	if n < 20 {
		t.Fatalf("only %d mutations: the walk lost fields", n)
	}
	for i := 0; i < n; i++ {
		p := fullProfile()
		m := mutations(t, "", reflect.ValueOf(p).Elem())[i]
		m.change()
		if Key(p) == base {
			t.Errorf("changing %s left the key unchanged", m.name)
		}
	}
}

// Moving a name from one rule to the next, or splitting one string into
// two, changes the stream: lengths and counts are part of it.
func TestKeyIsUnambiguous(t *testing.T) {
	a := &specs.LinuxSeccomp{Syscalls: []specs.LinuxSyscall{{Names: []string{"ab"}}, {Names: []string{"c"}}}}
	b := &specs.LinuxSeccomp{Syscalls: []specs.LinuxSyscall{{Names: []string{"a"}}, {Names: []string{"bc"}}}}
	c := &specs.LinuxSeccomp{Syscalls: []specs.LinuxSyscall{{Names: []string{"ab", "c"}}}}
	if Key(a) == Key(b) || Key(a) == Key(c) || Key(b) == Key(c) {
		t.Error("different splits of the same names share a key")
	}
}
