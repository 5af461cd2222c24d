// Package pull is the "pull" subscription processor, for subscribers
// nobody can reach: their events stay in the log behind the subscription's
// cursor and are read with the Pull operation (SOAP, PullDelivery port) or
// with GET /subscriptions/{id}/events, by cursor. The same cursor always
// returns the same events; the stored position moves only when the client
// comes back with the next cursor, so a client that crashes between two
// reads loses and duplicates nothing.
package pull

import (
	"context"
	"fmt"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
)

// Name is the processor's name.
const Name = "pull"

func init() {
	eventing.Register(eventing.Driver{
		Name: Name,
		Open: func(eventing.Config) (eventing.Processor, error) { return processor{}, nil },
	})
}

type processor struct{}

// Endpoint accepts h:PullSubscription, an empty management
// subscriptionMessage, or a WS-Eventing Subscribe (either version) that
// asks for pull (mode or format …/delivery/pull, or h:Processor pull):
// pull takes no parameters.
func (processor) Endpoint(_ context.Context, req *eventing.EndpointRequest) (eventing.Endpoint, error) {
	m := req.Message
	switch {
	case req.Delivery != nil,
		addressing.Is(m, eventing.HeraldNS, "PullSubscription"),
		addressing.Is(m, eventing.ManagementNS, "subscriptionMessage") && len(m.ChildElements()) == 0:
		return endpoint{}, nil
	}
	return nil, eventing.InvalidMessage(fmt.Sprintf("the pull processor takes h:PullSubscription ({%s}PullSubscription) or an empty subscriptionMessage, not {%s}%s",
		eventing.HeraldNS, m.NamespaceURI(), m.Tag))
}

// endpoint is never delivered to (eventing.PullEndpoint).
type endpoint struct{}

var _ eventing.PullEndpoint = endpoint{}

func (endpoint) Pulled()     {}
func (endpoint) Key() string { return "" }
func (endpoint) Deliver(context.Context, *eventing.Notification) error {
	return eventing.Permanent(fmt.Errorf("pull subscriptions are not delivered to"))
}
