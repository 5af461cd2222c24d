package ratelimit_test

import (
	"testing"
	"time"

	"github.com/herald-eventing/herald/transports/ratelimit"
)

func TestLimiter_PerKey(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := ratelimit.New(2, 3, func() time.Time { return now })
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("4th request: allowed %v, wait %v; want refused with a wait up to 0.5 s", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key is limited by the first one's requests")
	}
	now = now.Add(wait)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("refused after waiting the delay it gave")
	}
}

func TestLimiter_NilAllowsAll(t *testing.T) {
	l := ratelimit.New(0, 0, nil)
	for range 1000 {
		if ok, _ := l.Allow("x"); !ok {
			t.Fatal("a limiter with no rate refused a request")
		}
	}
}

func TestLimiter_ForgetsIdleBuckets(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := ratelimit.New(1000, 1, func() time.Time { return now })
	for i := range 25000 {
		l.Allow(string(rune(i)))
		now = now.Add(time.Millisecond)
	}
	if n := l.Len(); n > 10001 {
		t.Fatalf("%d buckets held; want idle ones forgotten", n)
	}
}
