// Package jsonenc appends JSON to byte slices through hand-written
// functions, one per type, without encoding/json's cost on first use: its
// first Marshal of a type builds reflection tables for that type and every
// type it reaches, a cost each short-lived pelagos process pays again
// (see package jsondec for the decoding side).
//
// What it writes is byte for byte what json.Marshal writes for the same
// value: strings escaped as encoding/json escapes them (HTML characters
// and U+2028/U+2029 included, invalid UTF-8 replaced), map keys sorted,
// nil slices and maps as null. Callers write one function per type, in
// field order, with encoding/json's omitempty rules, and hold it to
// json.Marshal with differential and fuzz tests.
//
// It links no encoding/json and no reflect: the per-container monitor,
// which must stay small, writes its logs with it.
//
// An object is written with its fields each preceded by a comma: Start
// notes where it begins and End turns the first comma into the opening
// brace, so that omitted fields need no bookkeeping.
package jsonenc

import (
	"errors"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Start returns the position an object written from here begins at, for
// End.
func Start(b []byte) int { return len(b) }

// End closes the object begun at start, whose fields were appended each
// with a leading comma (`,"name":value`).
func End(b []byte, start int) []byte {
	if len(b) == start {
		return append(b, "{}"...)
	}
	b[start] = '{'
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// String appends s as a JSON string. Like encoding/json it replaces
// invalid UTF-8 with U+FFFD and escapes control characters, <, > and &
// (and U+2028, U+2029), so the bytes are the same as json.Marshal's.
func String[T ~string](b []byte, s T) []byte {
	return append(AppendEscaped(append(b, '"'), s), '"')
}

// AppendEscaped appends the inside of the JSON string of s (a string or
// bytes), escaped as String escapes it.
func AppendEscaped[T ~string | ~[]byte](b []byte, s T) []byte {
	for i := 0; i < len(s); {
		if start := i; plain[s[i]] {
			for i < len(s) && plain[s[i]] {
				i++
			}
			b = append(b, s[start:i]...) // a run that needs no escaping
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			b = appendASCII(b, c)
			i++
			continue
		}
		r, n := decodeRune(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return b
}

// decodeRune decodes the rune s begins with. The conversion of at most
// 4 bytes does not escape, so the compiler makes it on the stack.
func decodeRune[T ~string | ~[]byte](s T) (rune, int) {
	return utf8.DecodeRuneInString(string(s[:min(len(s), utf8.UTFMax)]))
}

// plain holds the bytes a JSON string holds as they are: printable ASCII
// but for the quote, the backslash and the HTML characters.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendASCII appends one ASCII byte of a string, escaped.
func appendASCII(b []byte, c byte) []byte {
	switch {
	case c == '"' || c == '\\':
		return append(b, '\\', c)
	case c == '\b':
		return append(b, '\\', 'b')
	case c == '\f':
		return append(b, '\\', 'f')
	case c == '\n':
		return append(b, '\\', 'n')
	case c == '\r':
		return append(b, '\\', 'r')
	case c == '\t':
		return append(b, '\\', 't')
	case c < 0x20 || c == '<' || c == '>' || c == '&':
		return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
	}
	return append(b, c)
}

// Bool appends true or false.
func Bool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

// Int appends a signed integer.
func Int[T ~int | ~int8 | ~int16 | ~int32 | ~int64](b []byte, v T) []byte {
	return strconv.AppendInt(b, int64(v), 10)
}

// Uint appends an unsigned integer.
func Uint[T ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64](b []byte, v T) []byte {
	return strconv.AppendUint(b, uint64(v), 10)
}

// Ptr appends null for nil, else elem's encoding of *p.
func Ptr[T any](b []byte, p *T, elem func([]byte, *T) []byte) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	return elem(b, p)
}

// Slice appends s as an array (null when nil), each element by elem.
func Slice[T any](b []byte, s []T, elem func([]byte, *T) []byte) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = elem(b, &s[i])
	}
	return append(b, ']')
}

// Strings appends a slice of strings (of any string type), null when nil.
func Strings[T ~string](b []byte, s []T) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = String(b, v)
	}
	return append(b, ']')
}

// Map appends m as an object with its keys sorted, as encoding/json sorts
// them (null when nil), each value by elem.
func Map[K ~string, V any](b []byte, m map[K]V, elem func([]byte, *V) []byte) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(String(b, k), ':')
		v := m[k]
		b = elem(b, &v)
	}
	return append(b, '}')
}

// StringMap appends a map of strings, as Map.
func StringMap[K ~string, V ~string](b []byte, m map[K]V) []byte {
	return Map(b, m, func(b []byte, v *V) []byte { return String(b, *v) })
}

// Set appends a map whose values are empty structs (a set, as Docker's
// configs hold exposed ports and volumes), as Map.
func Set[K ~string](b []byte, m map[K]struct{}) []byte {
	return Map(b, m, func(b []byte, _ *struct{}) []byte { return append(b, "{}"...) })
}

// StringElem, BoolElem, IntElem and UintElem are String, Bool, Int and
// Uint in the form Ptr, Slice and Map take.
func StringElem[T ~string](b []byte, s *T) []byte { return String(b, *s) }

// BoolElem: see StringElem.
func BoolElem(b []byte, v *bool) []byte { return Bool(b, *v) }

// IntElem: see StringElem.
func IntElem[T ~int | ~int8 | ~int16 | ~int32 | ~int64](b []byte, v *T) []byte { return Int(b, *v) }

// UintElem: see StringElem.
func UintElem[T ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64](b []byte, v *T) []byte {
	return Uint(b, *v)
}

// Time appends t as encoding/json does (RFC 3339 with nanoseconds, t's
// own MarshalJSON, which costs no reflection tables). Like json.Marshal
// it fails for a year outside 0-9999: the first such error is kept in
// *err, so that a type's encoder can carry on and return it at the end.
func Time(b []byte, t time.Time, err *error) []byte {
	v, e := t.MarshalJSON()
	if e != nil {
		if *err == nil {
			// encoding/json's words, without linking it (see the package doc).
			*err = errors.New("json: error calling MarshalJSON for type time.Time: " + e.Error())
		}
		return append(b, "null"...)
	}
	return append(b, v...)
}
