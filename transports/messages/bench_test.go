package messages_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store"
	"github.com/herald-eventing/herald/transports/messages"
)

// BenchmarkHandler measures the message endpoint's handler on a store
// without fsync: parsing, validation, the append and the answer, without
// the network or the disk.
func BenchmarkHandler(b *testing.B) {
	db, err := store.Open(b.TempDir(), store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	svc, err := eventing.NewService(b.Context(), eventing.Options{Store: db})
	if err != nil {
		b.Fatal(err)
	}
	h := &messages.Handler{Service: svc}
	body := []byte(`<message xmlns="http://cloud42.jw.de/message"><topic>bench</topic><instanceId>i-bench</instanceId><timestamp>2026-11-22 10:00:00 GMT</timestamp><text>disk full</text><info>sda1</info></message>`)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest(http.MethodPost, "/messages", bytes.NewReader(body))
			r.Header.Set("Content-Type", "text/xml")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusAccepted {
				b.Fatalf("HTTP %d: %s", w.Code, w.Body)
			}
		}
	})
}
