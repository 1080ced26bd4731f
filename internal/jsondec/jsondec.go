// Package jsondec decodes JSON into known Go types through hand-written
// functions, one per type, without encoding/json's cost on first use: its
// first decode of a type builds reflection tables for that type and every
// type it reaches (for the runtime-spec, Windows and Solaris included),
// 2-3 ms and ~100 page faults in every short-lived runtime process, for a
// 0.1 ms job.
//
// Values are stored the way encoding/json stores them, so that the two
// agree on every input: keys match field names exactly or case-folded,
// unknown keys are ignored, null clears pointers, slices and maps and
// leaves other values alone, a repeated key decodes into what the first
// one left, numbers must fit their field, and a value of the wrong kind is
// an error. Callers hold their decoders to encoding/json with
// differential and fuzz tests.
//
// It does not check syntax: New has encoding/json do that first.
package jsondec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// Decoder walks one JSON value whose syntax encoding/json has checked.
type Decoder struct {
	b []byte
	i int
}

// New checks that b holds one JSON value, as encoding/json's Decoder
// reads one (a syntax error is refused, and so is trailing data other than
// white space or a closing bracket, which that Decoder lets pass), and
// returns a Decoder positioned at it. json.Valid and RawMessage cost
// encoding/json no reflection tables; the Decoder runs only for input
// that is not one valid value, to refuse it or to find where it ends.
func New(b []byte) (*Decoder, error) {
	if json.Valid(b) {
		return &Decoder{b: b}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON value")
	}
	return &Decoder{b: raw}, nil
}

// NewValue is New for input that json.Unmarshal would read, not a
// Decoder: anything but exactly one JSON value (trailing data included)
// is refused with json.Unmarshal's error, which it reports before it
// looks at the type it decodes into.
func NewValue(b []byte) (*Decoder, error) {
	if json.Valid(b) {
		return &Decoder{b: b}, nil
	}
	var v any
	return nil, json.Unmarshal(b, &v)
}

// typeError reports a JSON value of the wrong kind (or out of range) for
// the Go type it is stored in; path, the field it is in, is filled in on
// the way out.
type typeError struct {
	path string
	msg  string
}

func (e *typeError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return e.path + ": " + e.msg
}

// wrongValue is the typeError of a value (described as "string", "number
// 1.5" ...) that is no valid typ.
func wrongValue(value, typ string) *typeError {
	return &typeError{msg: value + " is not a valid " + typ}
}

// at prefixes the error's path with elem, an object key or an index.
func at(err error, elem string) error {
	if te, ok := err.(*typeError); ok {
		if te.path == "" || te.path[0] == '[' {
			te.path = elem + te.path
		} else {
			te.path = elem + "." + te.path
		}
	}
	return err
}

func (d *Decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// next returns the first byte of the value at the cursor.
func (d *Decoder) next() byte {
	d.ws()
	return d.b[d.i]
}

// mismatch skips the value at the cursor and reports that it cannot be
// stored in a value of type typ.
func (d *Decoder) mismatch(typ string) error {
	start := d.i
	d.skip()
	what := "object"
	switch c := d.b[start]; {
	case c == '[':
		what = "array"
	case c == '"':
		what = "string"
	case c == 't' || c == 'f':
		what = "bool"
	case c == '-' || c >= '0' && c <= '9':
		what = "number " + string(d.b[start:d.i])
	}
	return wrongValue(what, typ)
}

// null consumes a null literal if the value at the cursor is one.
func (d *Decoder) null() bool {
	if d.next() == 'n' {
		d.i += len("null")
		return true
	}
	return false
}

// skip passes over the value at the cursor.
func (d *Decoder) skip() {
	switch d.next() {
	case '{', '[':
		depth := 0
		for {
			switch d.b[d.i] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			case '"':
				d.skipString()
				if depth == 0 {
					return
				}
				continue
			}
			d.i++
			if depth == 0 {
				return
			}
		}
	case '"':
		d.skipString()
	default:
		for d.i < len(d.b) {
			switch d.b[d.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return
			}
			d.i++
		}
	}
}

// skipString passes over a string and returns its contents, quotes
// excluded, and whether it holds an escape.
func (d *Decoder) skipString() (raw []byte, escaped bool) {
	start := d.i + 1
	d.i = start
	for {
		switch d.b[d.i] {
		case '\\':
			escaped = true
			d.i += 2
			continue
		case '"':
			d.i++
			return d.b[start : d.i-1], escaped
		}
		d.i++
	}
}

// str reads the string at the cursor. Strings without escapes and with
// valid UTF-8 (nearly all) are copied as they are; the others go through
// encoding/json, which replaces invalid UTF-8 as it always does.
func (d *Decoder) str() string {
	start := d.i
	raw, escaped := d.skipString()
	if !escaped && utf8.Valid(raw) {
		return string(raw)
	}
	var s string
	_ = json.Unmarshal(d.b[start:d.i], &s) // syntax was checked
	return s
}

// object calls field with each key of the object at the cursor, positioned
// at its value; field must consume the value. A null is no object and no
// error, as for encoding/json storing null in a struct.
func (d *Decoder) object(typ string, field func(key string) error) error {
	if d.null() {
		return nil
	}
	if d.next() != '{' {
		return d.mismatch(typ)
	}
	d.i++
	for {
		if d.next() == '}' {
			d.i++
			return nil
		}
		key := d.str()
		d.ws()
		d.i++ // ':'
		if err := field(key); err != nil {
			return at(err, key)
		}
		if d.next() == ',' {
			d.i++
		}
	}
}

// Fields is object for a struct: keys are matched as encoding/json
// matches them, exactly or case-folded, by passing field the folded key.
// Unknown keys are skipped.
func (d *Decoder) Fields(typ string, field func(folded string) (bool, error)) error {
	return d.object(typ, func(key string) error {
		known, err := field(fold(key))
		if err == nil && !known {
			d.skip()
		}
		return err
	})
}

// fold folds a key so that it equals the lower-case ASCII name of a field
// exactly when encoding/json's case folding would match the two: every
// rune maps to the smallest rune of its case-folding orbit (so the Kelvin
// sign matches "k" and "ſ" matches "s"), then ASCII letters go to lower
// case, the form the field names are written in.
func fold(key string) string {
	ascii := true
	for i := 0; i < len(key); i++ {
		if c := key[i]; c >= utf8.RuneSelf || c >= 'A' && c <= 'Z' {
			ascii = false
			break
		}
	}
	if ascii {
		return key
	}
	out := make([]byte, 0, len(key))
	for i := 0; i < len(key); {
		r, n := utf8.DecodeRuneInString(key[i:])
		i += n
		if r >= utf8.RuneSelf {
			r = foldRune(r)
		}
		if r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		out = utf8.AppendRune(out, r)
	}
	return string(out)
}

// foldRune returns the smallest rune of r's case-folding orbit.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// String stores a string (of any string type); null leaves it alone.
func String[T ~string](d *Decoder, p *T) error {
	if d.null() {
		return nil
	}
	if d.next() != '"' {
		return d.mismatch(fmt.Sprintf("%T", *p))
	}
	*p = T(d.str())
	return nil
}

// Bool stores true or false; null leaves it alone.
func Bool(d *Decoder, p *bool) error {
	if d.null() {
		return nil
	}
	switch d.next() {
	case 't':
		*p = true
		d.i += len("true")
	case 'f':
		*p = false
		d.i += len("false")
	default:
		return d.mismatch("bool")
	}
	return nil
}

// number returns the literal of the number at the cursor, or nil (the
// value skipped) if the value is no number.
func (d *Decoder) number() []byte {
	c := d.next()
	if c != '-' && (c < '0' || c > '9') {
		return nil
	}
	start := d.i
	d.skip()
	return d.b[start:d.i]
}

// Int stores an integer that must fit T; null leaves it alone.
func Int[T ~int | ~int32 | ~int64](d *Decoder, p *T) error {
	if d.null() {
		return nil
	}
	lit := d.number()
	if lit == nil {
		return d.mismatch(fmt.Sprintf("%T", *p))
	}
	n, err := strconv.ParseInt(string(lit), 10, 64)
	if err != nil || int64(T(n)) != n {
		return wrongValue("number "+string(lit), fmt.Sprintf("%T", *p))
	}
	*p = T(n)
	return nil
}

// Uint stores an unsigned integer that must fit T; null leaves it alone.
func Uint[T ~uint | ~uint16 | ~uint32 | ~uint64](d *Decoder, p *T) error {
	if d.null() {
		return nil
	}
	lit := d.number()
	if lit == nil {
		return d.mismatch(fmt.Sprintf("%T", *p))
	}
	n, err := strconv.ParseUint(string(lit), 10, 64)
	if err != nil || uint64(T(n)) != n {
		return wrongValue("number "+string(lit), fmt.Sprintf("%T", *p))
	}
	*p = T(n)
	return nil
}

// Ptr stores into *p, allocating it if nil (and reusing it if not, as
// encoding/json does); null sets it to nil.
func Ptr[T any](d *Decoder, p **T, elem func(*Decoder, *T) error) error {
	if d.null() {
		*p = nil
		return nil
	}
	if *p == nil {
		*p = new(T)
	}
	return elem(d, *p)
}

// Slice stores an array. Like encoding/json it decodes into the elements
// already there (a repeated key), grows with append's policy, truncates
// to the array's length, and makes an empty array a non-nil empty slice;
// null sets the slice to nil.
func Slice[T any](d *Decoder, p *[]T, elem func(*Decoder, *T) error) error {
	if d.null() {
		*p = nil
		return nil
	}
	if d.next() != '[' {
		return d.mismatch(fmt.Sprintf("%T", *p))
	}
	d.i++
	s := *p
	i := 0
	for d.next() != ']' {
		if i >= cap(s) {
			s = append(s[:cap(s)], *new(T))[:i]
		}
		s = s[:max(len(s), i+1)]
		if err := elem(d, &s[i]); err != nil {
			return at(err, "["+strconv.Itoa(i)+"]")
		}
		i++
		if d.next() == ',' {
			d.i++
		}
	}
	d.i++
	if i == 0 {
		s = []T{}
	}
	*p = s[:i]
	return nil
}

// Map stores an object's entries in a map, making it if nil; each value
// is decoded from zero and replaces the entry (null stores the zero
// value). Null sets the map to nil.
func Map[T any](d *Decoder, p *map[string]T, elem func(*Decoder, *T) error) error {
	if d.null() {
		*p = nil
		return nil
	}
	if d.next() != '{' {
		return d.mismatch(fmt.Sprintf("%T", *p))
	}
	if *p == nil {
		*p = map[string]T{}
	}
	m := *p
	return d.object("", func(key string) error {
		var v T
		if err := elem(d, &v); err != nil {
			return err
		}
		m[key] = v
		return nil
	})
}

// Std stores the value at the cursor with encoding/json, for parts that
// are rarely present (a config's other platforms' sections): they are
// decoded exactly, at encoding/json's price, only when present.
func Std[T any](d *Decoder, p *T) error {
	start := d.i
	d.skip()
	d.ws()
	if err := json.Unmarshal(d.b[start:d.i], p); err != nil {
		return &typeError{msg: err.Error()}
	}
	return nil
}

// Time stores a time as encoding/json does, through the time's own
// UnmarshalJSON (which costs no reflection tables): null leaves it alone,
// anything but an RFC 3339 string is an error.
func Time(d *Decoder, t *time.Time) error {
	d.ws()
	start := d.i
	d.skip()
	if err := t.UnmarshalJSON(d.b[start:d.i]); err != nil {
		return &typeError{msg: err.Error()}
	}
	return nil
}
