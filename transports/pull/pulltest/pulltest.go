// Package pulltest is the stand-in for the pull processor, for
// processortest: a client that reads the held events by cursor.
package pulltest

import (
	"sync"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/processortest"
	"github.com/herald-eventing/herald/transports/pull"
)

// Fixture describes the pull processor to the shared suite.
func Fixture() processortest.Fixture {
	return processortest.Fixture{
		Processor: pull.Name,
		Valid: []string{
			`<h:PullSubscription xmlns:h="` + eventing.HeraldNS + `"/>`,
			`<web:subscriptionMessage xmlns:web="` + eventing.ManagementNS + `"/>`,
		},
		Invalid: []string{
			`<h:Webhook xmlns:h="` + eventing.HeraldNS + `"><h:URL>http://x.example/</h:URL></h:Webhook>`,
			`<tb:Entry xmlns:tb="http://my.company.com/telephonebook"><tb:Number>408 726 4390</tb:Number></tb:Entry>`,
		},
		StandIn: func(*testing.T) processortest.StandIn { return &Client{cursors: map[string]*uint64{}} },
	}
}

// Client pulls like a subscriber would: it remembers the cursor of each
// subscription and comes back with it.
type Client struct {
	mu      sync.Mutex
	cursors map[string]*uint64
}

// Settings implements processortest.StandIn.
func (c *Client) Settings() map[string]string { return nil }

// Message implements processortest.StandIn.
func (c *Client) Message() string { return `<h:PullSubscription xmlns:h="` + eventing.HeraldNS + `"/>` }

// Next implements processortest.StandIn: it pulls one event.
func (c *Client) Next(t *testing.T, svc *eventing.Service, id string) string {
	t.Helper()
	c.mu.Lock()
	cursor := c.cursors[id]
	c.mu.Unlock()
	p, err := svc.Pull(t.Context(), id, cursor, 1, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) == 0 {
		t.Fatal("nothing to pull within 10s")
	}
	next := p.Cursor
	c.mu.Lock()
	c.cursors[id] = &next
	c.mu.Unlock()
	return p.Events[0].Text
}

// FailNext implements processortest.StandIn: nothing is delivered to a
// pull subscriber, so nothing can fail.
func (c *Client) FailNext(int) bool { return false }
