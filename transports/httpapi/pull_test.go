package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/pull"
	"github.com/herald-eventing/herald/transports/soap"
)

func subscribePull(t *testing.T, h *herald, topic string) string {
	t.Helper()
	r := h.post(t, "/eventing", soap12, envelope(soap.V12, "", manageSubscribe("pull", topic, "")))
	if r.status != 200 {
		t.Fatalf("pull subscribe: %d %s", r.status, r.body)
	}
	return bodyText(t, parse(t, r.body), "subscribeResponse/return")
}

func getPull(t *testing.T, h *herald, id, query string) (int, pull.Response, string) {
	t.Helper()
	resp, err := http.Get(h.URL + "/subscriptions/" + id + "/events?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var pr pull.Response
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(b, &pr); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
	}
	return resp.StatusCode, pr, string(b)
}

func texts(p pull.Response) []string {
	var out []string
	for _, e := range p.Events {
		out = append(out, e.Text)
	}
	return out
}

func publishText(t *testing.T, h *herald, topic, text string) {
	t.Helper()
	r := h.post(t, "/messages", "text/xml", `<message xmlns="http://cloud42.jw.de/message"><topic>`+topic+`</topic><text>`+text+`</text></message>`)
	if r.status != 202 {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
}

// A client that crashes between two pulls and resumes with the last cursor
// it saw gets every event exactly once, in order; two pulls with the same
// cursor return the same events; the acknowledged position survives a
// restart of Herald.
func TestPull_ByCursor(t *testing.T) {
	dir := t.TempDir()
	h := start(t, dir, eventing.Options{})
	id := subscribePull(t, h, "pulled")
	for i := range 10 {
		publishText(t, h, "pulled", fmt.Sprint(i))
		publishText(t, h, "other", fmt.Sprint(i))
	}
	_, first, _ := getPull(t, h, id, "max=4")
	_, again, _ := getPull(t, h, id, "max=4")
	if strings.Join(texts(first), ",") != "0,1,2,3" || strings.Join(texts(again), ",") != "0,1,2,3" || first.Cursor != again.Cursor {
		t.Fatalf("first %v (%s), again %v (%s)", texts(first), first.Cursor, texts(again), again.Cursor)
	}
	var got []string
	got = append(got, texts(first)...)
	_, second, _ := getPull(t, h, id, "max=4&cursor="+first.Cursor)
	got = append(got, texts(second)...)
	// The client crashes here, before acknowledging the second batch; it
	// comes back with the last cursor it saw, and Herald restarted too.
	h.stop()
	h = start(t, dir, eventing.Options{})
	_, repeat, _ := getPull(t, h, id, "max=4")
	if strings.Join(texts(repeat), ",") != strings.Join(texts(second), ",") {
		t.Fatalf("without a cursor after the restart: %v; want the unacknowledged %v", texts(repeat), texts(second))
	}
	_, third, _ := getPull(t, h, id, "max=4&cursor="+second.Cursor)
	got = append(got, texts(third)...)
	_, rest, _ := getPull(t, h, id, "cursor="+third.Cursor)
	if len(rest.Events) != 0 {
		t.Fatalf("after the last batch: %v", texts(rest))
	}
	if strings.Join(got, ",") != "0,1,2,3,4,5,6,7,8,9" {
		t.Fatalf("pulled %v; want 0-9 exactly once in order", got)
	}
}

func TestPull_LongPollAndXML(t *testing.T) {
	h := start(t, "", eventing.Options{})
	id := subscribePull(t, h, "lp")
	_, empty, _ := getPull(t, h, id, "")
	go func() {
		time.Sleep(50 * time.Millisecond)
		publishText(t, h, "lp", "late")
	}()
	start := time.Now()
	_, got, _ := getPull(t, h, id, "wait=10s&cursor="+empty.Cursor)
	if len(got.Events) != 1 || got.Events[0].Text != "late" || time.Since(start) > 5*time.Second {
		t.Fatalf("long poll returned %v after %v", texts(got), time.Since(start))
	}
	req, _ := http.NewRequest(http.MethodGet, h.URL+"/subscriptions/"+id+"/events?cursor="+empty.Cursor, nil)
	req.Header.Set("Accept", "application/xml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/xml") || !strings.Contains(string(b), "<h:PullResponse") || !strings.Contains(string(b), "<text>late</text>") {
		t.Fatalf("XML pull: %s %s", resp.Header.Get("Content-Type"), b)
	}
}

func TestPull_Errors(t *testing.T) {
	h := start(t, "", eventing.Options{})
	id := subscribePull(t, h, "e")
	s := newSink(t)
	push, _ := subscribeSeed(t, h, s.URL, "e")
	for _, tt := range []struct {
		id, query string
		status    int
		says      string
	}{
		{"uuid:nope", "", 404, "not known"},
		{push, "", 400, "does not hold its events"},
		{id, "cursor=abc", 400, "not a cursor"},
		{id, "cursor=999999", 400, "beyond the log"},
		{id, "max=0", 400, "positive integer"},
		{id, "wait=soon", 400, "duration"},
	} {
		status, _, body := getPull(t, h, tt.id, tt.query)
		if status != tt.status || !strings.Contains(body, tt.says) {
			t.Errorf("%s?%s: %d %q; want %d saying %q", tt.id, tt.query, status, body, tt.status, tt.says)
		}
	}
}

// Pull through SOAP, with a WS-Eventing subscription in Herald's pull mode.
func TestPull_SOAPWithThePullDeliveryMode(t *testing.T) {
	h := start(t, "", eventing.Options{})
	r := h.post(t, "/eventing", soap12, envelope(soap.V12, wsaHeaders(wsa04, wse+"/Subscribe"),
		`<wse:Subscribe><wse:Delivery Mode="`+eventing.DeliveryModePrefix+`pull"/><wse:Filter Dialect="`+eventing.DialectTopic+`">s</wse:Filter></wse:Subscribe>`))
	if r.status != 200 {
		t.Fatalf("subscribe: %d %s", r.status, r.body)
	}
	id := bodyText(t, parse(t, r.body), "SubscribeResponse/SubscriptionManager/ReferenceParameters/Identifier")
	publishText(t, h, "s", "one")
	publishText(t, h, "s", "two")
	call := func(cursor string) (string, []string) {
		c := ""
		if cursor != "" {
			c = `<h:cursor>` + cursor + `</h:cursor>`
		}
		r := h.post(t, "/subscriptions", soap12, envelope(soap.V12, wsaHeaders(wsa04, eventing.HeraldNS+"/Pull"),
			`<h:Pull xmlns:h="`+eventing.HeraldNS+`"><h:subscriptionId>`+id+`</h:subscriptionId>`+c+`<h:max>1</h:max><h:wait>PT1S</h:wait></h:Pull>`))
		if r.status != 200 {
			t.Fatalf("Pull: %d %s", r.status, r.body)
		}
		env := parse(t, r.body)
		var got []string
		for _, e := range env.Body.FindElements("PullResponse/event/message/text") {
			got = append(got, e.Text())
		}
		return bodyText(t, env, "PullResponse/cursor"), got
	}
	c1, a := call("")
	c2, b := call(c1)
	_, none := call(c2)
	if strings.Join(a, ",") != "one" || strings.Join(b, ",") != "two" || len(none) != 0 {
		t.Fatalf("pulled %v %v %v", a, b, none)
	}
}

// readSSE reads the stream until n events arrived and returns their ids
// and texts.
func readSSE(t *testing.T, body *bufio.Reader, n int) (ids, texts []string) {
	t.Helper()
	for len(texts) < n {
		line, err := body.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "id: "):
			ids = append(ids, strings.TrimPrefix(line, "id: "))
		case strings.HasPrefix(line, "data: "):
			var e pull.Event
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &e); err != nil {
				t.Fatal(err)
			}
			texts = append(texts, e.Text)
		}
	}
	return ids, texts
}

func openStream(t *testing.T, h *herald, query, lastID string) (*bufio.Reader, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.URL+"/stream?"+query, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	return bufio.NewReader(resp.Body), cancel
}

// An SSE client that disconnects and reconnects with Last-Event-ID misses
// nothing.
func TestStream_ResumesWithLastEventID(t *testing.T) {
	h := start(t, "", eventing.Options{})
	body, cancel := openStream(t, h, "topic=live", "")
	publishText(t, h, "live", "a")
	publishText(t, h, "other", "x")
	publishText(t, h, "live", "b")
	ids, got := readSSE(t, body, 2)
	if strings.Join(got, ",") != "a,b" {
		t.Fatalf("stream gave %v", got)
	}
	cancel() // the browser goes away
	publishText(t, h, "live", "c")
	publishText(t, h, "live", "d")
	body, _ = openStream(t, h, "topic=live", ids[len(ids)-1])
	_, got = readSSE(t, body, 2)
	if strings.Join(got, ",") != "c,d" {
		t.Fatalf("after reconnecting: %v; want c,d", got)
	}
	// An XPath filter works too.
	body, _ = openStream(t, h, "filter="+urlQuery("/m:message[m:text='e']"), "")
	publishText(t, h, "live", "not e")
	publishText(t, h, "other", "e")
	if _, got = readSSE(t, body, 1); got[0] != "e" {
		t.Fatalf("filtered stream gave %v", got)
	}
}

func urlQuery(s string) string {
	r := strings.NewReplacer("/", "%2F", ":", "%3A", "[", "%5B", "]", "%5D", "'", "%27", "=", "%3D", " ", "%20")
	return r.Replace(s)
}

func TestStream_BadRequests(t *testing.T) {
	h := start(t, "", eventing.Options{})
	for _, q := range []string{"", "topic=a&filter=b", "filter=" + urlQuery("/m:message["), "topic=a&lastEventId=x"} {
		resp, err := http.Get(h.URL + "/stream?" + q)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || len(b) == 0 {
			t.Errorf("?%s: %d %q; want 400 with a reason", q, resp.StatusCode, b)
		}
	}
}
