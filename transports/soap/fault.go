package soap

import (
	"encoding/xml"
	"net/http"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/eventing"
)

// prefixFor returns a prefix to use for ns in fault codes.
func prefixFor(ns string) string {
	switch ns {
	case eventing.NS:
		return "wse"
	case eventing.NS2011:
		return "wse11"
	case eventing.HeraldNS:
		return "h"
	case WSSE:
		return "wsse"
	}
	return "q"
}

// qnameValue sets el's text to the QName n, declaring its prefix on el.
func qnameValue(el *etree.Element, n xml.Name) {
	p := prefixFor(n.Space)
	el.CreateAttr("xmlns:"+p, n.Space)
	el.SetText(p + ":" + n.Local)
}

// writeFault fills env's Body (and Header, for MustUnderstand) with f and
// returns the HTTP status of the fault: in SOAP 1.2, 400 for Sender and 500
// otherwise; in SOAP 1.1, 500.
func writeFault(env *Envelope, f *eventing.Fault) int {
	fe := env.Body.CreateElement("s:Fault")
	if env.Version == V11 {
		code := fe.CreateElement("faultcode")
		if f.Subcode.Local != "" {
			// The WS-Addressing/WS-Eventing SOAP 1.1 convention: the
			// subcode stands in faultcode.
			qnameValue(code, f.Subcode)
		} else {
			code.SetText("s:" + code11(f.Code))
		}
		fe.CreateElement("faultstring").SetText(f.Reason)
		if len(f.Detail) > 0 {
			d := fe.CreateElement("detail")
			for _, el := range f.Detail {
				d.AddChild(el.Copy())
			}
		}
		return http.StatusInternalServerError
	}
	code := fe.CreateElement("s:Code")
	code.CreateElement("s:Value").SetText("s:" + f.Code.String())
	if f.Subcode.Local != "" {
		qnameValue(code.CreateElement("s:Subcode").CreateElement("s:Value"), f.Subcode)
	}
	reason := fe.CreateElement("s:Reason").CreateElement("s:Text")
	reason.CreateAttr("xml:lang", "en")
	reason.SetText(f.Reason)
	if len(f.Detail) > 0 {
		d := fe.CreateElement("s:Detail")
		for _, el := range f.Detail {
			d.AddChild(el.Copy())
		}
	}
	for _, n := range f.NotUnderstood {
		nu := env.Header.CreateElement("s:NotUnderstood")
		nu.CreateAttr("xmlns:"+prefixFor(n.Space), n.Space)
		nu.CreateAttr("qname", prefixFor(n.Space)+":"+n.Local)
	}
	if f.Code == eventing.Sender {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func code11(c eventing.Code) string {
	switch c {
	case eventing.Sender:
		return "Client"
	case eventing.MustUnderstand:
		return "MustUnderstand"
	case eventing.VersionMismatch:
		return "VersionMismatch"
	}
	return "Server"
}
