// Package eventing is Herald's domain: subscriptions and their leases, the
// registry of subscription processors, filters, the operations of the
// WS-Eventing event source and subscription manager (and the Cloud42
// management front over them), their faults, and the dispatcher that turns
// logged events into deliveries.
//
// It knows nothing of HTTP or SOAP envelopes. It declares the small
// interfaces it needs (a Store, a Clock, an Ender that sends SubscriptionEnd)
// and is wired to their implementations by cmd/herald.
//
// # Processors
//
// A processor is a named plug-in that reads the variable part of a
// subscription request and returns an Endpoint that knows how to deliver an
// event in its own format. Packages register processors from init, the way
// database/sql drivers register:
//
//	func init() {
//		eventing.Register(eventing.Driver{Name: "sms", Aliases: []string{"my.company.SMSSubscriptionProcessor"}, Open: open})
//	}
//
// # Delivery
//
// Accepted events are appended to a durable log. Every subscription reads
// the log through its own cursor: the Dispatcher matches new events against
// the subscriptions' filters (an index by topic, so topic filters cost
// nothing per unrelated subscription), queues them per subscription and
// delivers them in log order, one at a time per subscription, with retries
// on a backoff schedule. A cursor advances only when the endpoint
// acknowledged the event, so delivery is at least once, and the MessageID
// of a notification is derived from the subscription and the event's
// sequence number, so receivers can drop duplicates.
package eventing
