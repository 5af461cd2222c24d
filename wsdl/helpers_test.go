package wsdl

import (
	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/wsdl/internal/wsdlops"
)

// The WSDL helpers of the run-time parser, for the tests.
var (
	childrenNS   = wsdlops.ChildrenNS
	firstChildNS = wsdlops.FirstChildNS
	attrNS       = wsdlops.AttrNS
	resolveQName = wsdlops.ResolveQName
	soapAction   = wsdlops.SOAPAction
)

const (
	nsWSAM = wsdlops.NSWSAM
	nsWSAW = wsdlops.NSWSAW
)

// parseOperations parses the operation table of a WSDL at run time, the
// way internal/gen does for operations.gen.go. Request and Response stay
// nil: only the generator knows the Go types.
func parseOperations(root *etree.Element, file string) ([]Operation, error) {
	parsed, err := wsdlops.Parse(root, file)
	if err != nil {
		return nil, err
	}
	ops := make([]Operation, len(parsed))
	for i, p := range parsed {
		ops[i] = Operation{Name: p.Name, PortType: p.PortType, Action: p.Action, ResponseAction: p.ResponseAction,
			Input: p.Input, Output: p.Output, OneWay: p.OneWay, Path: p.Path, Eventing: p.Eventing, WSDL: p.WSDL}
	}
	return ops, nil
}

// withoutTypes returns a copy of ops with Request and Response cleared.
func withoutTypes(ops []Operation) []Operation {
	out := make([]Operation, len(ops))
	for i, op := range ops {
		op.Request, op.Response = nil, nil
		out[i] = op
	}
	return out
}
