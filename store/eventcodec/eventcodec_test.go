package eventcodec_test

import (
	"errors"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store/eventcodec"
)

func TestDecode_InvertsEncode(t *testing.T) {
	received := time.Date(2026, 11, 22, 10, 0, 0, 123, time.UTC)
	for _, m := range []eventing.Message{
		{},
		{Topic: "t"},
		{Topic: "a/b", InstanceID: "i-1", Timestamp: "2026-11-22 10:00:00 GMT", Text: "<x>&é", Info: string(make([]byte, 300))},
	} {
		b := eventcodec.Encode(received, &m)
		ev, err := eventcodec.Decode(7, b)
		if err != nil {
			t.Fatalf("Decode(Encode(%+v)): %v", m, err)
		}
		clear(b) // the event must not share the record's bytes
		if ev.Seq != 7 || !ev.Received.Equal(received) || ev.Message != m {
			t.Errorf("Decode(Encode(%+v)) = %d %v %+v", m, ev.Seq, ev.Received, ev.Message)
		}
	}
}

func TestDecode_Corrupt(t *testing.T) {
	good := eventcodec.Encode(time.Now(), &eventing.Message{Topic: "topic", Text: "text"})
	for _, b := range [][]byte{nil, good[:7], good[:8], good[:10], good[:len(good)-1], append(good[:8:8], 0xff)} {
		if _, err := eventcodec.Decode(1, b); !errors.Is(err, eventcodec.ErrCorrupt) {
			t.Errorf("Decode(% x) = %v; want ErrCorrupt", b, err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	rec := eventcodec.Encode(time.Now(), &eventing.Message{Topic: "bench", InstanceID: "i-bench", Timestamp: "2026-11-22 10:00:00 GMT", Text: "a benchmark event of a typical size, with some text in it", Info: "info"})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := eventcodec.Decode(1, rec); err != nil {
			b.Fatal(err)
		}
	}
}
