package eventing_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
)

// A subscription counts as retrying once an attempt failed, not while
// its first attempt is in flight (the metrics test read a healthy
// subscription as retrying when it scraped mid-attempt).
func TestCensus_RetryingOnlyAfterAFailure(t *testing.T) {
	entered, release := make(chan struct{}, 4), make(chan struct{})
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer sink.Close()
	defer close(release)
	e := newEnv(t, "", eventing.Options{})
	e.subscribe(t, sink.URL, eventing.TopicFilter("t"), nil)
	e.publish(t, "t", "x")
	<-entered
	d := e.svc.Dispatcher()
	if got := d.Census(); got[[2]string{postProcessor, "active"}] != 1 || len(got) != 1 {
		t.Fatalf("first attempt in flight: census %v; want the subscription active", got)
	}
	release <- struct{}{}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		got := d.Census()
		if got[[2]string{postProcessor, "retrying"}] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a failed attempt: census %v; want the subscription retrying", got)
		}
	}
}
