// Package webhook is the "webhook" subscription processor: it POSTs every
// event to an http(s) URL, either as a CloudEvents 1.0 JSON event in
// structured content mode (application/cloudevents+json) or as the Cloud42
// <message> itself (application/xml).
//
// The subscription message is Herald's h:Webhook element:
//
//	<h:Webhook xmlns:h="http://herald-eventing.github.io/ns/2026/herald">
//	  <h:URL>https://hooks.example.org/herald</h:URL>
//	  <h:Format>cloudevents</h:Format>
//	</h:Webhook>
//
// Format is "cloudevents" (the default, also for an empty h:Format) or
// "xml"; both values are trimmed of white space. A WS-Eventing Subscribe
// with the delivery mode …/herald/delivery/webhook may carry the h:Webhook
// element inside its wse:Delivery; without one, the wse:NotifyTo address is
// the URL and the format is cloudevents.
//
// When the subscription has a signing secret (h:Secret, next to h:Webhook
// in the management subscriptionMessage), deliveries carry the Standard
// Webhooks headers webhook-id, webhook-timestamp and webhook-signature
// (transports/httpsend). The webhook-id header, the notification's stable
// MessageID, is sent on every delivery, signed or not, so that receivers
// can drop the duplicates at-least-once delivery may bring.
package webhook

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/httpsend"
)

// Name is the processor's registered name.
const Name = "webhook"

// The formats a webhook subscription may ask for.
const (
	// FormatCloudEvents delivers a CloudEvents 1.0 JSON event (structured
	// content mode). It is the default.
	FormatCloudEvents = "cloudevents"
	// FormatXML delivers the event's canonical <message> element.
	FormatXML = "xml"
)

// The Content-Type of each format's deliveries.
const (
	ContentTypeCloudEvents = "application/cloudevents+json; charset=utf-8"
	ContentTypeXML         = "application/xml; charset=utf-8"
)

func init() {
	eventing.Register(eventing.Driver{
		Name: Name,
		Open: func(c eventing.Config) (eventing.Processor, error) {
			return &Processor{client: c.HTTPClient}, nil
		},
	})
}

// Processor is the "webhook" subscription processor. Drivers open it with
// the server's HTTP client; it needs no settings.
type Processor struct {
	client *http.Client
}

var _ eventing.Processor = (*Processor)(nil)

// Endpoint reads an h:Webhook element (or a wse:Subscribe, see the package
// documentation). A missing or unusable URL, an unknown format, or an
// unexpected element is a wse:InvalidMessage fault that says what is
// wrong.
func (p *Processor) Endpoint(_ context.Context, req *eventing.EndpointRequest) (eventing.Endpoint, error) {
	u, format, err := parse(req)
	if err != nil {
		return nil, err
	}
	client := p.client
	if client == nil {
		client = http.DefaultClient
	}
	return &Endpoint{client: client, url: u, format: format, secret: req.Secret}, nil
}

// usage is the shape of the message, quoted by the faults.
const usage = `<h:Webhook xmlns:h="` + eventing.HeraldNS + `"><h:URL>https://…</h:URL><h:Format>cloudevents or xml</h:Format></h:Webhook>`

// parse returns the URL and format of a subscription request.
func parse(req *eventing.EndpointRequest) (u, format string, err error) {
	if req.Delivery != nil {
		return parseDelivery(req.Delivery)
	}
	msg := req.Message
	switch {
	case msg == nil:
		return "", "", eventing.InvalidMessage("the webhook processor needs " + usage)
	case addressing.Is(msg, eventing.HeraldNS, "Webhook"):
		return parseWebhook(msg)
	case addressing.Is(msg, eventing.ManagementNS, "subscriptionMessage"):
		return "", "", eventing.InvalidMessage("subscriptionMessage is empty: the webhook processor needs " + usage)
	}
	return "", "", eventing.InvalidMessage(fmt.Sprintf("the webhook processor expects h:Webhook ({%s}Webhook), got {%s}%s; write %s",
		eventing.HeraldNS, msg.NamespaceURI(), msg.Tag, usage))
}

func parseWebhook(el *etree.Element) (u, format string, err error) {
	var urlEl, formatEl *etree.Element
	for _, c := range el.ChildElements() {
		switch {
		case addressing.Is(c, eventing.HeraldNS, "URL") && urlEl == nil:
			urlEl = c
		case addressing.Is(c, eventing.HeraldNS, "Format") && formatEl == nil:
			formatEl = c
		case addressing.Is(c, eventing.HeraldNS, "URL"), addressing.Is(c, eventing.HeraldNS, "Format"):
			return "", "", eventing.InvalidMessage("h:Webhook has more than one h:" + c.Tag)
		case addressing.Is(c, eventing.HeraldNS, "Secret"):
			// Herald reads h:Secret next to h:Webhook; inside it the secret
			// would be lost, and deliveries would go out unsigned.
			return "", "", eventing.InvalidMessage("h:Secret belongs next to h:Webhook in subscriptionMessage, not inside it")
		default:
			return "", "", eventing.InvalidMessage(fmt.Sprintf("unexpected element {%s}%s in h:Webhook: it takes h:URL and, optionally, h:Format", c.NamespaceURI(), c.Tag))
		}
	}
	if urlEl == nil {
		return "", "", eventing.InvalidMessage("h:Webhook has no h:URL: write " + usage)
	}
	u = addressing.Text(urlEl)
	if err := checkURL(u); err != nil {
		return "", "", eventing.InvalidMessage("h:URL " + err.Error())
	}
	format = FormatCloudEvents
	if formatEl != nil {
		if f := addressing.Text(formatEl); f != "" {
			format = f
		}
	}
	if format != FormatCloudEvents && format != FormatXML {
		return "", "", eventing.InvalidMessage(fmt.Sprintf("h:Format %q is not a webhook format: use %q (CloudEvents 1.0 JSON, the default) or %q (the message as XML)",
			format, FormatCloudEvents, FormatXML))
	}
	return u, format, nil
}

// parseDelivery reads a WS-Eventing Subscribe (either version) that asked
// for webhook delivery: an h:Webhook in wse:Delivery (or beside it), else
// the NotifyTo address.
func parseDelivery(d *eventing.Delivery) (u, format string, err error) {
	for _, el := range d.Extensions {
		if addressing.Is(el, eventing.HeraldNS, "Webhook") {
			return parseWebhook(el)
		}
	}
	epr := d.NotifyTo
	if epr == nil {
		return "", "", eventing.NoDeliveryMechanism("webhook delivery needs an h:Webhook element or a wse:NotifyTo in wse:Delivery")
	}
	if len(epr.ReferenceParameters)+len(epr.ReferenceProperties) > 0 {
		return "", "", eventing.UnusableEPR("wse:NotifyTo", "a webhook cannot carry the wse:NotifyTo reference parameters: use the soap processor (delivery mode Push) for them")
	}
	if err := checkURL(epr.Address); err != nil {
		return "", "", eventing.UnusableEPR("wse:NotifyTo", "the address "+err.Error())
	}
	return epr.Address, FormatCloudEvents, nil
}

// checkURL says what keeps s from being a webhook URL; the error reads
// after the name of the element that holds it.
func checkURL(s string) error {
	if s == "" {
		return fmt.Errorf("is empty: give the absolute http(s) URL to POST events to")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", s, unwrapURLError(err))
	}
	switch {
	case u.Scheme == "":
		return fmt.Errorf("%q is not an absolute URL: it has no scheme (http or https)", s)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q has the scheme %q: webhooks are delivered over http or https only", s, u.Scheme)
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return fmt.Errorf("%q carries user information (user:password@): Herald does not send credentials in URLs; use h:Secret to sign deliveries", s)
	}
	return nil
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// Endpoint delivers to one webhook URL in one format.
type Endpoint struct {
	client *http.Client
	url    string
	format string
	secret string
}

var _ eventing.TargetedEndpoint = (*Endpoint)(nil)

// Targets implements eventing.TargetedEndpoint: the webhook URL.
func (e *Endpoint) Targets() []string { return []string{e.url} }

// URL returns the URL events are POSTed to.
func (e *Endpoint) URL() string { return e.url }

// Format returns FormatCloudEvents or FormatXML.
func (e *Endpoint) Format() string { return e.format }

// Key identifies the endpoint: the format, a space and the URL.
func (e *Endpoint) Key() string { return e.format + " " + e.url }

// Body returns the request body for n and its Content-Type.
func (e *Endpoint) Body(n *eventing.Notification) (body []byte, contentType string) {
	if e.format == FormatXML {
		return n.Event.XML(), ContentTypeXML
	}
	return NewCloudEvent(n).JSON(), ContentTypeCloudEvents
}

// Deliver POSTs the notification. Only a 2xx answer counts as delivered;
// 429 and 503 answers' Retry-After is passed on to the dispatcher.
func (e *Endpoint) Deliver(ctx context.Context, n *eventing.Notification) error {
	body, ctype := e.Body(n)
	var h http.Header
	if n.MessageID != "" {
		h = http.Header{"Webhook-Id": {n.MessageID}}
	}
	return httpsend.Post(ctx, e.client, &httpsend.Request{
		URL:         e.url,
		ContentType: ctype,
		Body:        body,
		Header:      h,
		MessageID:   n.MessageID,
		Secret:      e.secret,
	})
}
