package soap

import (
	"context"
	"fmt"
	"net/http"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/httpsend"
)

// Ender sends WS-Eventing SubscriptionEnd messages to a subscription's
// EndTo. It implements eventing.Ender.
type Ender struct {
	Client *http.Client
}

var _ eventing.Ender = (*Ender)(nil)

// EndEnvelope builds the SubscriptionEnd message for sub in its
// WS-Eventing version: addressed to its EndTo (wsa:To and reference
// parameters), with the SubscriptionManager EPR (2004/08 only), the Status
// and the Reason.
func EndEnvelope(sub *eventing.Subscription, status eventing.EndStatus, reason string) (*Envelope, *addressing.EndpointReference, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromString(sub.EndTo); err != nil || doc.Root() == nil {
		return nil, nil, fmt.Errorf("soap: subscription %s has an unreadable EndTo: %v", sub.ID, err)
	}
	epr, err := addressing.ParseEPR(doc.Root())
	if err != nil {
		return nil, nil, fmt.Errorf("soap: subscription %s: EndTo: %w", sub.ID, err)
	}
	v := sub.Version()
	env := New(V12, epr.Version)
	env.Header.CreateElement("wsa:Action").SetText(v.Action("SubscriptionEnd"))
	env.Header.CreateElement("wsa:MessageID").SetText("urn:uuid:" + uuid.NewString())
	epr.AddressHeaders(env.Header, epr.Version, "wsa")
	end := evElement(v, "SubscriptionEnd")
	if v == eventing.V200408 {
		// 2011 dropped it: the sink correlates by EndTo's parameters.
		end.AddChild(ManagerEPR(sub).Element("wse:SubscriptionManager"))
	}
	end.CreateElement("wse:Status").SetText(v.StatusURI(status))
	r := end.CreateElement("wse:Reason")
	r.CreateAttr("xml:lang", "en")
	r.SetText(reason)
	env.Body.AddChild(end)
	return env, epr, nil
}

// SubscriptionEnd sends one SubscriptionEnd message.
func (e *Ender) SubscriptionEnd(ctx context.Context, sub *eventing.Subscription, status eventing.EndStatus, reason string) error {
	env, epr, err := EndEnvelope(sub, status, reason)
	if err != nil {
		return err
	}
	if addressing.IsAnonymous(epr.Address) || epr.Address == epr.Version.None() {
		return nil
	}
	client := e.Client
	if client == nil {
		client = http.DefaultClient
	}
	return httpsend.Post(ctx, client, &httpsend.Request{
		URL:         epr.Address,
		ContentType: V12.ContentType(sub.Version().Action("SubscriptionEnd")),
		Body:        env.Bytes(),
	})
}
