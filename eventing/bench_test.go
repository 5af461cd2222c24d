package eventing_test

import (
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
)

func BenchmarkFilter(b *testing.B) {
	ev := eventing.NewEvent(1, time.Now(), eventing.Message{Topic: "storms", InstanceID: "i-1", Text: "wind 65 knots", Info: "FL"})
	ev.Document()
	for _, tt := range []struct {
		name string
		spec *eventing.FilterSpec
	}{
		{"topic", eventing.TopicFilter("storms")},
		{"xpath", &eventing.FilterSpec{Dialect: eventing.DialectXPath10, Expression: "/m:message[m:topic='storms' and contains(m:text, 'wind')]", Namespaces: map[string]string{"m": eventing.MessageNS}}},
	} {
		f, err := eventing.CompileFilter(tt.spec)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tt.name, func(b *testing.B) {
			for b.Loop() {
				if ok, err := f.Match(ev); !ok || err != nil {
					b.Fatal("no match", err)
				}
			}
		})
	}
}

func BenchmarkEventXML(b *testing.B) {
	m := eventing.Message{Topic: "storms", InstanceID: "i-1", Timestamp: "2008-09-30 11:19:10 GMT", Text: "wind <65> knots", Info: "FL"}
	for b.Loop() {
		eventing.NewEvent(1, time.Time{}, m).XML()
	}
}

func BenchmarkMessageID(b *testing.B) {
	for b.Loop() {
		eventing.MessageID("uuid:0b1e0b1e-0000-4000-8000-000000000001", 42)
	}
}
