package eventing_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/eventingtest"
	"github.com/herald-eventing/herald/store"
)

// The tests deliver through "post", a processor registered here whose
// endpoint POSTs the event's XML to a URL (a real HTTP request to an
// httptest server), with the notification's MessageID and attempt in
// headers.
const postProcessor = "post"

type postEndpoint struct{ url string }

func (p postEndpoint) Key() string { return p.url }

func (p postEndpoint) Deliver(ctx context.Context, n *eventing.Notification) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.url, strings.NewReader(string(n.Event.XML())))
	req.Header.Set("Message-Id", n.MessageID)
	req.Header.Set("Seq", strconv.FormatUint(n.Event.Seq, 10))
	req.Header.Set("Attempt", strconv.Itoa(n.Attempt))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	de := &eventing.DeliveryError{Status: resp.StatusCode}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		de.RetryAfter = time.Duration(ra) * time.Second
	}
	return de
}

type postProc struct{}

func (postProc) Endpoint(_ context.Context, r *eventing.EndpointRequest) (eventing.Endpoint, error) {
	u := r.Message.SelectAttrValue("url", "")
	if u == "" {
		return nil, eventing.InvalidMessage("target has no url")
	}
	return postEndpoint{u}, nil
}

var registerOnce sync.Once

func registerPost() {
	registerOnce.Do(func() {
		eventing.Register(eventing.Driver{Name: postProcessor, Open: func(eventing.Config) (eventing.Processor, error) { return postProc{}, nil }})
	})
}

// delivery is one request a sink received.
type delivery struct {
	seq       uint64
	attempt   int
	messageID string
	text      string
	at        time.Time
}

// sink is an httptest server that records deliveries and answers with
// status(n) for the n-th request (from 0).
type sink struct {
	*httptest.Server
	clock  eventing.Clock
	mu     sync.Mutex
	got    []delivery
	status func(n int) (int, http.Header)
	ch     chan delivery
	block  chan struct{} // when not nil, requests wait for it to close
	n      int
}

func newSink(t *testing.T, clock eventing.Clock) *sink {
	s := &sink{clock: clock, ch: make(chan delivery, 10000)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		block := s.block
		s.mu.Unlock()
		if block != nil {
			<-block
		}
		body, _ := io.ReadAll(r.Body)
		seq, _ := strconv.ParseUint(r.Header.Get("Seq"), 10, 64)
		att, _ := strconv.Atoi(r.Header.Get("Attempt"))
		d := delivery{seq: seq, attempt: att, messageID: r.Header.Get("Message-Id"), at: s.clock.Now()}
		doc := etree.NewDocument()
		if doc.ReadFromBytes(body) == nil && doc.Root() != nil {
			if e := doc.Root().SelectElement("text"); e != nil {
				d.text = e.Text()
			}
		}
		s.mu.Lock()
		n := s.n
		s.n++
		code, hdr := 202, http.Header(nil)
		if s.status != nil {
			code, hdr = s.status(n)
		}
		if code/100 == 2 {
			s.got = append(s.got, d)
		}
		s.mu.Unlock()
		for k, v := range hdr {
			w.Header()[k] = v
		}
		w.WriteHeader(code)
		s.ch <- d
	}))
	t.Cleanup(func() {
		s.mu.Lock()
		if s.block != nil {
			select {
			case <-s.block:
			default:
				close(s.block)
			}
		}
		s.mu.Unlock()
		s.Close()
	})
	return s
}

// next waits for the sink's next request.
func (s *sink) next(t *testing.T) delivery {
	t.Helper()
	select {
	case d := <-s.ch:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery within 10s")
	}
	return delivery{}
}

func (s *sink) delivered() []delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]delivery(nil), s.got...)
}

func target(url string) *etree.Element {
	el := etree.NewElement("target")
	el.CreateAttr("url", url)
	return el
}

type recordingEnder struct {
	mu   sync.Mutex
	ends []string
	ch   chan string
}

func (r *recordingEnder) SubscriptionEnd(_ context.Context, s *eventing.Subscription, st eventing.EndStatus, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ends = append(r.ends, s.ID+" "+st.Short())
	if r.ch != nil {
		r.ch <- s.ID + " " + st.Short()
	}
	return nil
}

type env struct {
	svc   *eventing.Service
	db    *store.DB
	clock *eventingtest.Clock
	ender *recordingEnder
	dir   string
}

func newEnv(t *testing.T, dir string, o eventing.Options) *env {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	return newEnvAt(t, dir, time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC), o)
}

func (e *env) stop() {
	e.svc.Shutdown(context.Background())
	e.db.Close()
}

func (e *env) subscribe(t *testing.T, url string, f *eventing.FilterSpec, exp *eventing.Expiration) *eventing.Subscription {
	t.Helper()
	g, err := e.svc.Subscribe(t.Context(), &eventing.SubscribeRequest{Processor: postProcessor, Message: target(url), Filter: f, Expires: exp})
	if err != nil {
		t.Fatal(err)
	}
	return g.Subscription
}

func (e *env) publish(t *testing.T, topic, text string) uint64 {
	t.Helper()
	ev, err := e.svc.Publish(t.Context(), &eventing.Message{Topic: topic, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	return ev.Seq
}

// waitFor polls cond (checkFor style) until it holds or 60 s pass: a
// safety net for a loaded machine (make test runs packages side by side
// under the race detector), not a measure of speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitTimer waits until the fake clock has a timer due at want.
func waitTimer(t *testing.T, c *eventingtest.Clock, want time.Time) {
	t.Helper()
	waitFor(t, "a timer at "+want.Format(time.TimeOnly), func() bool {
		for _, p := range pending(c) {
			if p.Equal(want) {
				return true
			}
		}
		return false
	})
}

func TestDelivery_InOrderToEveryMatchingSubscription(t *testing.T) {
	e := newEnv(t, "", eventing.Options{})
	a, b, x := newSink(t, e.clock), newSink(t, e.clock), newSink(t, e.clock)
	e.subscribe(t, a.URL, eventing.TopicFilter("a"), nil)
	e.subscribe(t, b.URL, eventing.TopicFilter("b"), nil)
	e.subscribe(t, x.URL, &eventing.FilterSpec{Dialect: eventing.DialectXPath10, Expression: "contains(/m:message/m:text, 'x')", Namespaces: map[string]string{"m": eventing.MessageNS}}, nil)
	var wantA, wantB, wantX []string
	for i := range 30 {
		topic := []string{"a", "b", "c"}[i%3]
		text := fmt.Sprintf("%s-%02d", topic, i)
		if i%4 == 0 {
			text += "-x"
			wantX = append(wantX, text)
		}
		switch topic {
		case "a":
			wantA = append(wantA, text)
		case "b":
			wantB = append(wantB, text)
		}
		e.publish(t, topic, text)
	}
	for _, c := range []struct {
		s    *sink
		want []string
	}{{a, wantA}, {b, wantB}, {x, wantX}} {
		var got []string
		for range c.want {
			got = append(got, c.s.next(t).text)
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("got %v; want %v", got, c.want)
		}
	}
}

func TestRetry_FollowsTheSchedule(t *testing.T) {
	e := newEnv(t, "", eventing.Options{Dispatcher: eventing.DispatcherOptions{Schedule: []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute}}})
	s := newSink(t, e.clock)
	s.status = func(n int) (int, http.Header) {
		if n < 3 {
			return 500, nil
		}
		return 204, nil
	}
	e.subscribe(t, s.URL, eventing.TopicFilter("t"), nil)
	t0 := e.clock.Now()
	e.publish(t, "t", "one")
	first := s.next(t)
	if first.attempt != 1 || !first.at.Equal(t0) {
		t.Fatalf("first attempt %d at %v; want 1 at once", first.attempt, first.at)
	}
	at := t0
	for i, delay := range []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute} {
		at = at.Add(delay)
		waitTimer(t, e.clock, at)
		e.clock.Set(at.Add(-time.Millisecond))
		select {
		case d := <-s.ch:
			t.Fatalf("attempt %d came early, at %v", d.attempt, d.at)
		default:
		}
		e.clock.Set(at)
		d := s.next(t)
		if d.attempt != i+2 || !d.at.Equal(at) || d.messageID != first.messageID {
			t.Fatalf("retry %d: attempt %d at %v id %s; want attempt %d at %v id %s", i+1, d.attempt, d.at, d.messageID, i+2, at, first.messageID)
		}
	}
	waitFor(t, "the event to count as delivered", func() bool { return len(s.delivered()) == 1 })
	if p := pending(e.clock); len(p) != 0 {
		t.Fatalf("timers still pending after success: %v", p)
	}
}

func TestRetry_HonoursRetryAfter(t *testing.T) {
	e := newEnv(t, "", eventing.Options{})
	s := newSink(t, e.clock)
	s.status = func(n int) (int, http.Header) {
		if n == 0 {
			return 503, http.Header{"Retry-After": {"120"}}
		}
		return 200, nil
	}
	e.subscribe(t, s.URL, eventing.TopicFilter("t"), nil)
	t0 := e.clock.Now()
	e.publish(t, "t", "one")
	s.next(t)
	waitTimer(t, e.clock, t0.Add(120*time.Second))
	e.clock.Advance(120 * time.Second)
	if d := s.next(t); d.attempt != 2 {
		t.Fatalf("attempt %d; want 2", d.attempt)
	}
}

func TestDeadLetter_AfterTheScheduleAndTheNextEventGoesOn(t *testing.T) {
	e := newEnv(t, "", eventing.Options{Dispatcher: eventing.DispatcherOptions{Schedule: []time.Duration{time.Second}}})
	s := newSink(t, e.clock)
	s.status = func(n int) (int, http.Header) {
		if n < 2 {
			return 500, nil
		}
		return 200, nil
	}
	sub := e.subscribe(t, s.URL, eventing.TopicFilter("t"), nil)
	t0 := e.clock.Now()
	e.publish(t, "t", "doomed")
	e.publish(t, "t", "fine")
	s.next(t)
	waitTimer(t, e.clock, t0.Add(time.Second))
	e.clock.Advance(time.Second)
	s.next(t) // the second and last attempt fails
	if d := s.next(t); d.text != "fine" || d.attempt != 1 {
		t.Fatalf("after the dead letter got %q attempt %d; want fine attempt 1", d.text, d.attempt)
	}
	dl, err := e.db.DeadLetters(t.Context(), sub.ID)
	if err != nil || len(dl) != 1 || dl[0].Message.Text != "doomed" || dl[0].Attempts != 2 || !strings.Contains(dl[0].Error, "500") {
		t.Fatalf("dead letters = %+v, %v", dl, err)
	}
}

func TestFailureLimit_EndsTheSubscriptionLoudly(t *testing.T) {
	e := newEnv(t, "", eventing.Options{Dispatcher: eventing.DispatcherOptions{
		Schedule: []time.Duration{time.Minute, time.Minute, time.Minute}, FailureLimit: 3, FailureWindow: 2 * time.Minute,
	}})
	bad := newSink(t, e.clock)
	bad.status = func(int) (int, http.Header) { return 500, nil }
	operator := newSink(t, e.clock)
	e.subscribe(t, operator.URL, eventing.TopicFilter(eventing.EndedTopic), nil)
	endTo := etree.NewElement("EndTo")
	sub, err := e.svc.Subscribe(t.Context(), &eventing.SubscribeRequest{Processor: postProcessor, Message: target(bad.URL), Filter: eventing.TopicFilter("t"),
		EndTo: mustEPR(t, `<EndTo xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"><wsa:Address>http://end.example/</wsa:Address></EndTo>`)})
	_ = endTo
	if err != nil {
		t.Fatal(err)
	}
	t0 := e.clock.Now()
	e.publish(t, "t", "x")
	bad.next(t)
	for i := 1; i <= 2; i++ {
		waitTimer(t, e.clock, t0.Add(time.Duration(i)*time.Minute))
		e.clock.Advance(time.Minute)
		bad.next(t)
	}
	// Three failures spanning two minutes: the subscription ends.
	select {
	case got := <-e.ender.ch:
		if got != sub.Subscription.ID+" DeliveryFailure" {
			t.Fatalf("SubscriptionEnd %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no SubscriptionEnd")
	}
	if op := operator.next(t); !strings.Contains(op.text, sub.Subscription.ID) {
		t.Fatalf("operator event text %q does not name the subscription", op.text)
	}
	if _, err := e.svc.GetStatus(t.Context(), sub.Subscription.ID); faultSubcode(err) != "UnknownSubscription" {
		t.Fatalf("GetStatus after the end: %v", err)
	}
}

func TestSlowSubscriber_DoesNotDelayOthers(t *testing.T) {
	e := newEnv(t, "", eventing.Options{})
	slow, fast := newSink(t, e.clock), newSink(t, e.clock)
	slow.block = make(chan struct{})
	e.subscribe(t, slow.URL, eventing.TopicFilter("t"), nil)
	e.subscribe(t, fast.URL, eventing.TopicFilter("t"), nil)
	for i := range 20 {
		e.publish(t, "t", fmt.Sprint(i))
	}
	for i := range 20 {
		if d := fast.next(t); d.text != fmt.Sprint(i) {
			t.Fatalf("fast got %q; want %d", d.text, i)
		}
	}
	close(slow.block)
	for i := range 20 {
		if d := slow.next(t); d.text != fmt.Sprint(i) {
			t.Fatalf("slow got %q; want %d", d.text, i)
		}
	}
}

func TestCatchUp_FromTheLogWhenTheQueueOverflows(t *testing.T) {
	e := newEnv(t, "", eventing.Options{Dispatcher: eventing.DispatcherOptions{QueueLimit: 3, ScanBatch: 4}})
	s := newSink(t, e.clock)
	s.block = make(chan struct{})
	e.subscribe(t, s.URL, &eventing.FilterSpec{Dialect: eventing.DialectXPath10, Expression: "/*[not(contains(., 'skip'))]"}, nil)
	var want []string
	for i := range 60 {
		text := fmt.Sprint(i)
		if i%5 == 0 {
			text += "skip"
		} else {
			want = append(want, text)
		}
		e.publish(t, "t", text)
	}
	close(s.block)
	var got []string
	for range want {
		got = append(got, s.next(t).text)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func TestRestart_ResumesFromTheCursor(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir, eventing.Options{})
	s := newSink(t, e.clock)
	e.subscribe(t, s.URL, eventing.TopicFilter("t"), nil)
	for i := range 5 {
		e.publish(t, "t", fmt.Sprint(i))
	}
	for range 5 {
		s.next(t)
	}
	waitFor(t, "5 acknowledged deliveries", func() bool { return len(s.delivered()) == 5 })
	e.stop()
	db, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 5; i < 8; i++ {
		db.Append(t.Context(), &eventing.Message{Topic: "t", Text: fmt.Sprint(i)}, time.Now())
	}
	db.Close()
	e2 := newEnv(t, dir, eventing.Options{})
	_ = e2
	for i := 5; i < 8; i++ {
		if d := s.next(t); d.text != fmt.Sprint(i) {
			t.Fatalf("after restart got %q; want %d (nothing delivered twice)", d.text, i)
		}
	}
}

func TestLease_ExpiredSubscriptionGetsNothingAndIsSwept(t *testing.T) {
	e := newEnv(t, "", eventing.Options{SweepInterval: never})
	s, other := newSink(t, e.clock), newSink(t, e.clock)
	exp := eventing.Expiration{IsDuration: true, Duration: time.Hour}
	sub := e.subscribe(t, s.URL, eventing.TopicFilter("t"), &exp)
	e.publish(t, "t", "before")
	if d := s.next(t); d.text != "before" {
		t.Fatalf("got %q", d.text)
	}
	e.clock.Advance(time.Hour)
	e.subscribe(t, other.URL, eventing.TopicFilter("t"), nil)
	e.publish(t, "t", "after")
	other.next(t)
	if g, err := e.svc.GetStatus(t.Context(), sub.ID); faultSubcode(err) != "UnknownSubscription" {
		t.Fatalf("GetStatus of an expired subscription = %v, %v", g, err)
	}
	if _, err := e.svc.Renew(t.Context(), sub.ID, nil); faultSubcode(err) != "UnableToRenew" {
		t.Fatalf("Renew of an expired subscription: %v", err)
	}
	if n := e.svc.Sweep(t.Context()); n != 1 {
		t.Fatalf("Sweep reclaimed %d; want 1", n)
	}
	if _, err := e.db.Subscription(t.Context(), sub.ID); !errors.Is(err, eventing.ErrNotFound) {
		t.Fatalf("swept subscription still stored: %v", err)
	}
	if got := s.delivered(); len(got) != 1 {
		t.Fatalf("expired subscription received %d events; want 1", len(got))
	}
	if len(e.ender.ends) != 0 {
		t.Fatalf("SubscriptionEnd sent on expiry: %v", e.ender.ends)
	}
}

func TestRenew_ExtendsTheLease(t *testing.T) {
	e := newEnv(t, "", eventing.Options{})
	s := newSink(t, e.clock)
	exp := eventing.Expiration{IsDuration: true, Duration: time.Hour}
	sub := e.subscribe(t, s.URL, eventing.TopicFilter("t"), &exp)
	e.clock.Advance(50 * time.Minute)
	g, err := e.svc.Renew(t.Context(), sub.ID, &eventing.Expiration{IsDuration: true, Duration: 2 * time.Hour})
	if err != nil || !g.Expires.IsDuration || g.Expires.Duration != 2*time.Hour {
		t.Fatalf("Renew = %+v, %v", g, err)
	}
	e.clock.Advance(time.Hour)
	if n := e.svc.Sweep(t.Context()); n != 0 {
		t.Fatalf("a renewed subscription was swept")
	}
	e.publish(t, "t", "still here")
	if d := s.next(t); d.text != "still here" {
		t.Fatalf("got %q", d.text)
	}
}

func TestRenewRacingUnsubscribe_OneClearOutcome(t *testing.T) {
	e := newEnv(t, "", eventing.Options{})
	s := newSink(t, e.clock)
	for i := range 50 {
		exp := eventing.Expiration{IsDuration: true, Duration: time.Hour}
		sub := e.subscribe(t, s.URL+"/"+fmt.Sprint(i), eventing.TopicFilter("t"), &exp)
		var renewErr, unsubErr error
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); _, renewErr = e.svc.Renew(t.Context(), sub.ID, nil) }()
		go func() { defer wg.Done(); unsubErr = e.svc.Unsubscribe(t.Context(), sub.ID) }()
		wg.Wait()
		if unsubErr != nil {
			t.Fatalf("Unsubscribe: %v", unsubErr)
		}
		if renewErr != nil && faultSubcode(renewErr) != "UnableToRenew" {
			t.Fatalf("Renew: %v; want success or UnableToRenew", renewErr)
		}
		if _, err := e.db.Subscription(t.Context(), sub.ID); !errors.Is(err, eventing.ErrNotFound) {
			t.Fatalf("iteration %d: subscription left behind after Unsubscribe (renew err %v)", i, renewErr)
		}
		for _, live := range e.svc.Dispatcher().Subscriptions() {
			if live.ID == sub.ID {
				t.Fatalf("iteration %d: dispatcher still delivers to an unsubscribed subscription", i)
			}
		}
	}
}

func TestSubscribe_LeaseRules(t *testing.T) {
	e := newEnv(t, "", eventing.Options{DefaultLease: 10 * time.Minute, MaxLease: 24 * time.Hour})
	now := e.clock.Now()
	for _, tt := range []struct {
		name    string
		exp     *eventing.Expiration
		want    time.Time
		subcode string
	}{
		{"default", nil, now.Add(10 * time.Minute), ""},
		{"capped", &eventing.Expiration{IsDuration: true, Duration: 48 * time.Hour}, now.Add(24 * time.Hour), ""},
		{"zero", &eventing.Expiration{IsDuration: true}, time.Time{}, "InvalidExpirationTime"},
		{"negative", &eventing.Expiration{IsDuration: true, Duration: -time.Minute}, time.Time{}, "InvalidExpirationTime"},
		{"past", &eventing.Expiration{Time: now.Add(-time.Second)}, time.Time{}, "InvalidExpirationTime"},
		{"future time", &eventing.Expiration{Time: now.Add(time.Hour)}, now.Add(time.Hour), ""},
	} {
		g, err := e.svc.Subscribe(t.Context(), &eventing.SubscribeRequest{Processor: postProcessor, Message: target("http://x.example/" + tt.name), Expires: tt.exp})
		if tt.subcode != "" {
			if faultSubcode(err) != tt.subcode {
				t.Errorf("%s: err = %v; want %s", tt.name, err, tt.subcode)
			}
			continue
		}
		if err != nil || !g.Subscription.Expires.Equal(tt.want) {
			t.Errorf("%s: expires %v, %v; want %v", tt.name, g.Subscription.Expires, err, tt.want)
		}
	}
}

func TestManagementSubscribe_SameEndpointAndTopicSameID(t *testing.T) {
	e := newEnv(t, "", eventing.Options{})
	sub := func(url, topic string) string {
		g, err := e.svc.Subscribe(t.Context(), &eventing.SubscribeRequest{Processor: postProcessor, Message: target(url), Filter: eventing.TopicFilter(topic), Management: true})
		if err != nil {
			t.Fatal(err)
		}
		if !g.Subscription.Expires.IsZero() {
			t.Fatalf("a management subscription expires at %v; want never", g.Subscription.Expires)
		}
		return g.Subscription.ID
	}
	a := sub("http://a.example/", "t")
	if b := sub("http://a.example/", "t"); b != a {
		t.Fatalf("same endpoint and topic: %s then %s", a, b)
	}
	if c := sub("http://a.example/", "u"); c == a {
		t.Fatal("another topic got the same id")
	}
	if d := sub("http://b.example/", "t"); d == a {
		t.Fatal("another endpoint got the same id")
	}
	if !strings.HasPrefix(a, "uuid:") {
		t.Fatalf("id %q does not start with uuid:", a)
	}
}

func TestUnknownProcessor_ListsTheKnownOnes(t *testing.T) {
	e := newEnv(t, "", eventing.Options{})
	_, err := e.svc.Subscribe(t.Context(), &eventing.SubscribeRequest{Processor: "my.company.SMSSubscriptionProcessor", Message: target("x")})
	var f *eventing.Error
	if !errors.As(err, &f) || f.Kind != eventing.ErrUnknownProcessor || !strings.Contains(f.Reason, postProcessor) {
		t.Fatalf("err = %v; want an ErrUnknownProcessor listing %q", err, postProcessor)
	}
}

func mustEPR(t *testing.T, s string) *addressingEPR {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(s); err != nil {
		t.Fatal(err)
	}
	epr, err := parseEPR(doc.Root())
	if err != nil {
		t.Fatal(err)
	}
	return epr
}

func TestWSEventingSubscribe_RepeatedForTheSameSinkUpdatesIt(t *testing.T) {
	e := newEnv(t, "", eventing.Options{})
	s := newSink(t, e.clock)
	first := e.subscribe(t, s.URL, nil, nil)
	exp := eventing.Expiration{IsDuration: true, Duration: 2 * time.Second}
	g, err := e.svc.Subscribe(t.Context(), &eventing.SubscribeRequest{Processor: postProcessor, Message: target(s.URL), Filter: eventing.TopicFilter("lease"), Expires: &exp})
	if err != nil {
		t.Fatal(err)
	}
	if g.Subscription.ID != first.ID || !g.Existing || g.Expires.Duration != 2*time.Second {
		t.Fatalf("repeated Subscribe = %s (existing %v, %v); want %s updated", g.Subscription.ID, g.Existing, g.Expires, first.ID)
	}
	other := e.subscribe(t, s.URL+"/other", nil, nil)
	if other.ID == first.ID {
		t.Fatal("another sink got the same subscription")
	}
	e.publish(t, "unrelated", "filtered out now")
	e.publish(t, "lease", "in")
	if d := s.next(t); d.text != "in" {
		// The other subscription's path is on the same server: skip its deliveries.
		for d.text != "in" {
			d = s.next(t)
		}
	}
	for _, d := range s.delivered() {
		if d.text == "filtered out now" && d.messageID == eventing.MessageID(first.ID, d.seq) {
			t.Fatal("the updated subscription still used its old filter")
		}
	}
	e.clock.Advance(3 * time.Second)
	if _, err := e.svc.GetStatus(t.Context(), first.ID); faultSubcode(err) != "UnknownSubscription" {
		t.Fatalf("the updated lease did not apply: %v", err)
	}
}

func TestShutdown_FinishesDeliveriesInFlight(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir, eventing.Options{})
	s := newSink(t, e.clock)
	s.block = make(chan struct{})
	sub := e.subscribe(t, s.URL, eventing.TopicFilter("t"), nil)
	e.publish(t, "t", "in flight")
	waitFor(t, "the delivery to start", func() bool {
		st, _ := e.svc.Dispatcher().State(sub.ID)
		return st != nil && st.Attempts == 1
	})
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- e.svc.Shutdown(ctx)
	}()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) while a delivery was in flight", err)
	default:
	}
	close(s.block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.block = nil
	s.mu.Unlock()
	e.db.Close()
	// The finished delivery was recorded: a restart does not repeat it.
	e2 := newEnv(t, dir, eventing.Options{})
	e2.publish(t, "t", "next")
	if d := s.next(t); d.text != "in flight" {
		t.Fatalf("first delivery %q", d.text)
	}
	if d := s.next(t); d.text != "next" {
		t.Fatalf("after the restart got %q; want next (nothing repeated)", d.text)
	}
}

func TestShutdown_DeadlineCancelsStuckDeliveries(t *testing.T) {
	e := newEnv(t, "", eventing.Options{})
	s := newSink(t, e.clock)
	s.block = make(chan struct{})
	sub := e.subscribe(t, s.URL, eventing.TopicFilter("t"), nil)
	e.publish(t, "t", "stuck")
	waitFor(t, "the delivery to start", func() bool {
		st, _ := e.svc.Dispatcher().State(sub.ID)
		return st != nil && st.Attempts == 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.svc.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v; want the deadline", err)
	}
}

// Once Shutdown waits for the SubscriptionEnd senders, no new one starts:
// a Cancel that comes after it sends nothing (before, its sender started
// after the wait and ran past the service's end). In a synctest bubble,
// synctest.Wait lets any sender that did start run before the check.
func TestSendEnd_NotAfterShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, "", eventing.Options{})
		defer e.db.Close()
		sub, err := e.svc.Subscribe(t.Context(), &eventing.SubscribeRequest{Processor: postProcessor, Message: target("http://x.example/"), Filter: eventing.TopicFilter("t"),
			EndTo: mustEPR(t, `<EndTo xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"><wsa:Address>http://end.example/</wsa:Address></EndTo>`)})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Cancel(t.Context(), sub.Subscription.ID, ""); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		e.ender.mu.Lock()
		defer e.ender.mu.Unlock()
		if len(e.ender.ends) != 0 {
			t.Fatalf("SubscriptionEnd sent after Shutdown: %v", e.ender.ends)
		}
	})
}

// The lease sweeper waits on the service's clock: moving a fake clock past
// a lease and a sweep interval reclaims the subscription with no call to
// Sweep, and without waiting for wall time.
func TestLease_SweeperFollowsTheClock(t *testing.T) {
	e := newEnv(t, "", eventing.Options{SweepInterval: time.Hour})
	s := newSink(t, e.clock)
	exp := eventing.Expiration{IsDuration: true, Duration: time.Minute}
	sub := e.subscribe(t, s.URL, eventing.TopicFilter("t"), &exp)
	waitFor(t, "the sweeper's timer", func() bool { return len(pending(e.clock)) > 0 })
	e.clock.Advance(time.Hour)
	waitFor(t, "the expired subscription to be swept", func() bool {
		_, err := e.db.Subscription(t.Context(), sub.ID)
		return errors.Is(err, eventing.ErrNotFound)
	})
}
