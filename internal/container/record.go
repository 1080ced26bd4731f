package container

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/pelagos-go/pelagos/internal/cgroups"
	"github.com/pelagos-go/pelagos/internal/jsondec"
)

// state.json is read by every command (start, kill, delete, state) and
// written several times by create: it is encoded and decoded here by hand,
// in the JSON encoding/json gives the record's tags, so that no command
// pays encoding/json's first-use cost for it (see package jsondec). The
// rarely present parts (hooks, a systemd scope) still go through
// encoding/json. A test holds both directions to encoding/json.

// marshal encodes r as json.Marshal would.
func (r *record) marshal() ([]byte, error) {
	b := make([]byte, 0, 512)
	b = append(b, `{"id":`...)
	b = appendString(b, r.ID)
	b = append(b, `,"bundle":`...)
	b = appendString(b, r.Bundle)
	b = append(b, `,"rootfs":`...)
	b = appendString(b, r.Rootfs)
	b = append(b, `,"status":`...)
	b = appendString(b, string(r.Status))
	if r.Pid != 0 {
		b = strconv.AppendInt(append(b, `,"pid":`...), int64(r.Pid), 10)
	}
	if r.PidStart != 0 {
		b = strconv.AppendUint(append(b, `,"pidStart":`...), r.PidStart, 10)
	}
	if r.InitExe != nil {
		b = strconv.AppendUint(append(b, `,"initExe":{"dev":`...), r.InitExe.Dev, 10)
		b = strconv.AppendUint(append(b, `,"ino":`...), r.InitExe.Ino, 10)
		b = append(b, '}')
	}
	created, err := r.Created.MarshalJSON()
	if err != nil {
		return nil, err
	}
	b = append(append(b, `,"created":`...), created...)
	if r.Owner != "" {
		b = appendString(append(b, `,"owner":`...), r.Owner)
	}
	if r.Creator != 0 {
		b = strconv.AppendInt(append(b, `,"creator":`...), int64(r.Creator), 10)
	}
	if r.CreatorStart != 0 {
		b = strconv.AppendUint(append(b, `,"creatorStart":`...), r.CreatorStart, 10)
	}
	b = appendString(append(b, `,"ociVersion":`...), r.Version)
	if len(r.Annotations) > 0 {
		b = appendStringMap(append(b, `,"annotations":`...), r.Annotations)
	}
	if r.Hooks != nil {
		h, err := json.Marshal(r.Hooks)
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"hooks":`...), h...)
	}
	if r.HostMounts {
		b = append(b, `,"hostMounts":true`...)
	}
	if r.Cgroup != nil {
		if b, err = appendCgroup(append(b, `,"cgroup":`...), r.Cgroup); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func appendCgroup(b []byte, s *cgroups.State) ([]byte, error) {
	b = strconv.AppendInt(append(b, `{"mode":`...), int64(s.Mode), 10)
	b = append(b, `,"paths":`...)
	if s.Paths == nil {
		b = append(b, "null"...)
	} else {
		b = appendStringMap(b, s.Paths)
	}
	if len(s.Mounts) > 0 {
		b = appendStringMap(append(b, `,"mounts":`...), s.Mounts)
	}
	if len(s.Created) > 0 {
		b = append(b, `,"created":[`...)
		for i, c := range s.Created {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, c)
		}
		b = append(b, ']')
	}
	if s.Scope != nil {
		sc, err := json.Marshal(s.Scope)
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"scope":`...), sc...)
	}
	if s.ScopeStarted {
		b = append(b, `,"scopeStarted":true`...)
	}
	return append(b, '}'), nil
}

// appendStringMap encodes m with its keys sorted, as encoding/json does.
func appendStringMap(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendString(b, k), ':')
		b = appendString(b, m[k])
	}
	return append(b, '}')
}

// appendString encodes s as a JSON string. Like encoding/json it replaces
// invalid UTF-8 with U+FFFD and escapes control characters, <, > and &
// (and U+2028, U+2029), so the bytes are the same as json.Marshal's.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}

// unmarshalRecord decodes state.json into r as json.Unmarshal would.
func unmarshalRecord(b []byte, r *record) error {
	d, err := jsondec.New(b)
	if err != nil {
		return err
	}
	return d.Fields("record", func(k string) (bool, error) {
		switch k {
		case "id":
			return true, jsondec.String(d, &r.ID)
		case "bundle":
			return true, jsondec.String(d, &r.Bundle)
		case "rootfs":
			return true, jsondec.String(d, &r.Rootfs)
		case "status":
			return true, jsondec.String(d, &r.Status)
		case "pid":
			return true, jsondec.Int(d, &r.Pid)
		case "pidstart":
			return true, jsondec.Uint(d, &r.PidStart)
		case "initexe":
			return true, jsondec.Ptr(d, &r.InitExe, decodeFileID)
		case "created":
			return true, jsondec.Std(d, &r.Created)
		case "owner":
			return true, jsondec.String(d, &r.Owner)
		case "creator":
			return true, jsondec.Int(d, &r.Creator)
		case "creatorstart":
			return true, jsondec.Uint(d, &r.CreatorStart)
		case "ociversion":
			return true, jsondec.String(d, &r.Version)
		case "annotations":
			return true, jsondec.Map(d, &r.Annotations, jsondec.String)
		case "hooks":
			return true, jsondec.Std(d, &r.Hooks)
		case "hostmounts":
			return true, jsondec.Bool(d, &r.HostMounts)
		case "cgroup":
			return true, jsondec.Ptr(d, &r.Cgroup, decodeCgroup)
		}
		return false, nil
	})
}

func decodeFileID(d *jsondec.Decoder, f *FileID) error {
	return d.Fields("FileID", func(k string) (bool, error) {
		switch k {
		case "dev":
			return true, jsondec.Uint(d, &f.Dev)
		case "ino":
			return true, jsondec.Uint(d, &f.Ino)
		}
		return false, nil
	})
}

func decodeCgroup(d *jsondec.Decoder, s *cgroups.State) error {
	return d.Fields("State", func(k string) (bool, error) {
		switch k {
		case "mode":
			return true, jsondec.Int(d, &s.Mode)
		case "paths":
			return true, jsondec.Map(d, &s.Paths, jsondec.String)
		case "mounts":
			return true, jsondec.Map(d, &s.Mounts, jsondec.String)
		case "created":
			return true, jsondec.Slice(d, &s.Created, jsondec.String)
		case "scope":
			return true, jsondec.Std(d, &s.Scope)
		case "scopestarted":
			return true, jsondec.Bool(d, &s.ScopeStarted)
		}
		return false, nil
	})
}
