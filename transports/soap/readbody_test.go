package soap

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
)

// readBody reads what io.ReadAll reads, whatever length the request
// declares, and stops at the limit as the MaxBytesReader says.
func TestReadBody_AsReadAll(t *testing.T) {
	body := strings.Repeat("<x/>", 300)
	for _, length := range []int64{-1, 0, 10, int64(len(body)) - 1, int64(len(body)), int64(len(body)) + 5, 1 << 40} {
		got, err := readBody(iotest.OneByteReader(strings.NewReader(body)), length, 1<<20)
		if err != nil || string(got) != body {
			t.Errorf("length %d: %d bytes, %v; want the %d of the body", length, len(got), err, len(body))
		}
	}
	rec := httptest.NewRecorder()
	_, err := readBody(http.MaxBytesReader(rec, io.NopCloser(strings.NewReader(body)), 100), int64(len(body)), 100)
	var tooBig *http.MaxBytesError
	if !errors.As(err, &tooBig) {
		t.Errorf("over the limit: %v; want a MaxBytesError", err)
	}
}
