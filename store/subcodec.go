package store

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/herald-eventing/herald/eventing"
)

// Subscription records are stored in a compact binary form, so that a
// start decodes a million of them in a fraction of what JSON took (issue
// 12: loading 1,000,000 took 59.5 s), and so that a subscription takes
// little of the file (and of the pages of it a process maps). Records of
// the earlier forms are still read: JSON (they begin with '{') and
// subRecordV1.
//
// The form (subRecordV2): the version byte, then every field of
// eventing.Subscription but ID (the record's key) in declaration order:
// strings as a uvarint of their stored length times 4 plus their form
// (strRaw, strPacked, strHex) and the stored bytes; times as a presence
// byte, then Unix seconds (varint) and nanoseconds (uvarint); Start as a
// uvarint; the filter as a presence byte, its dialect and expression, and
// its namespace bindings (a count, then prefix and URI, sorted by prefix).
// subRecordV1 is the same with ID first and every string raw, its length a
// plain uvarint. TestSubscriptionCodec_EveryField fails when Subscription
// gains a field this codec does not know.
const (
	subRecordV1 = 0x01
	subRecordV2 = 0x02
)

// The forms of a string in a subRecordV2 record.
const (
	strRaw    = 0 // the bytes as they are
	strPacked = 1 // packWords replaced by their codes (see packer)
	strHex    = 2 // lowercase hexadecimal, stored as the bytes it spells
)

// packWords are the strings that most records repeat (namespace URIs,
// dialects, the elements of a wse:Subscribe, the manager's path). A packed
// string has each replaced by one byte: a control character that XML 1.0
// forbids, so that only strings without such characters are packed (the
// others are stored raw), and unpacking is unambiguous. The list is part
// of the file format: entries may be added at the end (up to the 29 codes
// of packCodes), never changed or reordered. Where one entry begins
// another, the longer comes first (the packer takes the first that
// matches).
var packWords = []string{
	"http://herald-eventing.github.io/ns/2026/herald/dialects/topic",
	"http://herald-eventing.github.io/ns/2026/herald",
	"http://schemas.xmlsoap.org/ws/2004/08/eventing",
	"http://schemas.xmlsoap.org/ws/2004/08/addressing",
	"http://www.w3.org/2005/08/addressing",
	"http://www.w3.org/2011/03/ws-evt",
	"http://www.w3.org/TR/1999/REC-xpath-19991116",
	`<wse:Subscribe xmlns:wse="`,
	"</wse:Subscribe>",
	"<wse:Delivery",
	"</wse:Delivery>",
	"<wse:NotifyTo>",
	"</wse:NotifyTo>",
	"<wse:EndTo>",
	"</wse:EndTo>",
	"<wsa:Address",
	"</wsa:Address>",
	` xmlns:wsa="`,
	"/subscriptions",
	"http://",
	"https://",
}

// packCodes are the bytes that stand for packWords, in order: the C0
// controls but tab, line feed and carriage return.
var packCodes = func() []byte {
	var c []byte
	for b := byte(0); b < 0x20; b++ {
		if b != '\t' && b != '\n' && b != '\r' {
			c = append(c, b)
		}
	}
	return c
}()

var packer, unpacker = func() (*strings.Replacer, *strings.Replacer) {
	if len(packWords) > len(packCodes) {
		panic("store: more packWords than codes")
	}
	var p, u []string
	for i, w := range packWords {
		p = append(p, w, string(packCodes[i]))
		u = append(u, string(packCodes[i]), w)
	}
	return strings.NewReplacer(p...), strings.NewReplacer(u...)
}()

// appendPacked appends packer.Replace(v) to b without the string Replace
// allocates (two per record: a subscribe's share of garbage): at each
// place the first of packWords that begins there is replaced, in the
// order of the list, as a strings.Replacer of several strings does.
func appendPacked(b []byte, v string) []byte {
	for i := 0; i < len(v); {
		if w := packWordAt(v[i:]); w >= 0 {
			b = append(b, packCodes[w])
			i += len(packWords[w])
			continue
		}
		b = append(b, v[i])
		i++
	}
	return b
}

// packWordAt returns the index of the first of packWords that begins v,
// -1 if none does.
func packWordAt(v string) int {
	for _, w := range packByFirst[v[0]] {
		if word := packWords[w]; len(v) >= len(word) && v[:len(word)] == word {
			return int(w)
		}
	}
	return -1
}

// packByFirst lists, for each byte, the indexes of the packWords that
// begin with it, in their order (most bytes begin none). Read-only.
var packByFirst = func() (t [256][]uint8) {
	for w, word := range packWords {
		t[word[0]] = append(t[word[0]], uint8(w))
	}
	return t
}()

// packable reports whether v has none of the bytes packCodes uses.
func packable(v string) bool {
	for i := range len(v) {
		if c := v[i]; c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

// isHex reports whether v is lowercase hexadecimal of whole bytes (the
// identity keys are SHA-256 sums so written).
func isHex(v string) bool {
	if len(v) == 0 || len(v)%2 != 0 {
		return false
	}
	for i := range len(v) {
		if c := v[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

var errCorruptSub = errors.New("store: corrupt subscription record")

// subScratch holds the buffers records are encoded in before their copy
// of exact length (bbolt keeps the value it is given until the commit).
var subScratch = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// encodeSub returns s's record (subRecordV2), in a slice of its length.
func encodeSub(s *eventing.Subscription) []byte {
	p := subScratch.Get().(*[]byte)
	b := appendSub((*p)[:0], s)
	rec := append(make([]byte, 0, len(b)), b...)
	if cap(b) <= 64<<10 {
		*p = b[:0]
		subScratch.Put(p)
	}
	return rec
}

// appendSub appends s's record to b.
func appendSub(b []byte, s *eventing.Subscription) []byte {
	b = append(b, subRecordV2)
	field := func(form int, v string) {
		b = binary.AppendUvarint(b, uint64(len(v))<<2|uint64(form))
		b = append(b, v...)
	}
	raw := func(v string) { field(strRaw, v) }
	// packed stores XML and URIs with packWords replaced: packed in
	// place, then moved behind its length (one pass over v, not two).
	packed := func(v string) {
		if !packable(v) {
			raw(v)
			return
		}
		start := len(b)
		b = appendPacked(b, v)
		n := len(b) - start
		if n >= len(v) {
			b = b[:start]
			raw(v)
			return
		}
		var buf [binary.MaxVarintLen64]byte
		pre := binary.AppendUvarint(buf[:0], uint64(n)<<2|strPacked)
		b = append(b, pre...)
		copy(b[start+len(pre):], b[start:start+n])
		copy(b[start:], pre)
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
	raw(s.Processor)
	packed(s.Message)
	raw(s.Secret)
	if f := s.Filter; f == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		packed(f.Dialect)
		raw(f.Expression)
		b = binary.AppendUvarint(b, uint64(len(f.Namespaces)))
		for _, k := range slices.Sorted(maps.Keys(f.Namespaces)) {
			raw(k)
			packed(f.Namespaces[k])
		}
	}
	packed(s.EndTo)
	packed(s.Manager)
	packed(s.AddressingNS)
	packed(s.EventingNS)
	tm(s.Expires)
	tm(s.Created)
	b = binary.AppendUvarint(b, s.Start)
	if isHex(s.Key) {
		b = binary.AppendUvarint(b, uint64(len(s.Key)/2)<<2|strHex)
		for i := 0; i < len(s.Key); i += 2 {
			b = append(b, unhex(s.Key[i])<<4|unhex(s.Key[i+1]))
		}
	} else {
		raw(s.Key)
	}
	raw(s.Owner)
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

// decodeSub decodes the record v stored under the key k (binary or
// legacy JSON). The record's bytes belong to bbolt: every string is copied
// on its own, so that a caller may drop one (the dispatcher drops Message,
// the bulk), and in, when not nil, shares the repeated ones between
// records.
func decodeSub(k, v []byte, in interner) (*eventing.Subscription, error) {
	return decodeSubAs(k, v, in, false)
}

// decodeSubTrimmed decodes the record v stored under k as
// Subscription.Trim leaves it (see eventing.SubscriptionLoader); in a
// current record it does not even copy the fields Trim drops.
func decodeSubTrimmed(k, v []byte, in interner) (*eventing.Subscription, error) {
	return decodeSubAs(k, v, in, true)
}

func decodeSubAs(k, v []byte, in interner, trim bool) (*eventing.Subscription, error) {
	if len(v) > 0 && (v[0] == '{' || v[0] == subRecordV1) {
		var s *eventing.Subscription
		if v[0] == '{' {
			s = new(eventing.Subscription)
			if err := json.Unmarshal(v, s); err != nil {
				return nil, err
			}
		} else {
			var err error
			if s, err = decodeSubV1(v, in); err != nil {
				return nil, err
			}
		}
		if trim {
			s.Trim()
		}
		return s, nil
	}
	if len(v) == 0 || v[0] != subRecordV2 {
		return nil, errCorruptSub
	}
	d := subDecoder{b: v[1:]}
	s := &eventing.Subscription{ID: string(k)}
	s.Processor = d.field(in)
	if trim {
		d.skip(2)
	} else {
		s.Message = d.field(nil)
		s.Secret = d.field(nil)
	}
	if d.byte() == 1 {
		f := &eventing.FilterSpec{Dialect: d.field(in)}
		f.Expression = d.field(nil)
		if n := d.uvarint(); n > 0 && n < uint64(len(d.b)) {
			f.Namespaces = make(map[string]string, n)
			for range n {
				k := d.field(in)
				f.Namespaces[k] = d.field(in)
			}
		}
		s.Filter = f
	}
	if trim {
		d.skip(1)
	} else {
		s.EndTo = d.field(nil)
	}
	s.Manager = d.field(in)
	s.AddressingNS = d.field(in)
	s.EventingNS = d.field(in)
	s.Expires = d.time()
	s.Created = d.time()
	s.Start = d.uvarint()
	if trim {
		d.skip(1)
	} else {
		s.Key = d.field(nil)
	}
	s.Owner = d.field(in)
	if d.bad {
		return nil, errCorruptSub
	}
	return s, nil
}

// decodeSubV1 decodes a subRecordV1 record.
func decodeSubV1(v []byte, in interner) (*eventing.Subscription, error) {
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

// field returns the next string of a subRecordV2 record, in its form;
// in, when not nil, shares it with other records that store the same
// bytes.
func (d *subDecoder) field(in interner) string {
	rest := d.b
	h := d.uvarint()
	n := h >> 2
	if d.bad || n > uint64(len(d.b)) {
		d.bad = true
		return ""
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	if n == 0 {
		return ""
	}
	whole := rest[:len(rest)-len(d.b)] // header and bytes: the interner's key
	if s, ok := in[string(whole)]; ok {
		return s
	}
	var s string
	switch h & 3 {
	case strRaw:
		s = string(v)
	case strPacked:
		s = unpacker.Replace(string(v))
	case strHex:
		s = hex.EncodeToString(v)
	default:
		d.bad = true
		return ""
	}
	if in != nil && len(in) < 4096 {
		in[string(whole)] = s
	}
	return s
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
