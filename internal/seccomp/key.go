package seccomp

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Key is a digest of everything in cfg that Compile reads: two profiles
// with the same Key compile to the same Program (in the same build of this
// package), so a caller may keep compiled programs by Key. Every field of
// the profile's types goes in, each tagged and length-prefixed, so that no
// two different profiles give the same byte stream; TestKeyCoversEveryField
// fails when the runtime-spec adds a field this function does not know.
func Key(cfg *specs.LinuxSeccomp) [sha256.Size]byte {
	k := keyWriter{h: sha256.New()}
	k.str(1, string(cfg.DefaultAction))
	k.optUint(2, cfg.DefaultErrnoRet)
	k.num(3, uint64(len(cfg.Architectures)))
	for _, a := range cfg.Architectures {
		k.str(4, string(a))
	}
	k.num(5, uint64(len(cfg.Flags)))
	for _, f := range cfg.Flags {
		k.str(6, string(f))
	}
	k.str(7, cfg.ListenerPath)
	k.str(8, cfg.ListenerMetadata)
	k.num(9, uint64(len(cfg.Syscalls)))
	for i := range cfg.Syscalls {
		sc := &cfg.Syscalls[i]
		k.num(10, uint64(len(sc.Names)))
		for _, n := range sc.Names {
			k.str(11, n)
		}
		k.str(12, string(sc.Action))
		k.optUint(13, sc.ErrnoRet)
		k.num(14, uint64(len(sc.Args)))
		for _, a := range sc.Args {
			k.num(15, uint64(a.Index))
			k.num(16, a.Value)
			k.num(17, a.ValueTwo)
			k.str(18, string(a.Op))
		}
	}
	k.flush()
	var sum [sha256.Size]byte
	k.h.Sum(sum[:0])
	return sum
}

// keyWriter builds Key's byte stream: a tag byte before each value, and
// strings as their length then their bytes. It hashes as it goes, through
// a small buffer: a profile such as Docker's is several kilobytes.
type keyWriter struct {
	h   hash.Hash
	buf [256]byte
	b   []byte
}

func (k *keyWriter) flush() {
	k.h.Write(k.b)
	k.b = k.buf[:0]
}

func (k *keyWriter) room(n int) {
	if k.b == nil {
		k.b = k.buf[:0]
	}
	if len(k.b)+n > cap(k.b) {
		k.flush()
	}
}

func (k *keyWriter) num(tag byte, v uint64) {
	k.room(9)
	k.b = binary.LittleEndian.AppendUint64(append(k.b, tag), v)
}

func (k *keyWriter) str(tag byte, s string) {
	k.num(tag, uint64(len(s)))
	if len(s) > cap(k.b)/2 {
		k.flush()
		k.h.Write([]byte(s))
		return
	}
	k.room(len(s))
	k.b = append(k.b, s...)
}

// optUint writes a *uint: absent and zero are different profiles.
func (k *keyWriter) optUint(tag byte, p *uint) {
	k.room(10)
	if p == nil {
		k.b = append(k.b, tag, 0)
		return
	}
	k.b = append(k.b, tag, 1)
	k.b = binary.LittleEndian.AppendUint64(k.b, uint64(*p))
}
