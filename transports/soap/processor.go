package soap

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/httpsend"
)

// ProcessorName is the name of the processor that delivers SOAP
// notifications to a WS-Eventing NotifyTo endpoint; ProcessorAlias is the
// Java class name the Cloud42 seed uses for it.
const (
	ProcessorName  = "soap"
	ProcessorAlias = "de.jw.cloud42.core.eventing.subscriptionProcessor.SOAPSubscriptionProcessor"
)

func init() {
	eventing.Register(eventing.Driver{
		Name:    ProcessorName,
		Aliases: []string{ProcessorAlias},
		Push:    true,
		Open: func(c eventing.Config) (eventing.Processor, error) {
			return &Processor{client: c.HTTPClient}, nil
		},
	})
}

// Processor is the "soap" subscription processor, the one of WS-Eventing
// push delivery (eventing.Driver.Push): its message is a wse:Subscribe of
// either version whose wse:Delivery holds the NotifyTo endpoint reference.
type Processor struct {
	client *http.Client
}

var _ eventing.Processor = (*Processor)(nil)

var _ eventing.TargetedEndpoint = (*Endpoint)(nil)

// Endpoint reads NotifyTo (address trimmed, reference parameters and
// properties kept as XML) and, in 2011, the format (Unwrap or Wrap). No
// wse:Subscribe is an ErrInvalidMessage, no NotifyTo an ErrNoDelivery, an
// address that is not an absolute http(s) URL an ErrUnusableEPR, each
// saying so.
func (p *Processor) Endpoint(_ context.Context, req *eventing.EndpointRequest) (eventing.Endpoint, error) {
	d := req.Delivery
	if d == nil {
		msg := req.Message
		if addressing.Is(msg, eventing.ManagementNS, "subscriptionMessage") {
			return nil, eventing.InvalidMessage("subscriptionMessage is empty: the soap processor needs a wse:Subscribe whose wse:Delivery holds the wse:NotifyTo endpoint")
		}
		return nil, eventing.InvalidMessage(fmt.Sprintf("the soap processor expects a wse:Subscribe ({%s}Subscribe or {%s}Subscribe), got {%s}%s", eventing.NS, eventing.NS2011, msg.NamespaceURI(), msg.Tag))
	}
	if d.NotifyTo == nil {
		return nil, eventing.NoDeliveryMechanism("wse:Delivery has no wse:NotifyTo: push delivery needs the endpoint to notify")
	}
	epr := d.NotifyTo
	if err := checkHTTPURL(epr.Address); err != nil {
		return nil, eventing.UnusableEPR("wse:NotifyTo", fmt.Sprintf("the address %q is not an absolute http(s) URL: %v", epr.Address, err))
	}
	switch d.Format {
	case "", eventing.FormatUnwrap, eventing.FormatWrap:
	default:
		return nil, eventing.DeliveryModeRequestedUnavailable(d.Format, []string{eventing.FormatUnwrap, eventing.FormatWrap})
	}
	return newEndpoint(p.client, epr, req.Secret, d.Wrapped()), nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("no host")
	}
	return nil
}

// Endpoint delivers notifications as SOAP 1.2 envelopes to one NotifyTo:
// the event as the Body (the 2004/08 form, and 2011's Unwrap) or wrapped
// in a 2011 wse:Notify.
type Endpoint struct {
	client  *http.Client
	epr     *addressing.EndpointReference
	secret  string
	key     string
	action  string
	wrapped bool
	// head and tail are the envelope around the MessageID and the body,
	// built once (template): wsa:To, wsa:Action and the reference
	// parameters do not change between notifications.
	once            sync.Once
	head, mid, tail []byte
}

var _ eventing.Endpoint = (*Endpoint)(nil)

func newEndpoint(client *http.Client, epr *addressing.EndpointReference, secret string, wrapped bool) *Endpoint {
	e := &Endpoint{client: client, epr: epr, secret: secret, action: eventing.NotifyAction, wrapped: wrapped}
	if wrapped {
		e.action = eventing.ActionNotifyWrapped
	}
	var key strings.Builder
	key.WriteString(epr.Address)
	for _, p := range append(append([]*etree.Element{}, epr.ReferenceProperties...), epr.ReferenceParameters...) {
		d := etree.NewDocument()
		d.SetRoot(p.Copy())
		s, _ := d.WriteToString()
		key.WriteString("\x00" + s)
	}
	if wrapped {
		key.WriteString("\x00" + eventing.FormatWrap)
	}
	e.key = key.String()
	return e
}

// template builds, on the first notification, the envelope around the
// MessageID and the body: a subscription that is made and never
// notified (or whose endpoint is only validated) costs no envelope.
func (e *Endpoint) template() {
	e.once.Do(func() {
		v := e.epr.Version
		env := New(V12, v)
		env.Header.CreateElement("wsa:Action").SetText(e.action)
		e.epr.AddressHeaders(env.Header, v, "wsa")
		// Markers no subscriber can put into its own address or parameters.
		idMark, bodyMark := "@@id-"+uuid.NewString()+"@@", "@@body-"+uuid.NewString()+"@@"
		env.Header.CreateElement("wsa:MessageID").SetText(idMark)
		if e.wrapped {
			n := env.Body.CreateElement("wse:Notify")
			n.CreateAttr("xmlns:wse", eventing.NS2011)
			n.CreateAttr("actionURI", eventing.NotifyAction)
			n.SetText(bodyMark)
		} else {
			env.Body.SetText(bodyMark)
		}
		doc, _ := env.Doc.WriteToBytes()
		i := strings.Index(string(doc), idMark)
		j := strings.Index(string(doc), bodyMark)
		e.head, e.mid, e.tail = doc[:i], doc[i+len(idMark):j], doc[j+len(bodyMark):]
	})
}

// Key identifies the endpoint by address and reference parameters.
func (e *Endpoint) Key() string { return e.key }

// Envelope returns the notification envelope for n.
func (e *Endpoint) Envelope(n *eventing.Notification) []byte {
	e.template()
	body := n.Event.XML()
	b := make([]byte, 0, len(e.head)+len(n.MessageID)+len(e.mid)+len(body)+len(e.tail))
	b = append(b, e.head...)
	var esc strings.Builder
	_ = xml.EscapeText(&esc, []byte(n.MessageID))
	b = append(b, esc.String()...)
	b = append(b, e.mid...)
	b = append(b, body...)
	return append(b, e.tail...)
}

// Deliver POSTs the notification: wsa:To, wsa:Action (eventing.NotifyAction,
// or ActionNotifyWrapped),
// the stable wsa:MessageID, every reference parameter as a header block,
// and the <message> as the Body.
func (e *Endpoint) Deliver(ctx context.Context, n *eventing.Notification) error {
	return httpsend.Post(ctx, e.client, &httpsend.Request{
		URL:         e.epr.Address,
		ContentType: V12.ContentType(e.action),
		Body:        e.Envelope(n),
		MessageID:   n.MessageID,
		Secret:      e.secret,
	})
}

// Targets implements eventing.TargetedEndpoint: the NotifyTo address.
func (e *Endpoint) Targets() []string { return []string{e.epr.Address} }
