package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/pull"
	"github.com/herald-eventing/herald/transports/soap"
)

func listen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("listen", "listen [--addr ADDR] [-v] | listen --stream [--topic T | --filter XPATH] [--server URL]", stdout)
	addr := fs.String("addr", "127.0.0.1:9000", "address to listen on")
	verbose := fs.Bool("v", false, "also print each notification's SOAP headers")
	streamMode := fs.Bool("stream", false, "instead of listening, follow Herald's browser stream (server-sent events)")
	var cf clientFlags
	cf.register(fs)
	topic := fs.String("topic", "", "with --stream: the topic to follow")
	filter := fs.String("filter", "", "with --stream: an XPath filter (prefix m: is the message namespace)")
	if err := fs.parseNone(args); err != nil {
		return err
	}
	if *streamMode {
		return followStream(ctx, cf.httpClient(0), cf.base(), *topic, *filter, &cf.output, stdout, stderr)
	}
	if *topic != "" || *filter != "" {
		return fs.usagef("--topic and --filter go with --stream")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	var mu sync.Mutex // one notification printed at a time
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST SOAP notifications here", http.StatusMethodNotAllowed)
			return
		}
		data, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		env, err := soap.Parse(data, 0)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		printNotification(stdout, env, *verbose, &cf.output)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})}
	fmt.Fprintf(stderr, "listening on http://%s/\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// received is one notification or SubscriptionEnd as listen --output
// json prints it.
type received struct {
	Kind       string            `json:"kind"` // notification, subscriptionEnd or message
	Topic      string            `json:"topic,omitempty"`
	InstanceID string            `json:"instanceId,omitempty"`
	Timestamp  string            `json:"timestamp,omitempty"`
	Text       string            `json:"text,omitempty"`
	Info       string            `json:"info,omitempty"`
	ID         string            `json:"id,omitempty"`
	Status     string            `json:"status,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	Element    string            `json:"element,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
}

// printNotification prints one line for a notification or a
// SubscriptionEnd, and with verbose the header blocks below it (with
// --output json: one object).
func printNotification(w io.Writer, env *soap.Envelope, verbose bool, out *outputFormat) {
	p := env.Payload()
	var r received
	switch {
	case p != nil && p.Tag == "message" && p.NamespaceURI() == eventing.MessageNS:
		f := func(name string) string { return addressing.Text(addressing.Child(p, eventing.MessageNS, name)) }
		r = received{Kind: "notification", Topic: f("topic"), InstanceID: f("instanceId"), Timestamp: f("timestamp"), Text: f("text"), Info: f("info")}
	case p != nil && addressing.Is(p, eventing.NS, "SubscriptionEnd"):
		status := eventing.ParseEndStatus(addressing.Text(addressing.Child(p, eventing.NS, "Status")))
		var id string
		if m := addressing.Child(p, eventing.NS, "SubscriptionManager"); m != nil {
			for _, el := range m.FindElements(".//Identifier") {
				id = addressing.Text(el)
			}
		}
		r = received{Kind: "subscriptionEnd", ID: id, Status: status.Short(), Reason: addressing.Text(addressing.Child(p, eventing.NS, "Reason"))}
	case p != nil:
		r = received{Kind: "message", Element: "{" + p.NamespaceURI() + "}" + p.Tag}
	default:
		r = received{Kind: "message"}
	}
	var headers [][2]string
	if verbose && env.Header != nil {
		for _, h := range env.Header.ChildElements() {
			headers = append(headers, [2]string{headerName(h), strings.TrimSpace(headerValue(h))})
		}
	}
	if out.json() {
		for _, h := range headers {
			if r.Headers == nil {
				r.Headers = map[string]string{}
			}
			r.Headers[h[0]] = h[1]
		}
		writeJSON(w, r)
		return
	}
	switch r.Kind {
	case "notification":
		fmt.Fprintf(w, "notification topic=%q instance=%q time=%q text=%q info=%q\n", r.Topic, r.InstanceID, r.Timestamp, r.Text, r.Info)
	case "subscriptionEnd":
		fmt.Fprintf(w, "subscription-end id=%q status=%s reason=%q\n", r.ID, r.Status, r.Reason)
	default:
		if r.Element != "" {
			fmt.Fprintf(w, "message %s\n", r.Element)
		} else {
			fmt.Fprintln(w, "message with an empty body")
		}
	}
	for _, h := range headers {
		fmt.Fprintf(w, "  %s: %s\n", h[0], h[1])
	}
}

func headerName(el *etree.Element) string {
	if el.Space != "" {
		return el.Space + ":" + el.Tag
	}
	return el.Tag
}

func headerValue(el *etree.Element) string {
	if len(el.ChildElements()) == 0 {
		return addressing.Text(el)
	}
	doc := etree.NewDocument()
	doc.SetRoot(addressing.Detach(el))
	s, _ := doc.WriteToString()
	return s
}

// followStream prints the events of Herald's server-sent event stream and,
// like a browser's EventSource, reconnects with Last-Event-ID when the
// connection drops, so nothing is missed.
func followStream(ctx context.Context, client *http.Client, base, topic, filter string, out *outputFormat, stdout, stderr io.Writer) error {
	q := url.Values{}
	if topic != "" {
		q.Set("topic", topic)
	}
	if filter != "" {
		q.Set("filter", filter)
	}
	last := ""
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/stream?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "text/event-stream")
		if last != "" {
			req.Header.Set("Last-Event-ID", last)
		}
		resp, err := client.Do(req)
		if err == nil && resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			return &httpError{status: resp.StatusCode, body: strings.TrimSpace(string(b))}
		}
		if err == nil {
			fmt.Fprintf(stderr, "following %s\n", req.URL)
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 64<<10), 4<<20)
			var id string
			for sc.Scan() {
				line := sc.Text()
				switch {
				case strings.HasPrefix(line, "id:"):
					id = strings.TrimSpace(strings.TrimPrefix(line, "id:"))
				case strings.HasPrefix(line, "data:"):
					var e pull.Event
					if json.Unmarshal([]byte(strings.TrimSpace(strings.TrimPrefix(line, "data:"))), &e) == nil {
						if out.json() {
							writeJSON(stdout, e)
						} else {
							printEvent(stdout, e)
						}
					}
				case line == "" && id != "":
					last = id
				}
			}
			resp.Body.Close()
		}
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
}
