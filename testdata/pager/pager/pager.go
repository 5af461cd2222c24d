// Package pager is a subscription processor written outside Herald, as a
// user would: it registers itself by name and Herald needs no change. A
// subscriber asks for it with
//
//	<p:Pager xmlns:p="urn:example:pager"><p:URL>http://pager.example/page</p:URL></p:Pager>
//
// and every event is POSTed to that URL as one line of plain text, prefixed
// with the setting --pager-prefix.
package pager

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
)

// NS is the namespace of the pager's subscription message.
const NS = "urn:example:pager"

func init() {
	eventing.Register(eventing.Driver{
		Name:     "pager",
		Aliases:  []string{"com.example.PagerSubscriptionProcessor"},
		Settings: []eventing.Setting{{Name: "pager-prefix", Env: "PAGER_PREFIX", Default: "PAGE", Usage: "text in front of every page"}},
		Open: func(c eventing.Config) (eventing.Processor, error) {
			return &processor{prefix: c.Get("pager-prefix"), client: c.HTTPClient}, nil
		},
	})
}

type processor struct {
	prefix string
	client *http.Client
}

func (p *processor) Endpoint(_ context.Context, req *eventing.EndpointRequest) (eventing.Endpoint, error) {
	u := addressing.Text(addressing.Child(req.Message, NS, "URL"))
	if !addressing.Is(req.Message, NS, "Pager") || u == "" {
		return nil, eventing.InvalidMessage("the pager processor takes <p:Pager xmlns:p=\"urn:example:pager\"><p:URL>…</p:URL></p:Pager>")
	}
	if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") {
		return nil, eventing.InvalidMessage(fmt.Sprintf("pager URL %q is not an http(s) URL", u))
	}
	return &endpoint{p: p, url: u}, nil
}

type endpoint struct {
	p   *processor
	url string
}

func (e *endpoint) Key() string { return e.url }

func (e *endpoint) Deliver(ctx context.Context, n *eventing.Notification) error {
	text := fmt.Sprintf("%s %s: %s", e.p.prefix, n.Event.Topic, n.Event.Text)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, strings.NewReader(text))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := e.p.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return &eventing.DeliveryError{Status: resp.StatusCode}
	}
	return nil
}
