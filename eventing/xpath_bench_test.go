package eventing_test

import (
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
)

// BenchmarkXPathMatch evaluates a typical topic-pinned XPath filter against
// a typical message, one that matches and one of another topic.
func BenchmarkXPathMatch(b *testing.B) {
	spec := &eventing.FilterSpec{
		Dialect:    eventing.DialectXPath10,
		Expression: "/m:message[m:topic='disk' and contains(m:text, 'full')]",
		Namespaces: map[string]string{"m": eventing.MessageNS},
	}
	f, err := eventing.CompileFilter(spec)
	if err != nil {
		b.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		topic string
		match bool
	}{
		{"match", "disk", true},
		{"other-topic", "cpu", false},
	} {
		ev := eventing.NewEvent(1, time.Now(), eventing.Message{
			Topic: tt.topic, InstanceID: "i-0b1e0b1e", Timestamp: "2026-03-01T12:00:00Z",
			Text: "/var is 97% full on db-7", Info: "eu-west-1",
		})
		ev.Document()
		b.Run(tt.name, func(b *testing.B) {
			for b.Loop() {
				if match(b, f, ev) != tt.match {
					b.Fatalf("Match = %v; want %v", !tt.match, tt.match)
				}
			}
		})
	}
}

func match(b *testing.B, f eventing.Filter, ev *eventing.Event) bool {
	b.Helper()
	ok, err := f.Match(ev)
	if err != nil {
		b.Fatal(err)
	}
	return ok
}
