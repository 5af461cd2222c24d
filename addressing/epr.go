package addressing

import (
	"errors"
	"fmt"

	"github.com/beevik/etree"
)

// An EndpointReference is a WS-Addressing endpoint reference: an address and
// the reference parameters (and, in 2004/08, reference properties) that
// must be echoed as SOAP header blocks in every message sent to it. The
// parameters are detached copies of the original XML (see Detach).
type EndpointReference struct {
	Version             Version
	Address             string
	ReferenceParameters []*etree.Element
	ReferenceProperties []*etree.Element
}

// ErrNoAddress is returned by ParseEPR for an endpoint reference without a
// wsa:Address child.
var ErrNoAddress = errors.New("endpoint reference has no wsa:Address")

// ParseEPR reads the endpoint reference whose element is el (wse:NotifyTo,
// wsa:ReplyTo, …). Its version is the namespace of its Address child; the
// Address is trimmed of white space.
func ParseEPR(el *etree.Element) (*EndpointReference, error) {
	var epr EndpointReference
	for _, c := range el.ChildElements() {
		v := VersionOf(c.NamespaceURI())
		if v == VersionNone {
			continue // extension elements (PortType, Metadata, Policy …) are ignored
		}
		switch c.Tag {
		case "Address":
			if epr.Version != VersionNone {
				return nil, fmt.Errorf("endpoint reference %s has more than one wsa:Address", el.Tag)
			}
			epr.Version = v
			epr.Address = Text(c)
		case "ReferenceParameters":
			for _, p := range c.ChildElements() {
				epr.ReferenceParameters = append(epr.ReferenceParameters, Detach(p))
			}
		case "ReferenceProperties":
			for _, p := range c.ChildElements() {
				epr.ReferenceProperties = append(epr.ReferenceProperties, Detach(p))
			}
		}
	}
	if epr.Version == VersionNone {
		return nil, fmt.Errorf("%s: %w", el.Tag, ErrNoAddress)
	}
	return &epr, nil
}

// Element builds the endpoint reference as an element named tag (for
// example "wse:NotifyTo"; its prefix must be bound where it is written).
// The EPR declares its own addressing namespace under the prefix "wsa", so it
// is correct in any envelope.
func (r *EndpointReference) Element(tag string) *etree.Element {
	el := etree.NewElement(tag)
	v := r.Version
	if v == VersionNone {
		v = V200408
	}
	el.CreateAttr("xmlns:wsa", v.Namespace())
	el.CreateElement("wsa:Address").SetText(r.Address)
	if len(r.ReferenceProperties) > 0 && v == V200408 {
		rp := el.CreateElement("wsa:ReferenceProperties")
		for _, p := range r.ReferenceProperties {
			rp.AddChild(p.Copy())
		}
	}
	params := r.ReferenceParameters
	if v == V10 {
		// 1.0 has no reference properties: they travel as parameters.
		params = append(append([]*etree.Element{}, r.ReferenceProperties...), params...)
	}
	if len(params) > 0 {
		rp := el.CreateElement("wsa:ReferenceParameters")
		for _, p := range params {
			rp.AddChild(p.Copy())
		}
	}
	return el
}

// String returns the XML of the endpoint reference as element tag.
func (r *EndpointReference) String() string {
	doc := etree.NewDocument()
	el := r.Element("EndpointReference")
	doc.SetRoot(el)
	s, _ := doc.WriteToString()
	return s
}

// AddressHeaders writes the headers of a message addressed to r into
// header: wsa:To (in version v, with the prefix wsaPrefix bound to v's
// namespace on an ancestor) and every reference property and parameter as a
// header block of its own. Under WS-Addressing 1.0 each echoed block carries
// wsa:IsReferenceParameter="true".
func (r *EndpointReference) AddressHeaders(header *etree.Element, v Version, wsaPrefix string) {
	header.CreateElement(wsaPrefix + ":To").SetText(r.Address)
	echo := func(p *etree.Element) {
		cp := p.Copy()
		if v == V10 {
			cp.CreateAttr("xmlns:wsa10", NS10)
			cp.CreateAttr("wsa10:IsReferenceParameter", "true")
		}
		header.AddChild(cp)
	}
	for _, p := range r.ReferenceProperties {
		echo(p)
	}
	for _, p := range r.ReferenceParameters {
		echo(p)
	}
}
