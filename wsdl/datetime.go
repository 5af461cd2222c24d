package wsdl

import "time"

// FormatDateTime returns t as an xs:dateTime: RFC 3339 with the fraction
// of a second only when there is one, in t's zone.
func FormatDateTime(t time.Time) DateTime {
	return DateTime(t.Format(time.RFC3339Nano))
}

// Time parses d, an xs:dateTime with a time zone (RFC 3339, fractional
// seconds allowed), as a time.Time.
func (d DateTime) Time() (time.Time, error) {
	return time.Parse(time.RFC3339Nano, string(d))
}
