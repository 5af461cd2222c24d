package soap

import (
	"slices"
	"testing"

	"github.com/herald-eventing/herald/wsdl"
)

// The dispatch table comes from the WSDL: every operation Herald serves has
// a handler and every handler an operation.
func TestDispatchTable_MatchesTheWSDL(t *testing.T) {
	s := &Server{}
	handlers := s.handlers()
	var served []string
	for _, op := range wsdl.Operations() {
		if op.OneWay {
			continue
		}
		served = append(served, op.Name)
		if _, ok := handlers[op.Name]; !ok {
			t.Errorf("WSDL operation %s has no handler", op.Name)
		}
	}
	for name := range handlers {
		if !slices.Contains(served, name) {
			t.Errorf("handler %s has no WSDL operation", name)
		}
	}
	if _, err := NewServer(Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestParseMedia_ParametersInAnyOrder(t *testing.T) {
	for _, ct := range []string{
		`application/soap+xml; charset=utf-8; action="urn:a"`,
		`application/soap+xml;action="urn:a";charset=UTF-8`,
		`Application/SOAP+XML; action=urn:a`,
	} {
		m := parseMedia(ct)
		if m.typ != "application/soap+xml" || m.action != "urn:a" {
			t.Errorf("%q → %+v", ct, m)
		}
	}
}
