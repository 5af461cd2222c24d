package soap

import (
	"testing"
	"unsafe"
)

// Subscriptions made through the same address share one manager address
// string (each would otherwise keep its own in memory).
func TestServer_ManagerIsShared(t *testing.T) {
	s := &Server{}
	a, b := s.manager("http://h:1"), s.manager("http://h:1")
	if a != "http://h:1"+ManagerPath || unsafe.StringData(a) != unsafe.StringData(b) {
		t.Fatalf("manager = %q and %q at %p and %p; want one string", a, b, unsafe.StringData(a), unsafe.StringData(b))
	}
	for _, base := range []string{"http://h:2", "http://h:1x", "http://h:", "https://h:1"} {
		if got := s.manager(base); got != base+ManagerPath {
			t.Fatalf("manager(%q) = %q", base, got)
		}
	}
}
