package eventing_test

import (
	"github.com/beevik/etree"

	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
)

func TestParseExpiration(t *testing.T) {
	now := time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in       string
		duration time.Duration
		at       time.Time
	}{
		{"PT1H", time.Hour, time.Time{}},
		{" PT2H30M\n", 2*time.Hour + 30*time.Minute, time.Time{}},
		{"P1D", 24 * time.Hour, time.Time{}},
		{"PT0.5S", 500 * time.Millisecond, time.Time{}},
		{"P1DT1S", 24*time.Hour + time.Second, time.Time{}},
		{"P1M", 28 * 24 * time.Hour, time.Time{}}, // 31 Jan + 1 month = 3 Mar (Go normalises): see below
		{"PT0S", 0, time.Time{}},
		{"-PT5M", -5 * time.Minute, time.Time{}},
		{"2004-06-26T21:07:00.000-08:00", 0, time.Date(2004, 6, 27, 5, 7, 0, 0, time.UTC)},
		{"2004-07-01T00:00:00.000-00:00", 0, time.Date(2004, 7, 1, 0, 0, 0, 0, time.UTC)},
		{"2030-01-01T00:00:00Z", 0, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2030-01-01T00:00:00", 0, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		e, err := eventing.ParseExpiration(tt.in, now)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if tt.at.IsZero() {
			if !e.IsDuration {
				t.Errorf("%q parsed as a dateTime", tt.in)
			}
			if tt.in == "P1M" {
				// One month from 31 January is 3 March in Go's AddDate.
				tt.duration = now.AddDate(0, 1, 0).Sub(now)
			}
			if e.Duration != tt.duration {
				t.Errorf("%q = %v; want %v", tt.in, e.Duration, tt.duration)
			}
		} else if e.IsDuration || !e.Time.Equal(tt.at) {
			t.Errorf("%q = %v (duration %v); want %v", tt.in, e.Time, e.IsDuration, tt.at)
		}
	}
	if _, err := eventing.ParseExpiration("", now); faultSubcode(err) != "InvalidExpirationTime" {
		t.Errorf("empty: err = %v; want InvalidExpirationTime", err)
	}
	// Neither an xs:duration nor an xs:dateTime: designators out of order
	// (P1D1Y would be 8784h, PT1S1H 1h0m1s if read in any order) or twice.
	for _, bad := range []string{"P", "PT", "P1H", "PT1D", "1 hour", "P1.5D", "PT1H1H", "P1D1Y", "PT1S1H", "P1M1Y", "PT1M1H", "P1DT1S1M", "2004-13-01T00:00:00Z", "tomorrow"} {
		if _, err := eventing.ParseExpiration(bad, now); faultSubcode(err) != "ExpirationType" {
			t.Errorf("%q: err = %v; want ExpirationType", bad, err)
		}
	}
	if _, err := eventing.ParseExpiration("P20000Y", now); faultSubcode(err) != "InvalidExpirationTime" {
		t.Errorf("P20000Y: err = %v; want InvalidExpirationTime (too long)", err)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Hour:                            "PT1H",
		90 * time.Minute:                     "PT1H30M",
		30 * 24 * time.Hour:                  "P30D",
		25*time.Hour + 1500*time.Millisecond: "P1DT1H1.5S",
		0:                                    "PT0S",
	} {
		if got := eventing.FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q; want %q", d, got, want)
		}
		back, err := eventing.ParseExpiration(want, time.Now())
		if err != nil || back.Duration != d {
			t.Errorf("round trip of %q = %v, %v", want, back.Duration, err)
		}
	}
}

// In 2011 only a duration written as zero asks for a subscription that
// never expires; one that only rounds to zero, or a negative zero, does not.
func TestParseExpires_Indefinite(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		text       string
		indefinite bool
	}{{"PT0S", true}, {"P0D", true}, {"PT0.000S", true}, {"PT0.0000000001S", false}, {"-PT0S", false}, {"PT1S", false}} {
		el := etree.NewElement("Expires")
		el.SetText(tt.text)
		e, err := eventing.ParseExpires(el, eventing.V2011, now)
		if err != nil {
			t.Fatalf("%s: %v", tt.text, err)
		}
		if e.Indefinite != tt.indefinite {
			t.Errorf("%s: Indefinite %v; want %v", tt.text, e.Indefinite, tt.indefinite)
		}
	}
}
