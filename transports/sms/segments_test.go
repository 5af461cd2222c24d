package sms_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/herald-eventing/herald/transports/sms"
)

// Segments never lets an escape sequence (GSM-7) or a surrogate pair
// (UCS-2) straddle two segments: the character begins the next one.
func TestSegments_AtTheBoundaries(t *testing.T) {
	a, e, zh, smile := "a", "€", "ж", "😀"
	rep := strings.Repeat
	for _, tt := range []struct {
		name string
		in   string
		want int
	}{
		{"GSM-7 exactly one", rep(a, 160), 1},
		{"GSM-7 extension fills one exactly", rep(a, 158) + e, 1},
		{"GSM-7 extension one septet over", rep(a, 159) + e, 2},
		{"GSM-7 two exactly", rep(a, 306), 2},
		{"GSM-7 escape would straddle 1|2", rep(a, 152) + e + rep(a, 152), 3},
		{"GSM-7 escape just fits 1", rep(a, 151) + e + rep(a, 153), 2},
		{"GSM-7 form feed is an extension", rep(a, 159) + "\f", 2},
		{"GSM-7 new lines are basic", rep("\n", 160), 1},
		{"GSM-7 extension only, three", rep(e, 228), 3},
		{"GSM-7 extension only, 76 per segment", rep(e, 229), 4},
		{"UCS-2 exactly one", rep(zh, 70), 1},
		{"UCS-2 one non-GSM character makes UCS-2", rep(a, 70) + zh, 2},
		{"UCS-2 backtick is not GSM-7", rep(a, 70) + "`", 2},
		{"UCS-2 two exactly", rep(zh, 134), 2},
		{"UCS-2 pair would straddle 1|2", rep(zh, 66) + smile + rep(zh, 66), 3},
		{"UCS-2 pair just fits", rep(zh, 65) + smile + rep(zh, 67), 2},
		{"UCS-2 emoji only, 33 per segment", rep(smile, 99), 3},
		{"UCS-2 emoji only, straddling", rep(smile, 100), 4},
		{"UCS-2 emoji exactly one", rep(smile, 35), 1},
	} {
		if got := sms.Segments(tt.in); got != tt.want {
			t.Errorf("%s: Segments = %d; want %d", tt.name, got, tt.want)
		}
	}
}

func TestCut_Table(t *testing.T) {
	rep := strings.Repeat
	for _, tt := range []struct {
		name     string
		in       string
		segments int
		want     string
	}{
		{"fits, untouched", rep("a", 459), 3, rep("a", 459)},
		{"GSM-7 one over", rep("a", 161), 1, rep("a", 157) + "..."},
		{"GSM-7 never splits an escape", rep("a", 156) + rep("€", 10), 1, rep("a", 156) + "..."},
		{"GSM-7 extension only, three", rep("€", 500), 3, rep("€", 227) + "..."},
		{"UCS-2 emoji only, three", rep("😀", 500), 3, rep("😀", 99) + "…"},
		{"UCS-2 never splits a pair", rep("ж", 68) + rep("😀", 5), 1, rep("ж", 68) + "…"},
		{"UCS-2 pair fills the units before the ellipsis", rep("ж", 67) + rep("😀", 5), 1, rep("ж", 67) + "😀…"},
		{"GSM-7 start kept when the rest is UCS-2", rep("a", 500) + "ж", 3, rep("a", 456) + "..."},
		{"GSM-7 start longer than a UCS-2 cut", rep("a", 300) + "ж" + rep("a", 300), 3, rep("a", 300) + "..."},
		{"UCS-2 from the start", "ж" + rep("a", 500), 3, "ж" + rep("a", 199) + "…"},
		{"zero segments mean one", rep("a", 200), 0, rep("a", 157) + "..."},
	} {
		got := sms.Cut(tt.in, tt.segments)
		if got != tt.want {
			t.Errorf("%s: Cut = %d runes %q…; want %d runes %q…", tt.name,
				utf8.RuneCountInString(got), head(got), utf8.RuneCountInString(tt.want), head(tt.want))
		}
		if n := sms.Segments(got); n > max(tt.segments, 1) {
			t.Errorf("%s: Cut gives %d segments", tt.name, n)
		}
	}
}

func head(s string) string {
	if r := []rune(s); len(r) > 8 {
		return string(r[:8])
	}
	return s
}

// FuzzCut: the result fits, is the input when it fitted, else a start of
// the input (cut between characters) and an ellipsis, and one more
// character would not have fitted.
func FuzzCut(f *testing.F) {
	for _, s := range []string{"", "hello", strings.Repeat("a€", 200), strings.Repeat("ж😀", 90), strings.Repeat("a", 300) + "😀"} {
		f.Add(s, 1)
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, segments int) {
		if !utf8.ValidString(s) || segments > 10 {
			return
		}
		got := sms.Cut(s, segments)
		segments = max(segments, 1)
		if n := sms.Segments(got); n > segments {
			t.Fatalf("Cut(%q, %d) = %q in %d segments", s, segments, got, n)
		}
		if sms.Segments(s) <= segments {
			if got != s {
				t.Fatalf("Cut(%q, %d) = %q; it fitted", s, segments, got)
			}
			return
		}
		kept, ok := strings.CutSuffix(got, "...")
		if !ok {
			kept, ok = strings.CutSuffix(got, "…")
		}
		if !ok || !strings.HasPrefix(s, kept) || !utf8.ValidString(kept) {
			t.Fatalf("Cut(%q, %d) = %q: not a start of the input and an ellipsis", s, segments, got)
		}
	})
}
