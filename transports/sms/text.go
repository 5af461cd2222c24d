package sms

import (
	"strings"
	"unicode/utf16"

	"github.com/herald-eventing/herald/eventing"
)

// Segment sizes: one message holds 160 GSM-7 septets or 70 UCS-2 units;
// a concatenated one 153 or 67 per segment (the rest is the header).
const (
	gsmSingle, gsmMulti = 160, 153
	ucsSingle, ucsMulti = 70, 67
)

// gsmBasic is the GSM 03.38 default alphabet; gsmExtension the characters
// of its extension table, which take an escape (two septets).
const (
	gsmBasic     = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtension = "^{}\\[~]|€\f"
)

// The ellipsis that ends a cut text in each encoding ("…" is not GSM-7).
const (
	gsmEllipsis = "..."
	ucsEllipsis = "…"
)

// Text is the text message for an event: topic, instance, time, text and
// info, white space runs folded into one space, cut to at most segments
// SMS segments. For the seed's event:
//
//	Herald: myTopic from i-38e24051 at 2008-09-30 11:19:10 GMT: message text (additional message info)
func Text(ev *eventing.Event, segments int) string {
	var b strings.Builder
	b.WriteString("Herald: ")
	writeFolded(&b, ev.Topic)
	if ev.InstanceID != "" {
		b.WriteString(" from ")
		writeFolded(&b, ev.InstanceID)
	}
	switch {
	case strings.TrimSpace(ev.Timestamp) != "":
		b.WriteString(" at ")
		writeFolded(&b, ev.Timestamp)
	case !ev.Received.IsZero():
		b.WriteString(" at ")
		b.WriteString(ev.Received.UTC().Format("2006-01-02 15:04:05 MST"))
	}
	if strings.TrimSpace(ev.Text) != "" {
		b.WriteString(": ")
		writeFolded(&b, ev.Text)
	}
	if strings.TrimSpace(ev.Info) != "" {
		b.WriteString(" (")
		writeFolded(&b, ev.Info)
		b.WriteString(")")
	}
	return Cut(b.String(), segments)
}

// writeFolded writes s without leading and trailing white space and with
// every inner run of white space (new lines of an indented XML value) as
// one space.
func writeFolded(b *strings.Builder, s string) {
	for i, f := range strings.Fields(s) {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f)
	}
}

// septets returns how many GSM-7 septets r takes: 1 in the default
// alphabet, 2 in the extension table, 0 when GSM-7 cannot carry it.
func septets(r rune) int {
	switch {
	case r == '\n' || r == '\r':
		return 1
	case r == '\f':
		return 2
	case r < ' ' || r == '`' || r == 0x7f:
		return 0
	case r < 0x80:
		if strings.ContainsRune(gsmExtension, r) {
			return 2
		}
		return 1 // the rest of printable ASCII is in the default alphabet
	case r == '€':
		return 2
	case strings.ContainsRune(gsmBasic, r):
		return 1
	}
	return 0
}

// units returns how many UTF-16 code units (UCS-2 characters, as
// gateways count them) r takes.
func units(r rune) int {
	if n := utf16.RuneLen(r); n > 0 {
		return n
	}
	return 1 // invalid runes are sent as U+FFFD
}

// gsm7 reports whether s can be sent in the GSM-7 alphabet.
func gsm7(s string) bool {
	return gsmPrefix(s) == len(s)
}

// gsmPrefix returns the length in bytes of the longest start of s that
// GSM-7 can carry.
func gsmPrefix(s string) int {
	for i, r := range s {
		if septets(r) == 0 {
			return i
		}
	}
	return len(s)
}

// An encoding is how a text message is sent: GSM-7 or UCS-2.
type encoding int

const (
	gsmEncoding encoding = iota
	ucsEncoding
)

// cost returns how many septets (GSM-7) or code units (UCS-2) r takes.
func (e encoding) cost(r rune) int {
	if e == gsmEncoding {
		return septets(r)
	}
	return units(r)
}

// sizes returns the units in a single message and in each segment of a
// concatenated one.
func (e encoding) sizes() (single, multi int) {
	if e == gsmEncoding {
		return gsmSingle, gsmMulti
	}
	return ucsSingle, ucsMulti
}

// ellipsis ends a cut text.
func (e encoding) ellipsis() string {
	if e == gsmEncoding {
		return gsmEllipsis
	}
	return ucsEllipsis
}

// A packing is the state of laying characters into concatenated segments:
// total counts every unit, segments and used the segments begun and the
// units in the last one. A character never straddles two segments: an
// escape sequence or a surrogate pair that does not fit in what is left
// of a segment begins the next one, as gateways send them.
type packing struct {
	total, segments, used int
}

// add packs one character of cost units into segments of multi units.
func (p packing) add(cost, multi int) packing {
	p.total += cost
	if p.used+cost > multi {
		p.segments++
		p.used = 0
	}
	p.used += cost
	return p
}

// count returns the number of segments of the characters packed so far:
// one when they fit in a single message of single units.
func (p packing) count(single int) int {
	if p.total <= single {
		return 1
	}
	return p.segments
}

// segments returns how many segments s takes in the encoding.
func (e encoding) segments(s string) int {
	single, multi := e.sizes()
	p := packing{segments: 1}
	for _, r := range s {
		p = p.add(e.cost(r), multi)
	}
	return p.count(single)
}

// cut returns the longest start of s that fits in segments segments with
// the encoding's ellipsis after it, and the ellipsis.
func (e encoding) cut(s string, segments int) string {
	single, multi := e.sizes()
	ellipsis := e.ellipsis()
	fits := func(p packing) bool {
		for _, r := range ellipsis {
			p = p.add(e.cost(r), multi)
		}
		return p.count(single) <= segments
	}
	// p packs s[:i]; the longest start that fits ends at end. The
	// ellipsis alone always fits.
	p, end := packing{segments: 1}, 0
	for i, r := range s {
		if !fits(p) {
			return s[:end] + ellipsis
		}
		end = i
		p = p.add(e.cost(r), multi)
	}
	if fits(p) {
		end = len(s)
	}
	return s[:end] + ellipsis
}

// Segments returns how many SMS segments s needs: GSM-7 when every
// character is in the GSM 03.38 alphabet (extension characters count two
// septets), else UCS-2 (UTF-16 code units); 160/70 in one segment, 153/67
// per segment when concatenated, with no escape sequence or surrogate pair
// split between two segments.
func Segments(s string) int {
	if gsm7(s) {
		return gsmEncoding.segments(s)
	}
	return ucsEncoding.segments(s)
}

// Cut shortens s to fit in segments SMS segments (at least one), ending it
// with "..." (GSM-7) or "…" (UCS-2) when it has to cut. It cuts between
// characters only, so never inside an escape sequence or a surrogate pair,
// and keeps the longer start of s: as GSM-7 up to the first character
// outside that alphabet, or as UCS-2.
func Cut(s string, segments int) string {
	segments = max(segments, 1)
	if Segments(s) <= segments {
		return s
	}
	n := gsmPrefix(s)
	gsm := gsmEncoding.cut(s[:n], segments)
	if n == len(s) {
		return gsm
	}
	ucs := ucsEncoding.cut(s, segments)
	if len(gsm)-len(gsmEllipsis) >= len(ucs)-len(ucsEllipsis) {
		return gsm
	}
	return ucs
}
