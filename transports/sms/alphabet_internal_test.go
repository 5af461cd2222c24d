package sms

import (
	"strings"
	"testing"
)

// septets agrees with the GSM 03.38 tables for every character of the
// Basic Multilingual Plane and beyond.
func TestSeptets_MatchesTheAlphabet(t *testing.T) {
	if n := len([]rune(gsmBasic)); n != 127 {
		t.Fatalf("the default alphabet has %d characters; want 127 (128 less the escape)", n)
	}
	if n := len([]rune(gsmExtension)); n != 10 {
		t.Fatalf("the extension table has %d characters; want 10", n)
	}
	for r := rune(0); r < 0x20000; r++ {
		want := 0
		switch {
		case strings.ContainsRune(gsmBasic, r):
			want = 1
		case strings.ContainsRune(gsmExtension, r):
			want = 2
		}
		if got := septets(r); got != want {
			t.Errorf("septets(%U %q) = %d; want %d", r, r, got, want)
		}
	}
}

func TestUnits(t *testing.T) {
	for r, want := range map[rune]int{'a': 1, 'ж': 1, '€': 1, '😀': 2, '\U0010FFFF': 2, 0xD800: 1} {
		if got := units(r); got != want {
			t.Errorf("units(%U) = %d; want %d", r, got, want)
		}
	}
}
