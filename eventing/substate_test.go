package eventing

import (
	"testing"
	"time"
	"unsafe"
)

// A subState stays in memory for every subscription: it fits the 288-byte
// size class (it took 416 before its fields were ordered by size, and its
// queue and delivery log were held by pointer).
func TestSubState_Fits288Bytes(t *testing.T) {
	if n := unsafe.Sizeof(subState{}); n > 288 {
		t.Errorf("subState is %d bytes; want at most 288", n)
	}
}

// Every subscription made or loaded while Herald runs has a lazy endpoint:
// it fits the 64-byte size class (80 while it held its processor, its
// load hook and its cache itself).
func TestLazyEndpoint_Fits64Bytes(t *testing.T) {
	if n := unsafe.Sizeof(lazyEndpoint{}); n > 64 {
		t.Errorf("lazyEndpoint is %d bytes; want at most 64", n)
	}
}

// The lease end a subState keeps in 12 bytes compares as time.Time's Equal.
func TestSubState_ExpiryIsEqual(t *testing.T) {
	at := time.Date(2027, 1, 15, 8, 0, 0, 0, time.UTC)
	far := time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	var s subState
	if !s.expiryIs(time.Time{}) || s.expiryIs(at) {
		t.Fatal("a new subState has a lease end")
	}
	for _, tt := range []time.Time{at, far, time.Unix(0, 0), at.In(time.FixedZone("x", 3600))} {
		s.setExpiry(tt)
		if !s.expiryIs(tt) || !s.expiryIs(tt.UTC()) || s.expiryIs(tt.Add(time.Nanosecond)) || s.expiryIs(time.Time{}) {
			t.Errorf("setExpiry(%v): expiryIs disagrees with Equal", tt)
		}
	}
	s.setExpiry(time.Time{})
	if !s.expiryIs(time.Time{}) || s.expiryNsec != 0 {
		t.Error("setExpiry(zero) left a lease end")
	}
}
