package soap

import (
	"encoding/xml"
	"reflect"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/wsdl"
)

// fastDecoders decode the payloads of the operations taken most often
// straight from the tree, into what decode's encoding/xml gives (the
// tokens of elementTokens, each name as encoding/xml's Token translates
// it); a decoder reports false to leave a payload to encoding/xml. A
// Cloud42 subscribe decoded through tokens was about a seventh of its
// garbage. Read-only.
var fastDecoders = map[reflect.Type]func(payload *etree.Element) (any, bool){
	reflect.TypeFor[wsdl.Subscribe](): decodeSubscribe,
}

// xmlNS is the namespace the prefix xml stands for (encoding/xml's
// translate writes it for a name of that space).
const xmlNS = "http://www.w3.org/XML/1998/namespace"

// tokenName is the name encoding/xml's Token gives the element el of the
// payload read through t (elementTokens.name, then translate: no xmlns
// attribute reaches it, so only the space xml changes).
func (t *elementTokens) tokenName(el *etree.Element) xml.Name {
	n := t.name(el)
	if n.Space == "xml" {
		n.Space = xmlNS
	}
	return n
}

// decodeSubscribe is decode for wsdl.Subscribe: for each child in the
// Cloud42 namespace, a string field takes the element's character data
// (the last such element wins); subscriptionMessage (allocated at the
// first) takes its character data and appends each child element, with
// its attributes but the namespace declarations (and no inner XML:
// encoding/xml keeps none from tokens).
func decodeSubscribe(payload *etree.Element) (any, bool) {
	if !plainNames(payload) {
		return nil, false
	}
	t := elementTokens{root: payload}
	v := &wsdl.Subscribe{XMLName: t.tokenName(payload)}
	if v.XMLName != (xml.Name{Space: eventing.ManagementNS, Local: "subscribe"}) {
		return nil, false
	}
	for _, tok := range payload.Child {
		c, ok := tok.(*etree.Element)
		if !ok {
			continue
		}
		name := t.tokenName(c)
		if name.Space != eventing.ManagementNS {
			continue
		}
		switch name.Local {
		case "subscriptionProcessor":
			v.SubscriptionProcessor = charData(c)
		case "topic":
			v.Topic = charData(c)
		case "subscriptionMessage":
			if v.SubscriptionMessage == nil {
				v.SubscriptionMessage = &wsdl.SubscriptionMessageType{}
			}
			m := v.SubscriptionMessage
			m.CharData = charData(c)
			for _, tok := range c.Child {
				e, ok := tok.(*etree.Element)
				if !ok {
					continue
				}
				item := wsdl.AnyElement{XMLName: t.tokenName(e)}
				for _, a := range e.Attr {
					if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
						continue
					}
					an := xml.Name{Space: a.NamespaceURI(), Local: a.Key}
					if an.Space == "xml" {
						an.Space = xmlNS
					}
					item.Attrs = append(item.Attrs, xml.Attr{Name: an, Value: a.Value})
				}
				m.Items = append(m.Items, item)
			}
		}
	}
	return v, true
}

// plainNames reports whether no name in el's tree is one that encoding/xml
// translates or takes for a declaration when it reads the tree's tokens:
// an element or attribute in the space xml or xmlns, or an attribute that
// elementTokens passes on as the default declaration.
func plainNames(el *etree.Element) bool {
	if ns := el.NamespaceURI(); ns == "xml" || ns == "xmlns" {
		return false
	}
	for _, a := range el.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue // left out by elementTokens
		}
		if ns := a.NamespaceURI(); ns == "xml" || ns == "xmlns" || (ns == "" && a.Key == "xmlns") {
			return false
		}
	}
	for _, tok := range el.Child {
		if c, ok := tok.(*etree.Element); ok && !plainNames(c) {
			return false
		}
	}
	return true
}

// charData is the concatenation of el's own character data, as
// encoding/xml reads an element into a string (comments and child
// elements skipped).
func charData(el *etree.Element) string {
	var s string
	n := 0
	for _, tok := range el.Child {
		if c, ok := tok.(*etree.CharData); ok {
			if n == 0 {
				s = c.Data
			} else {
				s += c.Data
			}
			n++
		}
	}
	return s
}
