package container

import (
	"encoding/json"
	"strconv"

	"github.com/pelagos-go/pelagos/internal/cgroups"
	"github.com/pelagos-go/pelagos/internal/jsondec"
	"github.com/pelagos-go/pelagos/internal/jsonenc"
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
	b = jsonenc.String(b, r.ID)
	b = append(b, `,"bundle":`...)
	b = jsonenc.String(b, r.Bundle)
	b = append(b, `,"rootfs":`...)
	b = jsonenc.String(b, r.Rootfs)
	b = append(b, `,"status":`...)
	b = jsonenc.String(b, string(r.Status))
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
		b = jsonenc.String(append(b, `,"owner":`...), r.Owner)
	}
	if r.Creator != 0 {
		b = strconv.AppendInt(append(b, `,"creator":`...), int64(r.Creator), 10)
	}
	if r.CreatorStart != 0 {
		b = strconv.AppendUint(append(b, `,"creatorStart":`...), r.CreatorStart, 10)
	}
	b = jsonenc.String(append(b, `,"ociVersion":`...), r.Version)
	if len(r.Annotations) > 0 {
		b = jsonenc.StringMap(append(b, `,"annotations":`...), r.Annotations)
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
	b = jsonenc.StringMap(b, s.Paths)
	if len(s.Mounts) > 0 {
		b = jsonenc.StringMap(append(b, `,"mounts":`...), s.Mounts)
	}
	if len(s.Created) > 0 {
		b = jsonenc.Strings(append(b, `,"created":`...), s.Created)
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
			return true, jsondec.Time(d, &r.Created)
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
