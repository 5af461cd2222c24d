package cli

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/soap"
)

const defaultServer = "http://127.0.0.1:8080"

// clientFlags are the flags every client subcommand has.
type clientFlags struct {
	server  string
	key     string
	timeout time.Duration
}

func (c *clientFlags) register(fs interface {
	StringVar(*string, string, string, string)
	DurationVar(*time.Duration, string, time.Duration, string)
}) {
	c.server = envOr("HERALD_SERVER", defaultServer)
	fs.StringVar(&c.server, "server", c.server, "Herald's base URL (HERALD_SERVER)")
	c.key = os.Getenv("HERALD_KEY")
	fs.StringVar(&c.key, "key", c.key, "API key sent as Authorization: Bearer (HERALD_KEY)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "how long to wait for Herald")
}

func (c *clientFlags) base() string { return strings.TrimRight(c.server, "/") }

func (c *clientFlags) client() *soap.Client {
	return &soap.Client{HTTP: c.httpClient(c.timeout), Addressing: -1}
}

// httpClient returns an HTTP client that sends the key (if any) with every
// request; timeout 0 means none.
func (c *clientFlags) httpClient(timeout time.Duration) *http.Client {
	var rt http.RoundTripper = http.DefaultTransport
	if c.key != "" {
		rt = bearer{key: c.key, next: rt}
	}
	return &http.Client{Timeout: timeout, Transport: rt}
}

// bearer adds Authorization: Bearer to every request.
type bearer struct {
	key  string
	next http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return b.next.RoundTrip(r)
}

// manage calls a Cloud42 management operation and returns the text of its
// <return>.
func (c *clientFlags) manage(ctx context.Context, op string, args ...[2]string) (string, error) {
	payload := etree.NewElement("web:" + op)
	payload.CreateAttr("xmlns:web", eventing.ManagementNS)
	for _, a := range args {
		payload.CreateElement("web:" + a[0]).SetText(a[1])
	}
	return c.manageElement(ctx, op, payload)
}

func (c *clientFlags) manageElement(ctx context.Context, op string, payload *etree.Element) (string, error) {
	env, err := c.client().Call(ctx, c.base()+"/eventing", "urn:"+op, payload)
	if err != nil {
		return "", err
	}
	resp := env.Payload()
	if resp == nil {
		return "", errors.New("empty response")
	}
	return addressing.Text(addressing.Child(resp, eventing.ManagementNS, "return")), nil
}

func subscribeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newFlags("subscribe", "subscribe (--topic T | --filter XPATH) --notify-to URL [flags]", stderr)
	cf.register(fs)
	topic := fs.String("topic", "", "topic to subscribe to")
	notifyTo := fs.String("notify-to", "", "URL of the SOAP endpoint to notify")
	processor := fs.String("processor", "soap", "subscription processor")
	secret := fs.String("secret", "", "signing secret for Standard Webhooks signatures (whsec_… or any string)")
	phone := fs.String("phone", "", "phone number for the sms processor")
	var emails listFlag
	fs.Var(&emails, "email", "mail address for the email processor (repeat, or separate with commas)")
	hookURL := fs.String("url", "", "URL for the webhook processor")
	format := fs.String("format", "cloudevents", "webhook format: cloudevents or xml")
	expires := fs.String("expires", "", "lease: an xs:duration (PT1H) or xs:dateTime; makes a WS-Eventing subscription")
	filter := fs.String("filter", "", "filter expression (XPath 1.0 over the <message>; prefix m: is bound to its namespace); makes a WS-Eventing subscription")
	dialect := fs.String("dialect", "", "filter dialect URI (default XPath 1.0; "+eventing.DialectTopic+" for a topic)")
	endTo := fs.String("end-to", "", "URL that receives SubscriptionEnd if Herald ends the subscription; makes a WS-Eventing subscription")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *expires != "" || *filter != "" || *endTo != "" || *dialect != "" {
		// A WS-Eventing Subscribe: the topic becomes a topic filter.
		if *processor != "soap" {
			return errors.New("--expires, --filter, --dialect and --end-to go with the soap processor")
		}
		if *notifyTo == "" {
			fs.Usage()
			return errors.New("--notify-to is required")
		}
		f, d := *filter, *dialect
		if f == "" {
			if *topic == "" {
				fs.Usage()
				return errors.New("give --topic or --filter")
			}
			f, d = *topic, eventing.DialectTopic
		} else if *topic != "" {
			return errors.New("give --topic or --filter, not both")
		}
		id, granted, err := cf.wseSubscribe(ctx, *notifyTo, *endTo, *expires, d, f, *secret)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, id)
		fmt.Fprintln(stderr, "expires", granted)
		return nil
	}
	if *topic == "" {
		fs.Usage()
		return errors.New("--topic is required")
	}
	payload := etree.NewElement("web:subscribe")
	payload.CreateAttr("xmlns:web", eventing.ManagementNS)
	payload.CreateElement("web:subscriptionProcessor").SetText(*processor)
	payload.CreateElement("web:topic").SetText(*topic)
	msg := payload.CreateElement("web:subscriptionMessage")
	herald := func(parent *etree.Element, local string) *etree.Element {
		el := parent.CreateElement("h:" + local)
		el.CreateAttr("xmlns:h", eventing.HeraldNS)
		return el
	}
	need := func(v, flag string) error {
		if v == "" {
			fs.Usage()
			return fmt.Errorf("--%s is required for the %s processor", flag, *processor)
		}
		return nil
	}
	switch *processor {
	case "soap", soap.ProcessorAlias:
		if err := need(*notifyTo, "notify-to"); err != nil {
			return err
		}
		sub := msg.CreateElement("wse:Subscribe")
		sub.CreateAttr("xmlns:wse", eventing.NS)
		nt := sub.CreateElement("wse:Delivery").CreateElement("wse:NotifyTo")
		nt.CreateAttr("xmlns:wsa", addressing.NS200408)
		nt.CreateElement("wsa:Address").SetText(*notifyTo)
	case "sms":
		if err := need(*phone, "phone"); err != nil {
			return err
		}
		herald(msg, "Entry").CreateElement("h:Number").SetText(*phone)
	case "email":
		if len(emails) == 0 {
			return need("", "email")
		}
		e := herald(msg, "Email")
		for _, a := range emails {
			e.CreateElement("h:Address").SetText(a)
		}
	case "webhook":
		if err := need(*hookURL, "url"); err != nil {
			return err
		}
		w := herald(msg, "Webhook")
		w.CreateElement("h:URL").SetText(*hookURL)
		w.CreateElement("h:Format").SetText(*format)
	case "pull":
		herald(msg, "PullSubscription")
	default:
		return fmt.Errorf("--processor %q: this command line does not know how to describe its endpoint; send the SOAP request yourself", *processor)
	}
	if *secret != "" {
		herald(msg, "Secret").SetText(*secret)
	}
	id, err := cf.manageElement(ctx, "subscribe", payload)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, id)
	return nil
}

// listFlag collects a repeated, comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func unsubscribeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newFlags("unsubscribe", "unsubscribe ID [flags]", stderr)
	cf.register(fs)
	id, err := oneID(fs, args)
	if err != nil {
		return err
	}
	if _, err := cf.manage(ctx, "unsubscribe", [2]string{"subscriptionId", id}); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "unsubscribed", id)
	return nil
}

func publishCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newFlags("publish", "publish --topic T [--instance I] [--text …] [--info …] [flags]", stderr)
	cf.register(fs)
	host, _ := os.Hostname()
	topic := fs.String("topic", "", "the event's topic (required)")
	instance := fs.String("instance", host, "the instance the event comes from")
	text := fs.String("text", "", "the event's text")
	info := fs.String("info", "", "additional information")
	timestamp := fs.String("timestamp", "", "the event's time (default: now, as 2006-01-02 15:04:05 GMT)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *topic == "" {
		fs.Usage()
		return errors.New("--topic is required")
	}
	if *timestamp == "" {
		*timestamp = time.Now().UTC().Format("2006-01-02 15:04:05") + " GMT"
	}
	url, err := cf.manage(ctx, "getEndpointAddress")
	if err != nil {
		return fmt.Errorf("cannot find the message endpoint: %w", err)
	}
	var b bytes.Buffer
	b.WriteString(`<message xmlns="` + eventing.MessageNS + `">`)
	for _, f := range [][2]string{{"topic", *topic}, {"instanceId", *instance}, {"timestamp", *timestamp}, {"text", *text}, {"info", *info}} {
		if f[1] == "" && f[0] != "topic" {
			continue
		}
		b.WriteString("<" + f[0] + ">")
		xml.EscapeText(&b, []byte(f[1]))
		b.WriteString("</" + f[0] + ">")
	}
	b.WriteString("</message>")
	// The endpoint's URL names the host Herald saw; use the server the
	// user gave with the endpoint's path.
	if i := strings.Index(url, "://"); i >= 0 {
		if j := strings.IndexByte(url[i+3:], '/'); j >= 0 {
			url = cf.base() + url[i+3+j:]
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, &b)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	resp, err := cf.httpClient(cf.timeout).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	fmt.Fprintln(stdout, "published", resp.Header.Get("Herald-Sequence"))
	return nil
}
