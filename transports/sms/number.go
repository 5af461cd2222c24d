package sms

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Normalize turns a phone number into E.164 (+ and 8 to 15 digits) with
// libphonenumber's rules (github.com/nyaruka/phonenumbers): a national
// number is read with the numbering plan of country (a calling code such
// as 1, 39 or 7), so trunk prefixes go where they should (Italy keeps its
// leading 0: 06 6982 1234 → +390669821234; Russia's 8 goes: 8 800 555 35 35
// → +78005553535). A leading + or 00 means the number has its country
// code. Spaces, dots, dashes, slashes and parentheses are ignored; letters
// and extensions are refused, as is a number no plan makes possible.
func Normalize(number, country string) (string, error) {
	if len(country) < 1 || len(country) > 3 || country[0] == '0' || strings.Trim(country, "0123456789") != "" {
		return "", fmt.Errorf("%q is not a country calling code", country)
	}
	cc, _ := strconv.Atoi(country)
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
	if !international && strings.HasPrefix(d, "00") {
		// 00 is the international prefix almost everywhere; read it so
		// whatever the server's country (the US dials 011).
		d, international = d[2:], true
	}
	n := len(d) // digits with the country code, before the plan is applied
	if !international {
		n = len(country) + len(strings.TrimPrefix(d, "0"))
	}
	if n < 8 || n > 15 {
		return "", fmt.Errorf("%q is not a phone number: %d digits with the country code, E.164 allows 8 to 15", s, n)
	}
	if international && d[0] == '0' {
		return "", fmt.Errorf("%q is not a phone number: a country code cannot start with 0", s)
	}
	in, region := d, phonenumbers.GetRegionCodeForCountryCode(cc)
	if international {
		in, region = "+"+d, "ZZ"
	}
	num, err := phonenumbers.Parse(in, region)
	if err != nil {
		if international || region != "ZZ" {
			return "", fmt.Errorf("%q is not a phone number: %v", s, err)
		}
		// A calling code libphonenumber has no plan for: the code, then
		// the national number without a trunk 0.
		if num, err = phonenumbers.Parse("+"+country+strings.TrimPrefix(d, "0"), "ZZ"); err != nil {
			return "", fmt.Errorf("%q is not a phone number: %v", s, err)
		}
	}
	if !phonenumbers.IsPossibleNumber(num) {
		return "", fmt.Errorf("%q is not a possible phone number for calling code %d", s, num.GetCountryCode())
	}
	e164 := phonenumbers.Format(num, phonenumbers.E164)
	if n := len(e164) - 1; n < 8 || n > 15 {
		return "", fmt.Errorf("%q is not a phone number: %d digits with the country code, E.164 allows 8 to 15", s, n)
	}
	return e164, nil
}
