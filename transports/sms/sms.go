package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/httpsend"
)

// Name is the processor's name; Alias the Java class name of the seed.
const (
	Name  = "sms"
	Alias = "my.company.SMSSubscriptionProcessor"
)

// Settings of the processor (flags of herald serve, and environment
// variables).
const (
	SettingURL         = "sms-url"
	SettingAccount     = "sms-account"
	SettingToken       = "sms-token"
	SettingFrom        = "sms-from"
	SettingSegments    = "sms-segments"
	SettingCountryCode = "sms-country-code"
)

func init() {
	eventing.Register(eventing.Driver{
		Name:    Name,
		Aliases: []string{Alias},
		Settings: []eventing.Setting{
			{Name: SettingURL, Env: "HERALD_SMS_URL", Usage: "base URL of the SMS gateway's Twilio-style API, e.g. https://api.twilio.com"},
			{Name: SettingAccount, Env: "HERALD_SMS_ACCOUNT", Usage: "SMS gateway account (SID)"},
			{Name: SettingToken, Env: "HERALD_SMS_TOKEN", Usage: "SMS gateway auth token", Secret: true},
			{Name: SettingFrom, Env: "HERALD_SMS_FROM", Usage: "sender number (E.164) of text messages"},
			{Name: SettingSegments, Env: "HERALD_SMS_SEGMENTS", Default: "3", Usage: "longest text message, in SMS segments"},
			{Name: SettingCountryCode, Env: "HERALD_SMS_COUNTRY_CODE", Default: "1", Usage: "country code for phone numbers given without one"},
		},
		Open: Open,
	})
}

// Processor is the sms processor, configured for one server.
type Processor struct {
	api      string // the Messages resource URL
	account  string
	token    string
	from     string
	segments int
	country  string
	client   *http.Client
}

var _ eventing.Processor = (*Processor)(nil)

// Open configures the processor; without a gateway it fails with the
// settings that are missing.
func Open(c eventing.Config) (eventing.Processor, error) {
	get := c.Get
	if get == nil {
		get = func(string) string { return "" }
	}
	var missing []string
	for _, s := range []string{SettingURL, SettingAccount, SettingToken, SettingFrom} {
		if strings.TrimSpace(get(s)) == "" {
			missing = append(missing, "--"+s)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no SMS gateway configured (set %s)", strings.Join(missing, ", "))
	}
	base, err := url.Parse(strings.TrimRight(strings.TrimSpace(get(SettingURL)), "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("--%s %q is not an http(s) URL", SettingURL, get(SettingURL))
	}
	segments := 3
	if v := strings.TrimSpace(get(SettingSegments)); v != "" {
		if segments, err = strconv.Atoi(v); err != nil || segments < 1 || segments > 10 {
			return nil, fmt.Errorf("--%s %q is not a number from 1 to 10", SettingSegments, v)
		}
	}
	country := strings.TrimPrefix(strings.TrimSpace(get(SettingCountryCode)), "+")
	if country == "" {
		country = "1"
	}
	if n, err := strconv.Atoi(country); err != nil || n < 1 || len(country) > 3 {
		return nil, fmt.Errorf("--%s %q is not a country calling code", SettingCountryCode, get(SettingCountryCode))
	}
	from, err := Normalize(get(SettingFrom), country)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", SettingFrom, err)
	}
	client := c.ServiceHTTPClient // the gateway is the operator's, not a subscriber's target
	if client == nil {
		client = http.DefaultClient
	}
	account := strings.TrimSpace(get(SettingAccount))
	return &Processor{
		api:     base.String() + "/2010-04-01/Accounts/" + url.PathEscape(account) + "/Messages.json",
		account: account, token: get(SettingToken), from: from,
		segments: segments, country: country, client: client,
	}, nil
}

// wantNumber is what the processor asks for.
const wantNumber = "the sms processor needs a phone-book entry with a Number, like <tb:Entry xmlns:tb=\"http://my.company.com/telephonebook\"><tb:Number>408 726 4390</tb:Number></tb:Entry>"

// Endpoint reads the phone number: the Number child (any namespace) of the
// message's element, or the element itself when it is a Number; for a
// WS-Eventing Subscribe (delivery mode …/delivery/sms), such an element in
// its wse:Delivery. The number is normalised to E.164 (see Normalize);
// anything else is a wse:InvalidMessage fault that says what is wrong.
func (p *Processor) Endpoint(_ context.Context, req *eventing.EndpointRequest) (eventing.Endpoint, error) {
	m := req.Message
	if req.Delivery != nil && m == nil {
		return nil, eventing.NoDeliveryMechanism("wse:Subscribe has no phone-book entry in its wse:Delivery: " + wantNumber)
	}
	el, err := numberElement(m)
	if err != nil {
		return nil, err
	}
	e164, err := Normalize(addressing.Text(el), p.country)
	if err != nil {
		return nil, eventing.InvalidMessage(fmt.Sprintf("%s: %v", el.Tag, err))
	}
	return &Endpoint{p: p, to: e164}, nil
}

// numberElement finds the Number element of a subscription message.
func numberElement(m *etree.Element) (*etree.Element, error) {
	switch {
	case m == nil:
		return nil, eventing.InvalidMessage("no subscription message: " + wantNumber)
	case addressing.Is(m, eventing.ManagementNS, "subscriptionMessage"):
		return nil, eventing.InvalidMessage("subscriptionMessage holds no element: " + wantNumber)
	}
	if n := number(m); n != nil {
		return n, nil
	}
	return nil, eventing.InvalidMessage(fmt.Sprintf("{%s}%s has no Number child: %s", m.NamespaceURI(), m.Tag, wantNumber))
}

// number returns el when it is a Number (any namespace), else its first
// Number child, else nil.
func number(el *etree.Element) *etree.Element {
	if el.Tag == "Number" {
		return el
	}
	for _, c := range el.ChildElements() {
		if c.Tag == "Number" {
			return c
		}
	}
	return nil
}

// Endpoint sends text messages to one number.
type Endpoint struct {
	p  *Processor
	to string
}

var _ eventing.Endpoint = (*Endpoint)(nil)

// Key is the number in E.164.
func (e *Endpoint) Key() string { return e.to }

// Deliver posts one message to the gateway. The gateway refusing the
// message (400) is permanent; 429 and 503 carry Retry-After; anything else
// is retried.
func (e *Endpoint) Deliver(ctx context.Context, n *eventing.Notification) error {
	form := url.Values{"To": {e.to}, "From": {e.p.from}, "Body": {Text(n.Event, e.p.segments)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.p.api, strings.NewReader(form.Encode()))
	if err != nil {
		return eventing.Permanent(fmt.Errorf("sms gateway request: %w", err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Herald")
	req.SetBasicAuth(e.p.account, e.p.token)
	resp, err := e.p.client.Do(req)
	if err != nil {
		return &eventing.DeliveryError{Err: redact(err, e.p.token)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	de := &eventing.DeliveryError{Status: resp.StatusCode, Err: gatewayError(body), Permanent: resp.StatusCode == http.StatusBadRequest}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		de.RetryAfter = httpsend.RetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return de
}

// gatewayError reads a Twilio-style error ({"code":…, "message":…}).
func gatewayError(body []byte) error {
	var e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		if e.Code != 0 {
			return fmt.Errorf("gateway error %d: %s", e.Code, e.Message)
		}
		return errors.New("gateway: " + e.Message)
	}
	if s := strings.TrimSpace(string(body)); s != "" {
		if len(s) > 200 {
			s = s[:200] + "…"
		}
		return errors.New("gateway: " + s)
	}
	return nil
}

// redact keeps the token out of an error's text.
func redact(err error, token string) error {
	if token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), token, "[token]"))
}
