package stream_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store"
	"github.com/herald-eventing/herald/transports/stream"
)

func TestStream_HeartbeatsAndStop(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc, err := eventing.NewService(t.Context(), eventing.Options{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	svc.Start(t.Context())
	defer svc.Shutdown(context.Background())
	srv := httptest.NewServer(&stream.Handler{Service: svc, Heartbeat: 10 * time.Millisecond})
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/stream?topic=t")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	beats := 0
	for beats < 2 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, ": heartbeat") {
			beats++
		}
	}
	svc.Drain()
	for {
		if _, err := r.ReadString('\n'); err != nil {
			return // the server ended the stream
		}
	}
}
