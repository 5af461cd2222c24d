package cli

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/messages"
	"github.com/herald-eventing/herald/transports/soap"
	"github.com/herald-eventing/herald/xsd"
)

const defaultServer = "http://127.0.0.1:8080"

// stdin is what --text -, --message-file - and publish's document read.
var stdin io.Reader = os.Stdin

// clientFlags are the flags every client subcommand has.
type clientFlags struct {
	server  string
	key     string
	timeout time.Duration
	// adminFallback reads HERALD_ADMIN_KEY when neither --key nor
	// HERALD_KEY is given (the keys subcommands).
	adminFallback bool
	output        outputFormat
}

func (c *clientFlags) register(fs *flagSet) {
	c.server = envOr("HERALD_SERVER", defaultServer)
	fs.StringVar(&c.server, "server", c.server, "Herald's base `URL` (HERALD_SERVER)")
	// The default stays empty so that help never prints a key; the
	// environment is read in httpClient.
	fs.StringVar(&c.key, "key", "", "API key sent as Authorization: Bearer (default: HERALD_KEY)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "how long to wait for Herald")
	registerOutput(fs, &c.output)
}

func (c *clientFlags) base() string { return strings.TrimRight(c.server, "/") }

func (c *clientFlags) client() *soap.Client {
	return &soap.Client{HTTP: c.httpClient(c.timeout), Addressing: -1}
}

// httpClient returns an HTTP client that sends the key (if any) with every
// request; timeout 0 means none.
func (c *clientFlags) httpClient(timeout time.Duration) *http.Client {
	var rt http.RoundTripper = http.DefaultTransport
	if key := c.apiKey(); key != "" {
		host := ""
		if u, err := url.Parse(c.base()); err == nil {
			host = u.Host
		}
		rt = bearer{key: key, host: host, next: rt}
	}
	return &http.Client{Timeout: timeout, Transport: rt}
}

// apiKey is --key, else HERALD_KEY.
func (c *clientFlags) apiKey() string {
	if c.key != "" {
		return c.key
	}
	if k := os.Getenv("HERALD_KEY"); k != "" || !c.adminFallback {
		return k
	}
	return os.Getenv("HERALD_ADMIN_KEY")
}

// bearer adds Authorization: Bearer to the requests for the configured
// server only: a redirect elsewhere never carries the key.
type bearer struct {
	key, host string
	next      http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != b.host {
		return b.next.RoundTrip(r)
	}
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

// readInput reads a file, or stdin for "-".
func readInput(path string, limit int64) ([]byte, error) {
	var r io.Reader = stdin
	name := "stdin"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r, name = f, path
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s holds more than %d bytes", name, limit)
	}
	return data, nil
}

// readMessageFile reads the content of a subscriptionMessage: one or more
// XML elements (each declaring the namespaces it uses).
func readMessageFile(path string) ([]*etree.Element, error) {
	name := path
	if path == "-" {
		name = "stdin"
	}
	data, err := readInput(path, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("--message-file: %w", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, fmt.Errorf("--message-file: %s is not XML: %v", name, err)
	}
	for _, t := range doc.Child {
		if cd, ok := t.(*etree.CharData); ok && strings.TrimSpace(cd.Data) != "" {
			return nil, fmt.Errorf("--message-file: %s has text outside any element: %q", name, strings.TrimSpace(cd.Data))
		}
	}
	els := doc.ChildElements()
	if len(els) == 0 {
		return nil, fmt.Errorf("--message-file: %s holds no XML element", name)
	}
	for _, el := range els {
		doc.RemoveChild(el)
	}
	return els, nil
}

// canonical returns a processor's name for one of its aliases, as this
// binary's registry knows it (the server may know more).
func canonical(processor string) string {
	if d, err := eventing.LookupDriver(processor); err == nil {
		return d.Name
	}
	return processor
}

func subscribeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newFlags("subscribe", "subscribe --topic T [--processor NAME] (--message-file FILE | --notify-to URL | --phone N | --email A | --url URL) [flags]\n"+
		"       herald subscribe (--topic T | --filter XPATH) --notify-to URL [--expires D] [--end-to URL] [flags]", stdout)
	cf.register(fs)
	topic := fs.String("topic", "", "topic to subscribe to")
	processor := fs.String("processor", "soap", "subscription processor: soap, sms, email, webhook, pull, or any the server has")
	messageFile := fs.String("message-file", "", "`FILE` holding the subscriptionMessage content (XML elements) for --processor; - reads stdin")
	notifyTo := fs.String("notify-to", "", "soap processor: `URL` of the SOAP endpoint to notify")
	phone := fs.String("phone", "", "sms processor: phone number")
	var emails listFlag
	fs.Var(&emails, "email", "email processor: mail `ADDRESS` (repeat, or separate with commas)")
	hookURL := fs.String("url", "", "webhook processor: `URL` to POST to")
	format := fs.String("format", "cloudevents", "webhook processor: cloudevents or xml")
	secret := fs.String("secret", "", "signing secret for Standard Webhooks signatures (whsec_… or any string)")
	expires := fs.String("expires", "", "lease: an xs:duration (PT1H) or xs:dateTime; makes a WS-Eventing subscription")
	filter := fs.String("filter", "", "filter expression (XPath 1.0 over the <message>; prefix m: is bound to its namespace); makes a WS-Eventing subscription")
	dialect := fs.String("dialect", "", "filter dialect `URI` (default XPath 1.0; "+eventing.DialectTopic+" for a topic)")
	endTo := fs.String("end-to", "", "`URL` that receives SubscriptionEnd if Herald ends the subscription; makes a WS-Eventing subscription")
	fs.notes = append(fs.notes, "--message-file sends any processor's subscriptionMessage, e.g. for a processor built into the server:\n"+
		"  herald subscribe --topic T --processor pager --message-file pager.xml\n"+
		"  pager.xml: <p:Pager xmlns:p=\"urn:example:pager\"><p:URL>http://pager.example/page</p:URL></p:Pager>\n"+
		"--notify-to, --phone, --email and --url write it for the processors Herald ships.")
	if err := fs.parseNone(args); err != nil {
		return err
	}
	proc := canonical(*processor)
	if *expires != "" || *filter != "" || *endTo != "" || *dialect != "" {
		// A WS-Eventing Subscribe: the topic becomes a topic filter.
		if proc != "soap" || *messageFile != "" {
			return fs.usagef("--expires, --filter, --dialect and --end-to make a WS-Eventing Subscribe, for --notify-to (the soap processor) only")
		}
		if *notifyTo == "" {
			return fs.usagef("--notify-to is required")
		}
		f, d := *filter, *dialect
		if f == "" {
			if *topic == "" {
				return fs.usagef("give --topic or --filter")
			}
			f, d = *topic, eventing.DialectTopic
		} else if *topic != "" {
			return fs.usagef("give --topic or --filter, not both")
		}
		id, granted, err := cf.wseSubscribe(ctx, *notifyTo, *endTo, *expires, d, f, *secret)
		if err != nil {
			return err
		}
		return cf.output.emit(stdout, map[string]any{"id": id, "processor": "soap", "expires": granted}, func() error {
			fmt.Fprintln(stdout, id)
			fmt.Fprintln(stderr, "expires", granted)
			return nil
		})
	}
	if *topic == "" {
		return fs.usagef("--topic is required")
	}
	// The convenience flags describe the shipped processors' endpoints.
	owners := map[string]string{"notify-to": "soap", "phone": "sms", "email": "email", "url": "webhook", "format": "webhook"}
	for _, name := range []string{"notify-to", "phone", "email", "url", "format"} {
		if !fs.isSet(name) {
			continue
		}
		if *messageFile != "" {
			return fs.usagef("--message-file holds the whole subscriptionMessage: leave out --%s", name)
		}
		if owners[name] != proc {
			return fs.usagef("--%s goes with --processor %s, not %s", name, owners[name], *processor)
		}
	}
	var content []*etree.Element
	herald := func(local string) *etree.Element {
		el := etree.NewElement("h:" + local)
		el.CreateAttr("xmlns:h", eventing.HeraldNS)
		content = append(content, el)
		return el
	}
	need := func(v, flag string) error {
		if v == "" {
			return fs.usagef("--%s (or --message-file) is required for the %s processor", flag, proc)
		}
		return nil
	}
	if *messageFile != "" {
		var err error
		if content, err = readMessageFile(*messageFile); err != nil {
			return err
		}
	} else {
		switch proc {
		case "soap":
			if err := need(*notifyTo, "notify-to"); err != nil {
				return err
			}
			sub := etree.NewElement("wse:Subscribe")
			sub.CreateAttr("xmlns:wse", eventing.NS)
			nt := sub.CreateElement("wse:Delivery").CreateElement("wse:NotifyTo")
			nt.CreateAttr("xmlns:wsa", addressing.NS200408)
			nt.CreateElement("wsa:Address").SetText(*notifyTo)
			content = append(content, sub)
		case "sms":
			if err := need(*phone, "phone"); err != nil {
				return err
			}
			herald("Entry").CreateElement("h:Number").SetText(*phone)
		case "email":
			if err := need(strings.Join(emails, ","), "email"); err != nil {
				return err
			}
			e := herald("Email")
			for _, a := range emails {
				e.CreateElement("h:Address").SetText(a)
			}
		case "webhook":
			if err := need(*hookURL, "url"); err != nil {
				return err
			}
			w := herald("Webhook")
			w.CreateElement("h:URL").SetText(*hookURL)
			w.CreateElement("h:Format").SetText(*format)
		case "pull":
			herald("PullSubscription")
		default:
			// Any other processor: an empty subscriptionMessage, which
			// the processor accepts or refuses with a fault saying what
			// it wants (give it with --message-file).
		}
	}
	if *secret != "" {
		herald("Secret").SetText(*secret)
	}
	payload := etree.NewElement("web:subscribe")
	payload.CreateAttr("xmlns:web", eventing.ManagementNS)
	payload.CreateElement("web:subscriptionProcessor").SetText(*processor)
	payload.CreateElement("web:topic").SetText(*topic)
	msg := payload.CreateElement("web:subscriptionMessage")
	for _, el := range content {
		msg.AddChild(el)
	}
	id, err := cf.manageElement(ctx, "subscribe", payload)
	if err != nil {
		return err
	}
	return cf.output.emit(stdout, map[string]any{"id": id, "processor": *processor, "topic": *topic}, func() error {
		_, err := fmt.Fprintln(stdout, id)
		return err
	})
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

func unsubscribeCmd(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var cf clientFlags
	fs := newFlags("unsubscribe", "unsubscribe ID [flags]", stdout)
	cf.register(fs)
	id, err := fs.parseOne(args, "a subscription id")
	if err != nil {
		return err
	}
	if _, err := cf.manage(ctx, "unsubscribe", [2]string{"subscriptionId", id}); err != nil {
		return err
	}
	return cf.output.emit(stdout, map[string]any{"id": id, "unsubscribed": true}, func() error {
		_, err := fmt.Fprintln(stdout, "unsubscribed", id)
		return err
	})
}

// stdinIsTerminal reports whether stdin is a terminal (then publish does
// not wait for a document on it).
var stdinIsTerminal = func() bool { return isTerminal(os.Stdin) }

func publishCmd(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var cf clientFlags
	fs := newFlags("publish", "publish --topic T [--instance I] [--text TEXT|-] [--info INFO|-] [flags]\n"+
		"       herald publish [flags] < message.xml", stdout)
	cf.register(fs)
	host, _ := os.Hostname()
	topic := fs.String("topic", "", "the event's topic (without it, stdin holds a whole <message> document)")
	instance := fs.String("instance", host, "the event's instanceId")
	text := fs.String("text", "", "the event's text; - reads it from stdin")
	info := fs.String("info", "", "additional information; - reads it from stdin")
	timestamp := fs.String("timestamp", "", "the event's time (default: now, as 2006-01-02 15:04:05 GMT)")
	fs.notes = append(fs.notes, "Without --topic, publish reads a Cloud42 <message> document from stdin, checks it against\n"+
		"the message schema and sends it as it is:\n"+
		"  herald publish < testdata/event-message.xml")
	if err := fs.parseNone(args); err != nil {
		return err
	}
	var body []byte
	if *topic == "" {
		for _, f := range []string{"instance", "text", "info", "timestamp"} {
			if fs.isSet(f) {
				return fs.usagef("--%s goes with --topic (a document on stdin carries its own fields)", f)
			}
		}
		if stdinIsTerminal() {
			return fs.usagef("give --topic, or a <message> document on stdin")
		}
		data, err := readInput("-", messages.DefaultMaxBody)
		if err != nil {
			return err
		}
		m, err := xsd.ParseMessage(data)
		if err != nil {
			return fmt.Errorf("stdin is not a message Herald accepts: %v", err)
		}
		body, *topic = data, m.Topic
	} else {
		if *text == "-" && *info == "-" {
			return fs.usagef("only one of --text and --info can read stdin")
		}
		for _, p := range []*string{text, info} {
			if *p == "-" {
				data, err := readInput("-", messages.DefaultMaxBody)
				if err != nil {
					return err
				}
				*p = strings.TrimRight(string(data), "\r\n")
			}
		}
		if *timestamp == "" {
			*timestamp = time.Now().UTC().Format("2006-01-02 15:04:05") + " GMT"
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
		body = b.Bytes()
	}
	url, err := cf.manage(ctx, "getEndpointAddress")
	if err != nil {
		return fmt.Errorf("cannot find the message endpoint: %w", err)
	}
	// The endpoint's URL names the host Herald saw; use the server the
	// user gave with the endpoint's path.
	if i := strings.Index(url, "://"); i >= 0 {
		if j := strings.IndexByte(url[i+3:], '/'); j >= 0 {
			url = cf.base() + url[i+3+j:]
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	resp, err := cf.httpClient(cf.timeout).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusAccepted {
		return &httpError{status: resp.StatusCode, body: strings.TrimSpace(string(answer))}
	}
	seq := resp.Header.Get("Herald-Sequence")
	result := map[string]any{"topic": *topic}
	if n, err := strconv.ParseUint(seq, 10, 64); err == nil {
		result["sequence"] = n
	}
	return cf.output.emit(stdout, result, func() error {
		_, err := fmt.Fprintln(stdout, "published", seq)
		return err
	})
}
