// Package sms is the "sms" subscription processor, the Cloud42 seed's own
// example of extensibility (alias my.company.SMSSubscriptionProcessor):
// every event becomes a text message to one phone number, sent through an
// SMS gateway that speaks Twilio's Messages API.
//
// The subscription message is a phone-book entry in any namespace with a
// Number child, as in the seed:
//
//	<tb:Entry xmlns:tb="http://my.company.com/telephonebook">
//	  <tb:Number>408 726 4390</tb:Number>
//	</tb:Entry>
//
// or a bare Number element, or, in a WS-Eventing Subscribe with the
// delivery mode http://herald-eventing.github.io/ns/2026/herald/delivery/sms,
// either of them inside wse:Delivery. The number is normalised to E.164
// with the default country code --sms-country-code (see Normalize).
//
// Each event is POSTed as a form (To, From, Body) with HTTP Basic auth
// (account and token) to {--sms-url}/2010-04-01/Accounts/{--sms-account}/Messages.json.
// The body (see Text) is cut to --sms-segments SMS segments (see Segments
// and Cut). A 2xx answer delivers; 400 (the gateway refuses the message) is
// permanent; anything else is retried, after Retry-After on 429 and 503.
// The token never shows in errors.
//
// Package smstest is a gateway stand-in for tests.
package sms
