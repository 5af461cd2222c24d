package soap

import (
	"slices"
	"testing"

	"github.com/herald-eventing/herald/wsdl"
)

// The dispatch table comes from both WSDLs: every operation Herald serves
// has a handler and every handler an operation, each action and Body
// element routes to its operation, and the operations of fixed shape
// decode into their generated request type.
func TestDispatchTable_MatchesTheWSDL(t *testing.T) {
	s, err := NewServer(Options{})
	if err != nil {
		t.Fatal(err)
	}
	handlers := s.handlers()
	var served []string
	versions := map[string]bool{}
	for _, op := range wsdl.AllOperations() {
		if op.OneWay {
			if s.byAction[op.Action] != nil {
				t.Errorf("one-way operation %s (%s) is served: Herald sends it", op.Name, op.WSDL)
			}
			continue
		}
		served = append(served, op.Name)
		versions[op.Eventing] = true
		if _, ok := handlers[op.Name]; !ok {
			t.Errorf("WSDL operation %s has no handler", op.Name)
		}
		if rt := s.byAction[op.Action]; rt == nil || rt.op.Name != op.Name || rt.op.WSDL != op.WSDL {
			t.Errorf("action %s does not route to %s (%s)", op.Action, op.Name, op.WSDL)
		}
		if rt := s.byBody[op.Input]; rt == nil || rt.op.Action != op.Action {
			t.Errorf("body element %v does not route to %s (%s)", op.Input, op.Name, op.WSDL)
		}
		if op.Eventing == "" && op.Request == nil {
			t.Errorf("operation %s has a fixed shape but no generated request type", op.Name)
		}
	}
	for name := range handlers {
		if !slices.Contains(served, name) {
			t.Errorf("handler %s has no WSDL operation", name)
		}
	}
	for _, ns := range []string{"", wsdl.Eventing2004, wsdl.Eventing2011} {
		if !versions[ns] {
			t.Errorf("no operation of %q is served", ns)
		}
	}
	// Both directions fail NewServer: a handler the WSDL does not
	// declare, and an operation without a handler.
	if n := len(s.byAction); n != len(served) {
		t.Errorf("%d routes for %d served operations", n, len(served))
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
