package eventing_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/eventing"
)

func filterElement(t *testing.T, s string) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(s); err != nil {
		t.Fatal(err)
	}
	if f := doc.FindElement("//Filter"); f != nil {
		return f
	}
	return doc.Root()
}

// faultSubcode names the kind of err's *eventing.Error ("" for none), by
// the 2004/08 fault it becomes where one exists.
func faultSubcode(err error) string {
	return map[error]string{
		eventing.ErrInvalidMessage:      "InvalidMessage",
		eventing.ErrInvalidExpiration:   "InvalidExpirationTime",
		eventing.ErrExpirationType:      "ExpirationType",
		eventing.ErrFilterUnavailable:   "FilteringRequestedUnavailable",
		eventing.ErrInvalidFilter:       "InvalidFilter",
		eventing.ErrEmptyFilter:         "EmptyFilter",
		eventing.ErrDeliveryUnavailable: "DeliveryModeRequestedUnavailable",
		eventing.ErrNoDelivery:          "NoDelivery",
		eventing.ErrUnusableEPR:         "UnusableEPR",
		eventing.ErrEndToNotSupported:   "EndToNotSupported",
		eventing.ErrUnknownSubscription: "UnknownSubscription",
		eventing.ErrUnableToRenew:       "UnableToRenew",
		eventing.ErrUnableToProcess:     "EventSourceUnableToProcess",
		eventing.ErrUnknownProcessor:    "UnknownProcessor",
	}[eventing.KindOf(err)]
}

var storm = eventing.NewEvent(1, time.Now(), eventing.Message{Topic: "storms", InstanceID: "i-1", Text: "wind 65 knots", Info: "FL"})

func TestParseFilter_XPath(t *testing.T) {
	const wse = `xmlns:wse="http://schemas.xmlsoap.org/ws/2004/08/eventing"`
	tests := []struct {
		name  string
		xml   string
		match bool
	}{
		{"prefix bound on Filter", `<wse:Filter ` + wse + ` xmlns:m="http://cloud42.jw.de/message" Dialect="http://www.w3.org/TR/1999/REC-xpath-19991116">/m:message[m:topic='storms']</wse:Filter>`, true},
		{"prefix bound on an ancestor, no Dialect", `<x xmlns:q="http://cloud42.jw.de/message"><wse:Filter ` + wse + `>/q:message/q:topic = 'storms'</wse:Filter></x>`, true},
		{"other topic", `<wse:Filter ` + wse + ` xmlns:m="http://cloud42.jw.de/message">/m:message[m:topic='calm']</wse:Filter>`, false},
		{"function and number", `<wse:Filter ` + wse + ` xmlns:m="http://cloud42.jw.de/message">contains(//m:text, 'wind') and count(/m:message/*) = 4</wse:Filter>`, true},
		{"white space around the expression", "<wse:Filter " + wse + " xmlns:m=\"http://cloud42.jw.de/message\">\n  //m:info\n</wse:Filter>", true},
		{"wrong namespace does not match", `<wse:Filter ` + wse + ` xmlns:m="urn:other">/m:message</wse:Filter>`, false},
		{"2011 dialect URI is a synonym", `<wse:Filter ` + wse + ` xmlns:m="http://cloud42.jw.de/message" Dialect="http://www.w3.org/2011/03/ws-evt/Dialects/XPath10">//m:topic</wse:Filter>`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := eventing.ParseFilter(filterElement(t, tt.xml))
			if err != nil {
				t.Fatal(err)
			}
			f, err := eventing.CompileFilter(spec)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := f.Match(storm); err != nil || got != tt.match {
				t.Fatalf("Match = %v, %v; want %v", got, err, tt.match)
			}
		})
	}
}

func TestParseFilter_Topic(t *testing.T) {
	spec, err := eventing.ParseFilter(filterElement(t, `<Filter Dialect="`+eventing.DialectTopic+`"> storms </Filter>`))
	if err != nil {
		t.Fatal(err)
	}
	if spec.Expression != "storms" {
		t.Fatalf("topic = %q; want storms (trimmed)", spec.Expression)
	}
	f, _ := eventing.CompileFilter(spec)
	yes, err1 := f.Match(storm)
	no, err2 := f.Match(eventing.NewEvent(2, time.Now(), eventing.Message{Topic: "calm"}))
	if !yes || no || err1 != nil || err2 != nil {
		t.Fatal("topic filter matches the wrong events")
	}
}

func TestParseFilter_Faults(t *testing.T) {
	tests := []struct {
		name, xml, subcode, reason string
	}{
		{"unknown dialect", `<Filter Dialect="http://www.example.org/topicFilter">weather.storms</Filter>`, "FilteringRequestedUnavailable", "http://www.example.org/topicFilter"},
		{"does not compile", `<Filter>/m:message[</Filter>`, "InvalidFilter", "does not compile"},
		{"unbound prefix", `<Filter>/zz:message</Filter>`, "InvalidFilter", "does not compile"},
		{"empty", `<Filter> </Filter>`, "InvalidFilter", "empty"},
		{"too long", `<Filter>` + strings.Repeat("/a", eventing.MaxFilterLength) + `</Filter>`, "InvalidFilter", "limit"},
		{"element content", `<Filter><x/></Filter>`, "InvalidFilter", "only the expression"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := eventing.ParseFilter(filterElement(t, tt.xml))
			if got := faultSubcode(err); got != tt.subcode {
				t.Fatalf("subcode = %q (%v); want %s", got, err, tt.subcode)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("reason %q does not say %q", err, tt.reason)
			}
		})
	}
}

func TestFilteringRequestedUnavailable_ListsDialects(t *testing.T) {
	_, err := eventing.ParseFilter(filterElement(t, `<Filter Dialect="urn:x">a</Filter>`))
	var f *eventing.Error
	if !errors.As(err, &f) || f.Kind != eventing.ErrFilterUnavailable {
		t.Fatalf("err = %v; want an ErrFilterUnavailable", err)
	}
	if got := strings.Join(f.Supported, " "); got != eventing.DialectXPath10+" "+eventing.DialectXPath10W3C+" "+eventing.DialectTopic {
		t.Fatalf("supported dialects = %v", got)
	}
}

func TestXPath_Navigation(t *testing.T) {
	ev := eventing.NewEvent(1, time.Now(), eventing.Message{Topic: "t", Text: "a<b"})
	for _, tt := range []struct {
		expr  string
		match bool
	}{
		{"/message/topic = 't'", true}, // unprefixed names match the default namespace (documented leniency)
		{"string(/*/*[2]) = 'a<b'", true},
		{"count(//*) = 3", true},
		{"/m:message/m:topic/text() = 't'", true},
		{"/m:message/m:topic/following-sibling::m:text", true},
		{"/m:message/m:text/preceding-sibling::m:info", false},
		{"local-name(/*) = 'message'", true},
		{"namespace-uri(/*) = 'http://cloud42.jw.de/message'", true},
		{"/m:message/@nope", false},
		{"0 or /m:message/@nope", false},
		{"'x'", true},
		{"/child::m:message and 'a:b' = 'a:b'", true},
	} {
		spec := &eventing.FilterSpec{Dialect: eventing.DialectXPath10, Expression: tt.expr, Namespaces: map[string]string{"m": eventing.MessageNS}}
		f, err := eventing.CompileFilter(spec)
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		if got, err := f.Match(ev); err != nil || got != tt.match {
			t.Errorf("%s: Match = %v, %v; want %v", tt.expr, got, err, tt.match)
		}
	}
}

// A filter whose value does not depend on the event and is false can never
// select one: ErrEmptyFilter (2011's EmptyFilter). Constant true filters,
// and false ones that read the event, are filters like any other.
func TestCompileFilter_EmptyFilter(t *testing.T) {
	for _, tt := range []struct {
		expr  string
		empty bool
	}{
		{"false()", true},
		{"0", true},
		{"1 = 2", true},
		{"'' and true()", true},
		{"not(true())", true},
		{"true()", false},
		{"'x'", false},
		{"/m:message[m:topic = 'nope']", false},
		{"count(//m:topic) = 0", false},
		{"string-length(/m:message) > 100000", false},
	} {
		spec := &eventing.FilterSpec{Dialect: eventing.DialectXPath10, Expression: tt.expr, Namespaces: map[string]string{"m": eventing.MessageNS}}
		_, err := eventing.CompileFilter(spec)
		if got := faultSubcode(err) == "EmptyFilter"; got != tt.empty {
			t.Errorf("%s: err = %v; want EmptyFilter %v", tt.expr, err, tt.empty)
		}
		if !tt.empty && err != nil {
			t.Errorf("%s: %v", tt.expr, err)
		}
	}
}
