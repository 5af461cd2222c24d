package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/herald-eventing/herald/eventing"
)

// Subscription records are stored in a compact binary form, so that a
// start decodes a million of them in a fraction of what JSON took (issue
// 12: loading 1,000,000 took 59.5 s). Records written as JSON by earlier
// versions (they begin with '{') are still read.
//
// The form: subRecordV1, then every field of eventing.Subscription in
// declaration order: strings as a uvarint length and the bytes, times as
// a presence byte, then Unix seconds (varint) and nanoseconds (uvarint),
// Start as a uvarint,
// and the filter as a presence byte, its dialect and expression, and its
// namespace bindings (a count, then prefix and URI, sorted by prefix).
// TestSubscriptionCodec_EveryField fails when Subscription gains a field
// this codec does not know.
const subRecordV1 = 0x01

var errCorruptSub = errors.New("store: corrupt subscription record")

// encodeSub returns s's record.
func encodeSub(s *eventing.Subscription) []byte {
	n := 64 + len(s.ID) + len(s.Processor) + len(s.Message) + len(s.Secret) + len(s.EndTo) + len(s.Manager) +
		len(s.AddressingNS) + len(s.EventingNS) + len(s.Key) + len(s.Owner)
	if s.Filter != nil {
		n += len(s.Filter.Dialect) + len(s.Filter.Expression)
	}
	b := make([]byte, 0, n)
	b = append(b, subRecordV1)
	str := func(v string) {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	tm := func(t time.Time) {
		// Seconds and nanoseconds apart: Unix nanoseconds overflow after
		// 2262, and a lease may end in 9999 (--max-lease 0).
		if t.IsZero() {
			b = append(b, 0)
			return
		}
		b = append(b, 1)
		b = binary.AppendVarint(b, t.Unix())
		b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
	}
	str(s.ID)
	str(s.Processor)
	str(s.Message)
	str(s.Secret)
	if f := s.Filter; f == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		str(f.Dialect)
		str(f.Expression)
		b = binary.AppendUvarint(b, uint64(len(f.Namespaces)))
		for _, k := range slices.Sorted(maps.Keys(f.Namespaces)) {
			str(k)
			str(f.Namespaces[k])
		}
	}
	str(s.EndTo)
	str(s.Manager)
	str(s.AddressingNS)
	str(s.EventingNS)
	tm(s.Expires)
	tm(s.Created)
	b = binary.AppendUvarint(b, s.Start)
	str(s.Key)
	str(s.Owner)
	return b
}

// An interner shares the strings that many subscriptions repeat
// (processor names, the manager address, dialects, owners).
type interner map[string]string

func (in interner) get(b []byte) string {
	if in == nil {
		return string(b)
	}
	if s, ok := in[string(b)]; ok {
		return s
	}
	if len(in) >= 4096 {
		return string(b) // not a repeated value after all
	}
	s := string(b)
	in[s] = s
	return s
}

// decodeSub decodes a record (binary or legacy JSON). The record's bytes
// belong to bbolt: every string is copied on its own, so that a caller may
// drop one (the dispatcher drops Message, the bulk), and in, when not nil,
// shares the repeated ones between records.
func decodeSub(v []byte, in interner) (*eventing.Subscription, error) {
	if len(v) > 0 && v[0] == '{' {
		var s eventing.Subscription
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, err
		}
		return &s, nil
	}
	if len(v) == 0 || v[0] != subRecordV1 {
		return nil, errCorruptSub
	}
	d := subDecoder{b: v[1:]}
	s := &eventing.Subscription{}
	s.ID = d.str()
	s.Processor = d.shared(in)
	s.Message = d.str()
	s.Secret = d.str()
	if d.byte() == 1 {
		f := &eventing.FilterSpec{Dialect: d.shared(in)}
		f.Expression = d.str()
		if n := d.uvarint(); n > 0 && n < uint64(len(d.b)) {
			f.Namespaces = make(map[string]string, n)
			for range n {
				k := d.shared(in)
				f.Namespaces[k] = d.shared(in)
			}
		}
		s.Filter = f
	}
	s.EndTo = d.str()
	s.Manager = d.shared(in)
	s.AddressingNS = d.shared(in)
	s.EventingNS = d.shared(in)
	s.Expires = d.time()
	s.Created = d.time()
	s.Start = d.uvarint()
	s.Key = d.str()
	s.Owner = d.shared(in)
	if d.bad {
		return nil, errCorruptSub
	}
	return s, nil
}

// subDecoder reads the fields of a record from b (bbolt's bytes).
type subDecoder struct {
	b   []byte
	bad bool
}

func (d *subDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *subDecoder) byte() byte {
	if len(d.b) == 0 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// raw returns the next length-prefixed bytes.
func (d *subDecoder) raw() []byte {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.b)) {
		d.bad = true
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// str returns a copy of the next string.
func (d *subDecoder) str() string {
	return string(d.raw())
}

func (d *subDecoder) shared(in interner) string {
	v := d.raw()
	if len(v) == 0 {
		return ""
	}
	return in.get(v)
}

func (d *subDecoder) time() time.Time {
	if d.byte() == 0 {
		return time.Time{}
	}
	sec, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		return time.Time{}
	}
	d.b = d.b[n:]
	ns := d.uvarint()
	if ns >= 1e9 {
		d.bad = true
		return time.Time{}
	}
	return time.Unix(sec, int64(ns)).UTC()
}
