package smtp

import (
	"context"
	"fmt"
	"net/mail"
	"slices"
	"strings"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
)

// Endpoint parses the subscription message: an h:Email with one to
// MaxAddresses h:Address elements, each an RFC 5322 address (addr-spec,
// optionally with a display name, white space around it ignored). For a
// WS-Eventing Subscribe (delivery mode …/delivery/email) the h:Email is
// read from wse:Delivery. Anything else is a wse:InvalidMessage fault that
// names the address at fault and why. Addresses listed twice (compared
// case-insensitively) are mailed once.
func (p *Processor) Endpoint(_ context.Context, req *eventing.EndpointRequest) (eventing.Endpoint, error) {
	msg := req.Message
	if req.Delivery != nil && msg == nil {
		return nil, eventing.NoDeliveryMechanism("wse:Subscribe has no h:Email in its wse:Delivery: " + wantEmail)
	}
	to, err := parseMessage(msg)
	if err != nil {
		return nil, err
	}
	return p.newEndpoint(to), nil
}

func parseMessage(msg *etree.Element) ([]*mail.Address, error) {
	switch {
	case addressing.Is(msg, eventing.ManagementNS, "subscriptionMessage"):
		return nil, eventing.InvalidMessage("subscriptionMessage is empty: " + wantEmail)
	case !addressing.Is(msg, eventing.HeraldNS, "Email"):
		return nil, eventing.InvalidMessage(fmt.Sprintf("%s, got {%s}%s", wantEmail, msg.NamespaceURI(), msg.Tag))
	}
	children := msg.ChildElements()
	if len(children) == 0 {
		return nil, eventing.InvalidMessage("h:Email lists no h:Address: give at least one mail address")
	}
	if len(children) > MaxAddresses {
		return nil, eventing.InvalidMessage(fmt.Sprintf("h:Email lists %d addresses; at most %d are allowed", len(children), MaxAddresses))
	}
	var to []*mail.Address
	seen := map[string]bool{}
	for i, c := range children {
		if !addressing.Is(c, eventing.HeraldNS, "Address") {
			return nil, eventing.InvalidMessage(fmt.Sprintf("h:Email may hold only h:Address elements; element %d is {%s}%s", i+1, c.NamespaceURI(), c.Tag))
		}
		a, err := parseAddress(addressing.Text(c))
		if err != nil {
			return nil, eventing.InvalidMessage(fmt.Sprintf("h:Address %d: %v", i+1, err))
		}
		if k := strings.ToLower(a.Address); !seen[k] {
			seen[k] = true
			to = append(to, a)
		}
	}
	return to, nil
}

// Limits on one h:Address: its whole text, and the addr-spec in it (the
// most an SMTP path can hold, RFC 5321 4.5.3.1.3).
const (
	maxAddressLen  = 512
	maxAddrSpecLen = 254
)

// parseAddress reads one h:Address (already trimmed).
func parseAddress(s string) (*mail.Address, error) {
	if s == "" {
		return nil, fmt.Errorf("the address is empty")
	}
	if len(s) > maxAddressLen {
		return nil, fmt.Errorf("the address is %d bytes long; at most %d are allowed", len(s), maxAddressLen)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a mail address (%v)", s, strings.TrimPrefix(err.Error(), "mail: "))
	}
	if len(a.Address) > maxAddrSpecLen {
		return nil, fmt.Errorf("%q: the addr-spec is longer than %d characters (RFC 5321)", s, maxAddrSpecLen)
	}
	if !isASCII(a.Address) {
		return nil, fmt.Errorf("%q: internationalized addresses (SMTPUTF8) are not supported; the part in angle brackets must be ASCII", s)
	}
	return a, nil
}

// Endpoint mails notifications to the addresses of one subscription.
type Endpoint struct {
	p     *Processor
	to    []*mail.Address
	rcpts []string // the addr-specs, in the order given
	key   string
	// toHeader is the value of the To header.
	toHeader string
}

var _ eventing.Endpoint = (*Endpoint)(nil)

func (p *Processor) newEndpoint(to []*mail.Address) *Endpoint {
	e := &Endpoint{p: p, to: to}
	keys := make([]string, len(to))
	shown := make([]string, len(to))
	for i, a := range to {
		e.rcpts = append(e.rcpts, a.Address)
		keys[i] = strings.ToLower(a.Address)
		shown[i] = a.String()
	}
	slices.Sort(keys)
	e.key = strings.Join(keys, ",")
	e.toHeader = strings.Join(shown, ", ")
	return e
}

// Key is the subscription's addr-specs, lower-cased, sorted and joined
// with commas: display names and order do not make another endpoint.
func (e *Endpoint) Key() string { return e.key }

// Addresses returns the recipients (duplicates removed), in the order the
// subscription listed them.
func (e *Endpoint) Addresses() []*mail.Address {
	out := make([]*mail.Address, len(e.to))
	for i, a := range e.to {
		c := *a
		out[i] = &c
	}
	return out
}
