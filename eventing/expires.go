package eventing

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// An Expiration is a wse:Expires value: either an xs:duration or an
// xs:dateTime. The form matters: Herald answers in the form requested.
type Expiration struct {
	// IsDuration tells the form; Duration or Time holds the value.
	IsDuration bool
	Duration   time.Duration
	Time       time.Time
	// Exact marks a request for exactly this lease or a fault: a 2011
	// wse:Expires without BestEffort="true". Without it (2004/08, where
	// the event source chooses, and 2011 with BestEffort) a lease beyond
	// the longest one is cut to it.
	Exact bool
	// Indefinite marks a 2011 request of PT0S, which asks for a
	// subscription that never expires.
	Indefinite bool
}

// ParseExpiration reads a wse:Expires value (white space trimmed). now
// resolves durations with years or months. A value that is neither an
// xs:duration nor an xs:dateTime (designators out of order, P1D1Y, too)
// is an ErrExpirationType; a duration too long to count is an
// ErrInvalidExpiration.
func ParseExpiration(s string, now time.Time) (Expiration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Expiration{}, InvalidExpirationTime("wse:Expires is empty")
	}
	if s[0] == 'P' || strings.HasPrefix(s, "-P") {
		d, err := parseDuration(s, now)
		if errors.Is(err, errDuration) {
			return Expiration{}, expirationType(err.Error())
		}
		if err != nil {
			return Expiration{}, InvalidExpirationTime(err.Error())
		}
		return Expiration{IsDuration: true, Duration: d}, nil
	}
	t, err := parseDateTime(s)
	if err != nil {
		return Expiration{}, expirationType(err.Error())
	}
	return Expiration{Time: t}, nil
}

// At returns the absolute time the expiration denotes, counted from now.
func (e Expiration) At(now time.Time) time.Time {
	if e.IsDuration {
		return now.Add(e.Duration)
	}
	return e.Time
}

var errDuration = errors.New("not an xs:duration")

// designators are the keys of xs:duration's designators in their order
// (time designators prefixed with T).
var designators = []string{"Y", "M", "D", "TH", "TM", "TS"}

// parseDuration parses an xs:duration (PnYnMnDTnHnMnS, seconds may have a
// fraction, a leading minus sign). Years and months count from now.
func parseDuration(s string, now time.Time) (time.Duration, error) {
	orig := s
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	if !strings.HasPrefix(s, "P") || len(s) < 2 {
		return 0, fmt.Errorf("%q is %w", orig, errDuration)
	}
	s = s[1:]
	var years, months, days int
	var clock time.Duration
	inTime := false
	last := -1
	any := false
	for len(s) > 0 {
		if s[0] == 'T' {
			if inTime || len(s) == 1 {
				return 0, fmt.Errorf("%q is %w", orig, errDuration)
			}
			inTime, s = true, s[1:]
			continue
		}
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		if i == 0 || i == len(s) {
			return 0, fmt.Errorf("%q is %w", orig, errDuration)
		}
		num, unit := s[:i], s[i]
		s = s[i+1:]
		key := string(unit)
		if inTime {
			key = "T" + key
		}
		// xs:duration writes its designators once each, in the order
		// Y M D T H M S: P1D1Y and PT1S1H are not durations.
		at := slices.Index(designators, key)
		if at < 0 {
			return 0, fmt.Errorf("%q is %w (unknown designator %c)", orig, errDuration, unit)
		}
		if at <= last {
			return 0, fmt.Errorf("%q is %w (%c out of order or twice: designators go in the order Y M D T H M S)", orig, errDuration, unit)
		}
		last = at
		any = true
		if strings.Contains(num, ".") && key != "TS" {
			return 0, fmt.Errorf("%q is %w (only seconds may have a fraction)", orig, errDuration)
		}
		if key == "TS" {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || f*float64(time.Second) > math.MaxInt64/2 {
				return 0, fmt.Errorf("%q is %w", orig, errDuration)
			}
			clock += time.Duration(f * float64(time.Second))
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil || n > 1_000_000 {
			return 0, fmt.Errorf("%q: the value %s is out of range", orig, num)
		}
		switch key {
		case "Y":
			years = n
		case "M":
			months = n
		case "D":
			days = n
		case "TH":
			clock += time.Duration(n) * time.Hour
		case "TM":
			clock += time.Duration(n) * time.Minute
		default:
			return 0, fmt.Errorf("%q is %w (unknown designator %c)", orig, errDuration, unit)
		}
	}
	if !any {
		return 0, fmt.Errorf("%q is %w", orig, errDuration)
	}
	end := now.AddDate(years, months, days).Add(clock)
	d := end.Sub(now)
	if d < 0 || end.Year()-now.Year() > 10000 {
		return 0, fmt.Errorf("%q is too long", orig)
	}
	if neg {
		d = -d
	}
	return d, nil
}

// parseDateTime parses an xs:dateTime; without a time zone it is UTC.
func parseDateTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither an xs:duration nor an xs:dateTime", s)
}

// FormatDuration writes d as an xs:duration (PnDTnHnMnS, seconds with up to
// millisecond precision).
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "PT0S"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	b.WriteByte('P')
	if days := d / (24 * time.Hour); days > 0 {
		fmt.Fprintf(&b, "%dD", days)
		d -= days * 24 * time.Hour
	}
	if d > 0 {
		b.WriteByte('T')
		if h := d / time.Hour; h > 0 {
			fmt.Fprintf(&b, "%dH", h)
			d -= h * time.Hour
		}
		if m := d / time.Minute; m > 0 {
			fmt.Fprintf(&b, "%dM", m)
			d -= m * time.Minute
		}
		if d > 0 {
			ms := d.Round(time.Millisecond)
			if ms%time.Second == 0 {
				fmt.Fprintf(&b, "%dS", ms/time.Second)
			} else {
				fmt.Fprintf(&b, "%sS", strconv.FormatFloat(ms.Seconds(), 'f', -1, 64))
			}
		}
	}
	return b.String()
}

// FormatDateTime writes t as an xs:dateTime in UTC with milliseconds.
func FormatDateTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
