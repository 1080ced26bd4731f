package spec

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// decoder walks one JSON value that encoding/json has already checked for
// syntax, storing what it finds through hand-written functions, one per
// type. It exists because encoding/json's first decode of a type builds
// reflection tables for that type and every type it reaches (the whole
// runtime-spec, Windows and Solaris included): 2-3 ms and ~140 page faults
// in every short-lived runtime process, for a 0.1 ms job.
//
// It stores values the way encoding/json does, so that the two agree on
// every input (a differential test and a fuzz test hold it to that): keys
// match field names exactly or case-folded, unknown keys are ignored, null
// clears pointers, slices and maps and leaves other values alone, a
// repeated key decodes into what the first one left, numbers must fit
// their field, and a value of the wrong kind is an error.
type decoder struct {
	b []byte
	i int
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

func (d *decoder) ws() {
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
func (d *decoder) next() byte {
	d.ws()
	return d.b[d.i]
}

// mismatch skips the value at the cursor and reports that it cannot be
// stored in a value of type typ.
func (d *decoder) mismatch(typ string) error {
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
func (d *decoder) null() bool {
	if d.next() == 'n' {
		d.i += len("null")
		return true
	}
	return false
}

// skip passes over the value at the cursor.
func (d *decoder) skip() {
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
func (d *decoder) skipString() (raw []byte, escaped bool) {
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
func (d *decoder) str() string {
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
func (d *decoder) object(typ string, field func(key string) error) error {
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

// fields is object for a struct: keys are matched as encoding/json
// matches them, exactly or case-folded, by passing field the folded key.
// Unknown keys are skipped.
func (d *decoder) fields(typ string, field func(folded string) (bool, error)) error {
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

// strOf stores a string (of any string type); null leaves it alone.
func strOf[T ~string](d *decoder, p *T) error {
	if d.null() {
		return nil
	}
	if d.next() != '"' {
		return d.mismatch(fmt.Sprintf("%T", *p))
	}
	*p = T(d.str())
	return nil
}

// boolean stores true or false; null leaves it alone.
func boolean(d *decoder, p *bool) error {
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
func (d *decoder) number() []byte {
	c := d.next()
	if c != '-' && (c < '0' || c > '9') {
		return nil
	}
	start := d.i
	d.skip()
	return d.b[start:d.i]
}

// intOf stores an integer that must fit T; null leaves it alone.
func intOf[T ~int | ~int32 | ~int64](d *decoder, p *T) error {
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

// uintOf stores an unsigned integer that must fit T; null leaves it alone.
func uintOf[T ~uint | ~uint16 | ~uint32 | ~uint64](d *decoder, p *T) error {
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

// ptr stores into *p, allocating it if nil (and reusing it if not, as
// encoding/json does); null sets it to nil.
func ptr[T any](d *decoder, p **T, elem func(*decoder, *T) error) error {
	if d.null() {
		*p = nil
		return nil
	}
	if *p == nil {
		*p = new(T)
	}
	return elem(d, *p)
}

// slice stores an array. Like encoding/json it decodes into the elements
// already there (a repeated key), grows with append's policy, truncates
// to the array's length, and makes an empty array a non-nil empty slice;
// null sets the slice to nil.
func slice[T any](d *decoder, p *[]T, elem func(*decoder, *T) error) error {
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

// mapOf stores an object's entries in a map, making it if nil; each value
// is decoded from zero and replaces the entry (null stores the zero
// value). Null sets the map to nil.
func mapOf[T any](d *decoder, p *map[string]T, elem func(*decoder, *T) error) error {
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

// viaJSON stores the value at the cursor with encoding/json, for the parts
// of a config a Linux runtime never reads (other platforms' sections):
// they are decoded exactly, at encoding/json's price, only when present.
func viaJSON[T any](d *decoder, p *T) error {
	start := d.i
	d.skip()
	d.ws()
	if err := json.Unmarshal(d.b[start:d.i], p); err != nil {
		return &typeError{msg: err.Error()}
	}
	return nil
}
