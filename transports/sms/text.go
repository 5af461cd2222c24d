package sms

import (
	"fmt"
	"strings"
	"unicode/utf16"

	"github.com/herald-eventing/herald/eventing"
)

// Segment sizes: one message holds 160 GSM-7 characters or 70 UCS-2 units;
// a concatenated one 153 or 67 per segment (the rest is the header).
const (
	gsmSingle, gsmMulti = 160, 153
	ucsSingle, ucsMulti = 70, 67
)

// gsmBasic is the GSM 03.38 default alphabet; gsmExtension the characters
// that take an escape (two septets).
const (
	gsmBasic     = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtension = "^{}\\[~]|€\f"
)

// Text is the text message for an event: topic, instance, time, text and
// info, cut to at most segments SMS segments.
func Text(ev *eventing.Event, segments int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Herald: %s", ev.Topic)
	if ev.InstanceID != "" {
		fmt.Fprintf(&b, " from %s", ev.InstanceID)
	}
	if ev.Timestamp != "" {
		fmt.Fprintf(&b, " at %s", ev.Timestamp)
	}
	if ev.Text != "" {
		fmt.Fprintf(&b, ": %s", ev.Text)
	}
	if ev.Info != "" {
		fmt.Fprintf(&b, " (%s)", ev.Info)
	}
	return Cut(b.String(), segments)
}

// gsm7 reports whether s can be sent in the GSM-7 alphabet.
func gsm7(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune(gsmBasic, r) && !strings.ContainsRune(gsmExtension, r) {
			return false
		}
	}
	return true
}

// septets counts GSM-7 septets (extension characters take two).
func septets(r rune) int {
	if strings.ContainsRune(gsmExtension, r) {
		return 2
	}
	return 1
}

// Segments returns how many SMS segments s needs.
func Segments(s string) int {
	if gsm7(s) {
		n := 0
		for _, r := range s {
			n += septets(r)
		}
		return count(n, gsmSingle, gsmMulti)
	}
	return count(len(utf16.Encode([]rune(s))), ucsSingle, ucsMulti)
}

func count(n, single, multi int) int {
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}

// Cut shortens s to fit in segments SMS segments, ending it with "..."
// (GSM-7) or "…" (UCS-2) when it had to cut. It never splits an escape
// sequence or a surrogate pair.
func Cut(s string, segments int) string {
	if segments < 1 {
		segments = 1
	}
	if Segments(s) <= segments {
		return s
	}
	if gsm7(s) {
		limit := gsmSingle
		if segments > 1 {
			limit = gsmMulti * segments
		}
		limit -= 3 // "..."
		var b strings.Builder
		n := 0
		for _, r := range s {
			if n+septets(r) > limit {
				break
			}
			n += septets(r)
			b.WriteRune(r)
		}
		return b.String() + "..."
	}
	limit := ucsSingle
	if segments > 1 {
		limit = ucsMulti * segments
	}
	limit-- // "…"
	var b strings.Builder
	n := 0
	for _, r := range s {
		units := len(utf16.Encode([]rune{r}))
		if n+units > limit {
			break
		}
		n += units
		b.WriteRune(r)
	}
	return b.String() + "…"
}
