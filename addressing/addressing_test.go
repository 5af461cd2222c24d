package addressing_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
)

func root(t *testing.T, s string) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(s); err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

func xmlOf(el *etree.Element) string {
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	s, _ := doc.WriteToString()
	return s
}

func TestParseEPR_2004WithReferenceProperties(t *testing.T) {
	el := root(t, `<env xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:ew="http://www.example.com/warnings">
	  <NotifyTo><wsa:Address>
	      http://www.other.example.com/OnStormWarning
	    </wsa:Address><wsa:ReferenceProperties><ew:MySubscription>2597</ew:MySubscription></wsa:ReferenceProperties>
	    <wsa:ReferenceParameters><ew:Other a="1"/></wsa:ReferenceParameters><wsa:PortType>x</wsa:PortType></NotifyTo></env>`).SelectElement("NotifyTo")
	epr, err := addressing.ParseEPR(el)
	if err != nil {
		t.Fatal(err)
	}
	if epr.Version != addressing.V200408 || epr.Address != "http://www.other.example.com/OnStormWarning" {
		t.Fatalf("epr = %+v", epr)
	}
	if len(epr.ReferenceProperties) != 1 || len(epr.ReferenceParameters) != 1 {
		t.Fatalf("props %d params %d", len(epr.ReferenceProperties), len(epr.ReferenceParameters))
	}
	// Detached: the prefix declared on the envelope travels with it.
	if s := xmlOf(epr.ReferenceProperties[0]); !strings.Contains(s, `xmlns:ew="http://www.example.com/warnings"`) {
		t.Fatalf("detached property lost its namespace: %s", s)
	}
}

func TestParseEPR_Errors(t *testing.T) {
	_, err := addressing.ParseEPR(root(t, `<NotifyTo xmlns:wsa="http://www.w3.org/2005/08/addressing"><wsa:ReferenceParameters/></NotifyTo>`))
	if !errors.Is(err, addressing.ErrNoAddress) {
		t.Fatalf("no Address: %v", err)
	}
	_, err = addressing.ParseEPR(root(t, `<NotifyTo xmlns:wsa="http://www.w3.org/2005/08/addressing"><wsa:Address>a</wsa:Address><wsa:Address>b</wsa:Address></NotifyTo>`))
	if err == nil {
		t.Fatal("two Addresses accepted")
	}
}

func TestAddressHeaders_IsReferenceParameterOnlyIn10(t *testing.T) {
	for _, v := range []addressing.Version{addressing.V200408, addressing.V10} {
		p := root(t, `<ew:MySubscription xmlns:ew="urn:ew">2597</ew:MySubscription>`)
		epr := &addressing.EndpointReference{Version: v, Address: "http://sink/", ReferenceParameters: []*etree.Element{p}}
		h := etree.NewElement("Header")
		h.CreateAttr("xmlns:wsa", v.Namespace())
		epr.AddressHeaders(h, v, "wsa")
		kids := h.ChildElements()
		if len(kids) != 2 || kids[0].Tag != "To" || kids[0].Text() != "http://sink/" {
			t.Fatalf("%v: headers %s", v, xmlOf(h))
		}
		attr := kids[1].SelectAttr("IsReferenceParameter")
		if (attr != nil) != (v == addressing.V10) || (attr != nil && (attr.NamespaceURI() != addressing.NS10 || attr.Value != "true")) {
			t.Fatalf("%v: reference parameter header %s", v, xmlOf(kids[1]))
		}
	}
}

func TestEPRElement_RoundTrip(t *testing.T) {
	for _, v := range []addressing.Version{addressing.V200408, addressing.V10} {
		in := &addressing.EndpointReference{Version: v, Address: "http://a/", ReferenceParameters: []*etree.Element{root(t, `<x:Id xmlns:x="urn:x">7</x:Id>`)}}
		out, err := addressing.ParseEPR(root(t, in.String()))
		if err != nil || out.Version != v || out.Address != "http://a/" || len(out.ReferenceParameters) != 1 || out.ReferenceParameters[0].Text() != "7" {
			t.Fatalf("%v: round trip %+v, %v", v, out, err)
		}
	}
}

func TestReadHeaders(t *testing.T) {
	h := root(t, `<H xmlns:wsa="http://www.w3.org/2005/08/addressing">
	  <wsa:Action>
	     urn:a
	  </wsa:Action><wsa:MessageID> urn:uuid:1 </wsa:MessageID><wsa:To>http://t/</wsa:To>
	  <wsa:ReplyTo><wsa:Address>http://www.w3.org/2005/08/addressing/anonymous</wsa:Address></wsa:ReplyTo>
	  <wsa:FaultTo><wsa:Address>http://faults/</wsa:Address></wsa:FaultTo><other/></H>`)
	got, err := addressing.ReadHeaders(h)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != addressing.V10 || got.Action != "urn:a" || got.MessageID != "urn:uuid:1" || got.To != "http://t/" {
		t.Fatalf("headers %+v", got)
	}
	if got.ReplyEPR() != nil {
		t.Fatal("anonymous ReplyTo is not a separate destination")
	}
	if f := got.FaultEPR(); f == nil || f.Address != "http://faults/" {
		t.Fatalf("FaultEPR = %v", f)
	}
	for name, bad := range map[string]string{
		"duplicate": `<H xmlns:wsa="http://www.w3.org/2005/08/addressing"><wsa:To>a</wsa:To><wsa:To>b</wsa:To></H>`,
		"mixed":     `<H xmlns:a="http://www.w3.org/2005/08/addressing" xmlns:b="http://schemas.xmlsoap.org/ws/2004/08/addressing"><a:To>a</a:To><b:Action>b</b:Action></H>`,
		"empty":     `<H xmlns:wsa="http://www.w3.org/2005/08/addressing"><wsa:Action> </wsa:Action></H>`,
		"bad EPR":   `<H xmlns:wsa="http://www.w3.org/2005/08/addressing"><wsa:ReplyTo/></H>`,
	} {
		var he *addressing.HeaderError
		if _, err := addressing.ReadHeaders(root(t, bad)); !errors.As(err, &he) {
			t.Errorf("%s: err = %v; want a HeaderError", name, err)
		} else if he.Subcode() != "InvalidAddressingHeader" {
			t.Errorf("%s: subcode %s", name, he.Subcode())
		}
	}
	if none, err := addressing.ReadHeaders(nil); err != nil || none.Version != addressing.VersionNone {
		t.Fatalf("no header: %+v %v", none, err)
	}
}

func TestDetach_DefaultNamespace(t *testing.T) {
	el := root(t, `<a xmlns="urn:d"><b><c/></b></a>`).SelectElement("b")
	s := xmlOf(addressing.Detach(el))
	if !strings.Contains(s, `xmlns="urn:d"`) {
		t.Fatalf("default namespace not carried: %s", s)
	}
	el = root(t, `<a><b/></a>`).SelectElement("b")
	if s := xmlOf(addressing.Detach(el)); !strings.Contains(s, `xmlns=""`) {
		t.Fatalf("no-namespace element not protected: %s", s)
	}
}
