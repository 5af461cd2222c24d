package eventing

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
	"testing"
)

// referenceDedupKey is dedupKey as it was first written (sha256.New, the
// canonical form through a strings.Builder): the keys already stored.
func referenceDedupKey(processor, endpointKey string, f *FilterSpec) string {
	h := sha256.New()
	h.Write([]byte(processor))
	h.Write([]byte{0})
	h.Write([]byte(endpointKey))
	h.Write([]byte{0})
	if f != nil {
		var b strings.Builder
		b.WriteString(f.Dialect + "\x00" + f.Expression)
		for _, k := range slices.Sorted(maps.Keys(f.Namespaces)) {
			b.WriteString("\x00" + k + "=" + f.Namespaces[k])
		}
		h.Write([]byte(b.String()))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// The stored dedup keys do not change: dedupKey gives the key the first
// implementation gave, and costs one allocation (the string).
func TestDedupKey_Stable(t *testing.T) {
	long := strings.Repeat("x", 2000)
	cases := []struct {
		p, k string
		f    *FilterSpec
	}{
		{"soap", "http://127.0.0.1:9/s/1", nil},
		{"soap\x00wse", "owner\x00http://a/", nil},
		{"soap", "http://a/", TopicFilter("t-1")},
		{"soap", long, &FilterSpec{Dialect: "http://www.w3.org/TR/1999/REC-xpath-19991116", Expression: long, Namespaces: map[string]string{"b": "urn:b", "a": "urn:a"}}},
		{"", "", &FilterSpec{}},
	}
	for _, c := range cases {
		if got, want := dedupKey(c.p, c.k, c.f), referenceDedupKey(c.p, c.k, c.f); got != want {
			t.Errorf("dedupKey(%.20q, %.20q, %v) = %s; want %s", c.p, c.k, c.f, got, want)
		}
	}
	f := TopicFilter("t-1")
	if n := testing.AllocsPerRun(100, func() { dedupKey("soap", "http://127.0.0.1:9/s/1", f) }); n > 1 {
		t.Errorf("dedupKey allocates %v times; want 1", n)
	}
}

// FuzzDedupKey compares dedupKey with the first implementation.
func FuzzDedupKey(f *testing.F) {
	f.Add("soap", "http://127.0.0.1:9/s/1", "t", "", "")
	f.Fuzz(func(t *testing.T, p, k, expr, prefix, uri string) {
		var spec *FilterSpec
		if expr != "" {
			spec = &FilterSpec{Dialect: "http://www.w3.org/TR/1999/REC-xpath-19991116", Expression: expr}
			if prefix != "" {
				spec.Namespaces = map[string]string{prefix: uri, "z" + prefix: uri + "z"}
			}
		}
		if got, want := dedupKey(p, k, spec), referenceDedupKey(p, k, spec); got != want {
			t.Fatalf("dedupKey = %s; want %s", got, want)
		}
	})
}
