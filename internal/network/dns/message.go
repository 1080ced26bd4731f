package dns

import (
	"encoding/binary"
	"net/netip"
	"strings"
)

// DNS record types and classes we answer.
const (
	typeA    = 1
	typeAAAA = 28
	typeANY  = 255
	classIN  = 1
)

// ttl of our answers: containers come and go, but a name's address is
// stable while its container runs (as Docker's 600 s).
const ttl = 600

// question is a query's (first) question.
type question struct {
	name   string // lowercase, without the trailing dot
	qtype  uint16
	qclass uint16
	end    int // offset just past the question in the message
}

// parseQuery parses a standard query with one question; ok is false for
// anything else (which is forwarded or dropped, never answered by us).
func parseQuery(b []byte) (question, bool) {
	var q question
	if len(b) < 12 {
		return q, false
	}
	flags := binary.BigEndian.Uint16(b[2:])
	if flags&0x8000 != 0 || (flags>>11)&0xf != 0 || binary.BigEndian.Uint16(b[4:]) != 1 {
		return q, false // a response, not QUERY, or not one question
	}
	var labels []string
	i := 12
	for {
		if i >= len(b) {
			return q, false
		}
		n := int(b[i])
		i++
		if n == 0 {
			break
		}
		if n&0xc0 != 0 || i+n > len(b) {
			return q, false // compression in a question: not from a stub resolver
		}
		labels = append(labels, strings.ToLower(string(b[i:i+n])))
		i += n
	}
	if i+4 > len(b) {
		return q, false
	}
	q.name = strings.Join(labels, ".")
	q.qtype = binary.BigEndian.Uint16(b[i:])
	q.qclass = binary.BigEndian.Uint16(b[i+2:])
	q.end = i + 4
	return q, true
}

// answer builds the response to query (whose question is q) carrying
// addrs of the type asked for (none: an empty NOERROR answer, as for a
// name that has no address of that family).
func answer(query []byte, q question, addrs []netip.Addr) []byte {
	out := make([]byte, 0, q.end+len(addrs)*28)
	out = append(out, query[:q.end]...)
	flags := binary.BigEndian.Uint16(query[2:])
	flags = 0x8000 | 0x0400 | 0x0080 | flags&0x0100 // QR, AA, RA, the query's RD
	binary.BigEndian.PutUint16(out[2:], flags)
	binary.BigEndian.PutUint16(out[4:], 1)
	binary.BigEndian.PutUint16(out[8:], 0)  // NSCOUNT
	binary.BigEndian.PutUint16(out[10:], 0) // ARCOUNT: any EDNS record is dropped
	n := 0
	for _, a := range addrs {
		typ := uint16(typeA)
		if a.Is6() {
			typ = typeAAAA
		}
		if q.qtype != typ && q.qtype != typeANY {
			continue
		}
		out = append(out, 0xc0, 12) // the name: a pointer to the question's
		out = binary.BigEndian.AppendUint16(out, typ)
		out = binary.BigEndian.AppendUint16(out, classIN)
		out = binary.BigEndian.AppendUint32(out, ttl)
		raw := a.AsSlice()
		out = binary.BigEndian.AppendUint16(out, uint16(len(raw)))
		out = append(out, raw...)
		n++
	}
	binary.BigEndian.PutUint16(out[6:], uint16(n))
	return out
}

// servfail builds a SERVFAIL response to query (no upstream answered).
func servfail(query []byte, q question) []byte {
	out := answer(query, q, nil)
	out[3] = out[3]&0xf0 | 2
	return out
}
