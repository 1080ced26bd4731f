package initproc

import (
	"encoding/json"

	"github.com/pelagos-go/pelagos/internal/jsondec"
	"github.com/pelagos-go/pelagos/internal/jsonenc"
)

// Messages are coded by hand, with encoding/json's bytes and rules, so
// that a runtime sending "start" or reading "ready" pays no encoding/json
// first-use cost: its first Marshal of a Message would build the tables
// of Bootstrap and the runtime-spec types it reaches. The bootstrap
// itself, sent once to the Go init, still goes through encoding/json.

// marshal encodes m as json.Marshal does.
func (m *Message) marshal() ([]byte, error) {
	b := jsonenc.String(append(make([]byte, 0, 64), `{"type":`...), m.Type)
	if m.Step != "" {
		b = jsonenc.String(append(b, `,"step":`...), m.Step)
	}
	if m.Error != "" {
		b = jsonenc.String(append(b, `,"error":`...), m.Error)
	}
	if m.Bootstrap != nil {
		bs, err := json.Marshal(m.Bootstrap)
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"bootstrap":`...), bs...)
	}
	if m.Pid != 0 {
		b = jsonenc.Int(append(b, `,"pid":`...), m.Pid)
	}
	if m.Index != 0 {
		b = jsonenc.Int(append(b, `,"index":`...), m.Index)
	}
	return append(b, '}'), nil
}

// unmarshalMessage decodes b into m as json.Unmarshal does.
func unmarshalMessage(b []byte, m *Message) error {
	d, err := jsondec.NewValue(b)
	if err != nil {
		return err
	}
	return d.Fields("Message", func(k string) (bool, error) {
		switch k {
		case "type":
			return true, jsondec.String(d, &m.Type)
		case "step":
			return true, jsondec.String(d, &m.Step)
		case "error":
			return true, jsondec.String(d, &m.Error)
		case "bootstrap":
			return true, jsondec.Std(d, &m.Bootstrap)
		case "pid":
			return true, jsondec.Int(d, &m.Pid)
		case "index":
			return true, jsondec.Int(d, &m.Index)
		}
		return false, nil
	})
}
