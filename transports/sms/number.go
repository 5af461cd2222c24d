package sms

import (
	"fmt"
	"strings"
)

// Normalize turns a phone number into E.164 (+ and 8 to 15 digits). Spaces,
// dots, dashes, slashes and parentheses are ignored; a leading + or 00
// means the number has its country code; otherwise country is prefixed,
// after dropping a national trunk 0 (not for country 1, which has none).
func Normalize(number, country string) (string, error) {
	if len(country) < 1 || len(country) > 3 || country[0] == '0' || strings.Trim(country, "0123456789") != "" {
		return "", fmt.Errorf("%q is not a country calling code", country)
	}
	s := strings.TrimSpace(number)
	if s == "" {
		return "", fmt.Errorf("the phone number is empty")
	}
	var digits strings.Builder
	international := false
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r == '+' && i == 0:
			international = true
		case r == ' ' || r == '.' || r == '-' || r == '/' || r == '(' || r == ')' || r == '\u00a0':
		default:
			return "", fmt.Errorf("%q is not a phone number: unexpected %q", s, r)
		}
	}
	d := digits.String()
	switch {
	case international:
	case strings.HasPrefix(d, "00"):
		d = d[2:]
	case country == "1":
		if len(d) == 11 && d[0] == '1' {
			d = d[1:] // 1 408 … written with the trunk prefix
		}
		d = country + d
	default:
		d = country + strings.TrimPrefix(d, "0")
	}
	if len(d) < 8 || len(d) > 15 {
		return "", fmt.Errorf("%q is not a phone number: %d digits with the country code, E.164 allows 8 to 15", s, len(d))
	}
	if d[0] == '0' {
		return "", fmt.Errorf("%q is not a phone number: a country code cannot start with 0", s)
	}
	return "+" + d, nil
}
