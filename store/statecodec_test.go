package store

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
)

func TestStateCodec_RoundTrip(t *testing.T) {
	at := time.Date(2027, 1, 15, 8, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name  string
		st    eventing.DeliveryState
		short bool
	}{
		{"pending at start", eventing.DeliveryState{Cursor: 12345, Pending: true}, true},
		{"cursor", eventing.DeliveryState{Cursor: 1 << 40}, true},
		{"zero", eventing.DeliveryState{}, true},
		{"retrying", eventing.DeliveryState{Cursor: 7, Pending: true, Attempts: 2, NextAttempt: at}, false},
		{"failing", eventing.DeliveryState{Cursor: 7, Failures: 3, FailingSince: at}, false},
		{"replay", eventing.DeliveryState{Cursor: 7, ReplaySeq: 3, ReplayAttempts: 1, ReplayNext: at}, false},
		{"log", eventing.DeliveryState{Cursor: 7, Log: []eventing.Attempt{{Seq: 7, Time: at}}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v, err := encodeState(&tt.st)
			if err != nil {
				t.Fatal(err)
			}
			if short := v[0] != '{'; short != tt.short || (short && len(v) > 7) {
				t.Errorf("stored as %q; want the short form %v", v, tt.short)
			}
			var got eventing.DeliveryState
			if err := decodeState(v, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.st) {
				t.Errorf("got %+v; want %+v", got, tt.st)
			}
		})
	}
}

// States written as JSON (every state before schema version 3) are read.
func TestStateCodec_ReadsJSON(t *testing.T) {
	want := eventing.DeliveryState{Cursor: 9, Pending: true}
	v, _ := json.Marshal(&want)
	var got eventing.DeliveryState
	if err := decodeState(v, &got); err != nil || got.Cursor != 9 || !got.Pending {
		t.Fatalf("decodeState(%s) = %+v, %v", v, got, err)
	}
	for _, bad := range []string{"\x02", "\x01\xff", "\x02\x05\x05"} {
		if err := decodeState([]byte(bad), &got); err == nil {
			t.Errorf("decodeState(%q) did not fail", bad)
		}
	}
}
