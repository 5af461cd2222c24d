package httpapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/soap"
)

const v11 = eventing.V2011

// reply checks a WS-Eventing response of version ev: HTTP 200, wsa:Action
// ev.Action(local) and RelatesTo msgID in the version's WS-Addressing; it
// returns the envelope.
func reply(t *testing.T, ev eventing.Version, r response, msgID, local string) *soap.Envelope {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("%s: HTTP %d\n%s", local, r.status, r.body)
	}
	env := parse(t, r.body)
	wsa := wsaOf(ev)
	if a := addressing.Child(env.Header, wsa, "Action"); addressing.Text(a) != ev.Action(local) {
		t.Errorf("%s: wsa:Action {%s} %q; want %q", local, wsa, addressing.Text(a), ev.Action(local))
	}
	if rt := addressing.Child(env.Header, wsa, "RelatesTo"); addressing.Text(rt) != msgID {
		t.Errorf("%s: wsa:RelatesTo %q; want the request's MessageID %q", local, addressing.Text(rt), msgID)
	}
	if kids := env.Body.ChildElements(); len(kids) != 1 || !addressing.Is(kids[0], ev.Namespace(), local) {
		t.Errorf("%s: the Body is not one {%s}%s:\n%s", local, ev.Namespace(), local, r.body)
	}
	return env
}

// grantedText returns the text of the response's wse:GrantedExpires (2011) or
// wse:Expires (2004/08) under wse:{local}.
func grantedText(t *testing.T, ev eventing.Version, env *soap.Envelope, local string) string {
	t.Helper()
	name := "Expires"
	if ev == v11 {
		name = "GrantedExpires"
	}
	el := addressing.Child(addressing.Child(env.Body, ev.Namespace(), local), ev.Namespace(), name)
	if el == nil {
		t.Fatalf("no wse:%s in wse:%s", name, local)
	}
	return addressing.Text(el)
}

func parseDateTime(t *testing.T, s string) time.Time {
	t.Helper()
	if strings.HasPrefix(s, "P") {
		t.Fatalf("%q is a duration; want a dateTime", s)
	}
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%q is not a dateTime: %v", s, err)
	}
	return at
}

func near(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if d := got.Sub(want); d < -5*time.Second || d > 5*time.Second {
		t.Errorf("%s %s; want about %s", what, got.Format(time.RFC3339), want.Format(time.RFC3339))
	}
}

func expiresEl(value, bestEffort string) string {
	if value == "" {
		return ""
	}
	be := ""
	if bestEffort != "" {
		be = ` BestEffort="` + bestEffort + `"`
	}
	return `<wse:Expires` + be + `>` + value + `</wse:Expires>`
}

// TestWSE2011_GrantInTheFormRequested: Subscribe and Renew grant a
// duration for a duration, a dateTime for a dateTime, and, in 2011, a
// duration when no Expires was asked for.
func TestWSE2011_GrantInTheFormRequested(t *testing.T) {
	h := start(t, "", eventing.Options{})
	fx := &faultFixture{sink: newSink(t)}
	at := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Millisecond)
	for _, ev := range eventing.Versions {
		t.Run(evName(ev), func(t *testing.T) {
			sub := func(expires string) (string, string) {
				t.Helper()
				r, msgID := h.call(t, soap.V12, ev, "Subscribe", "", `<wse:Subscribe>`+delivery(fx.notify(), "", "")+expires+`</wse:Subscribe>`)
				env := reply(t, ev, r, msgID, "SubscribeResponse")
				ref := "SubscribeResponse/SubscriptionManager/ReferenceParameters/Identifier"
				if ev == v11 {
					ref = "SubscribeResponse/SubscriptionManager/ReferenceParameters/SubscriptionId"
				}
				return bodyText(t, env, ref), grantedText(t, ev, env, "SubscribeResponse")
			}
			renew := func(id, expires string) string {
				t.Helper()
				r, msgID := h.call(t, soap.V12, ev, "Renew", subID(ev, id), `<wse:Renew>`+expires+`</wse:Renew>`)
				return grantedText(t, ev, reply(t, ev, r, msgID, "RenewResponse"), "RenewResponse")
			}
			id, g := sub(expiresEl("PT1H", ""))
			if g != "PT1H" {
				t.Errorf("Subscribe PT1H granted %q; want PT1H", g)
			}
			if g := renew(id, expiresEl("PT2H", "")); g != "PT2H" {
				t.Errorf("Renew PT2H granted %q; want PT2H", g)
			}
			if g := renew(id, expiresEl(eventing.FormatDateTime(at), "")); !parseDateTime(t, g).Equal(at) {
				t.Errorf("Renew %s granted %q; want that dateTime", eventing.FormatDateTime(at), g)
			}
			id2, g := sub(expiresEl(eventing.FormatDateTime(at), ""))
			if !parseDateTime(t, g).Equal(at) {
				t.Errorf("Subscribe %s granted %q; want that dateTime", eventing.FormatDateTime(at), g)
			}
			if g := renew(id2, expiresEl("PT30M", "")); g != "PT30M" {
				t.Errorf("Renew PT30M of a dateTime subscription granted %q; want PT30M", g)
			}
			if ev != v11 {
				// 2004/08 grants the default lease as a dateTime (README).
				_, g := sub("")
				near(t, "2004/08 Subscribe without Expires granted", parseDateTime(t, g), time.Now().Add(time.Hour))
				return
			}
			if _, g := sub(""); g != "PT1H" {
				t.Errorf("Subscribe without Expires granted %q; want the default lease as a duration, PT1H", g)
			}
			if g := renew(id2, ""); g != "PT1H" {
				t.Errorf("Renew without Expires granted %q; want the default lease as a duration, PT1H", g)
			}
		})
	}
}

// TestWSE2011_BestEffort: with BestEffort="true", a lease beyond
// --max-lease and PT0S are granted the longest lease; 2004/08 cuts a long
// lease without asking.
func TestWSE2011_BestEffort(t *testing.T) {
	h := start(t, "", eventing.Options{MaxLease: 2 * time.Hour})
	fx := &faultFixture{sink: newSink(t)}
	subscribe := func(ev eventing.Version, expires string) (string, string) {
		t.Helper()
		id, env := h.subscribeOK(t, ev, `<wse:Subscribe>`+delivery(fx.notify(), "", "")+expires+`</wse:Subscribe>`)
		return id, grantedText(t, ev, env, "SubscribeResponse")
	}
	for _, be := range []string{"true", "1"} {
		if _, g := subscribe(v11, expiresEl("P1D", be)); g != "PT2H" {
			t.Errorf("BestEffort=%q P1D granted %q; want --max-lease, PT2H", be, g)
		}
	}
	id, g := subscribe(v11, expiresEl("PT0S", "true"))
	if g != "PT2H" {
		t.Errorf("BestEffort PT0S granted %q; want --max-lease, PT2H", g)
	}
	_, g = subscribe(v11, expiresEl(eventing.FormatDateTime(time.Now().Add(48*time.Hour)), "true"))
	near(t, "BestEffort dateTime in two days granted", parseDateTime(t, g), time.Now().Add(2*time.Hour))
	r, msgID := h.call(t, soap.V12, v11, "Renew", subID(v11, id), `<wse:Renew>`+expiresEl("P7D", "true")+`</wse:Renew>`)
	if g := grantedText(t, v11, reply(t, v11, r, msgID, "RenewResponse"), "RenewResponse"); g != "PT2H" {
		t.Errorf("Renew BestEffort P7D granted %q; want PT2H", g)
	}
	// Without BestEffort, Renew beyond --max-lease is a fault, too.
	r, msgID = h.call(t, soap.V12, v11, "Renew", subID(v11, id), `<wse:Renew>`+expiresEl("P7D", "false")+`</wse:Renew>`)
	checkFault(t, r, soap.V12, v11, msgID, sender(wse11n("UnsupportedExpirationValue"), "longer than the longest"))
	// 2004/08: the event source chooses.
	if _, g := subscribe(eventing.V200408, expiresEl("P1D", "")); g != "PT2H" {
		t.Errorf("2004/08 P1D granted %q; want it cut to PT2H", g)
	}
}

// TestWSE2011_NeverExpires: with no --max-lease, PT0S is a subscription
// that never expires, granted and reported as PT0S.
func TestWSE2011_NeverExpires(t *testing.T) {
	h := start(t, "", eventing.Options{MaxLease: -1})
	fx := &faultFixture{sink: newSink(t)}
	id, env := h.subscribeOK(t, v11, `<wse:Subscribe>`+delivery(fx.notify(), "", "")+expiresEl("PT0S", "")+`</wse:Subscribe>`)
	if g := grantedText(t, v11, env, "SubscribeResponse"); g != "PT0S" {
		t.Errorf("PT0S with no --max-lease granted %q; want PT0S", g)
	}
	r, msgID := h.call(t, soap.V12, v11, "GetStatus", subID(v11, id), `<wse:GetStatus/>`)
	if g := grantedText(t, v11, reply(t, v11, r, msgID, "GetStatusResponse"), "GetStatusResponse"); g != "PT0S" {
		t.Errorf("GetStatus of a subscription that never expires: GrantedExpires %q; want PT0S", g)
	}
}

// TestWSE2011_GetStatusAndUnsubscribe: GetStatus answers GrantedExpires
// as a dateTime, Unsubscribe with wse:UnsubscribeResponse; both with
// their actions and RelatesTo, in SOAP 1.2 and 1.1.
func TestWSE2011_GetStatusAndUnsubscribe(t *testing.T) {
	h := start(t, "", eventing.Options{})
	fx := &faultFixture{sink: newSink(t)}
	for _, v := range []soap.Version{soap.V12, soap.V11} {
		t.Run(soapName(v), func(t *testing.T) {
			r, msgID := h.call(t, v, v11, "Subscribe", "", `<wse:Subscribe>`+delivery(fx.notify(), "", "")+expiresEl("PT1H", "")+`</wse:Subscribe>`)
			env := reply(t, v11, r, msgID, "SubscribeResponse")
			if env.Version != v {
				t.Errorf("answered in SOAP %s", env.Version)
			}
			mgr := addressing.Child(addressing.Child(env.Body, eventing.NS2011, "SubscribeResponse"), eventing.NS2011, "SubscriptionManager")
			if addressing.Child(mgr, wsa10, "Address") == nil {
				t.Errorf("the SubscriptionManager is not in WS-Addressing 1.0:\n%s", r.body)
			}
			id := bodyText(t, env, "SubscribeResponse/SubscriptionManager/ReferenceParameters/SubscriptionId")
			subscribed := time.Now()

			r, msgID = h.call(t, v, v11, "GetStatus", subID(v11, id), `<wse:GetStatus/>`)
			g := grantedText(t, v11, reply(t, v11, r, msgID, "GetStatusResponse"), "GetStatusResponse")
			near(t, "GetStatus GrantedExpires", parseDateTime(t, g), subscribed.Add(time.Hour))

			r, msgID = h.call(t, v, v11, "Unsubscribe", subID(v11, id), `<wse:Unsubscribe/>`)
			env = reply(t, v11, r, msgID, "UnsubscribeResponse")
			kids := env.Body.ChildElements()
			if len(kids) != 1 || !addressing.Is(kids[0], eventing.NS2011, "UnsubscribeResponse") {
				t.Errorf("the Unsubscribe response's Body is not one wse:UnsubscribeResponse:\n%s", r.body)
			}
			r, msgID = h.call(t, v, v11, "GetStatus", subID(v11, id), `<wse:GetStatus/>`)
			checkFault(t, r, v, v11, msgID, sender(wse11n("UnknownSubscription"), "not known"))
		})
	}
}

// flakySink records what it gets and answers 500 to the first fail
// requests of each path.
type flakySink struct {
	*httptest.Server
	mu    sync.Mutex
	fails map[string]int
	ch    chan received
}

func newFlakySink(t *testing.T, fails map[string]int) *flakySink {
	s := &flakySink{fails: fails, ch: make(chan received, 100)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		env, _ := soap.Parse(b, 0)
		s.ch <- received{r.Header.Clone(), string(b), env}
		s.mu.Lock()
		fail := s.fails[r.URL.Path] > 0
		s.fails[r.URL.Path]--
		s.mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *flakySink) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-s.ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the sink received nothing within 10s")
	}
	return received{}
}

// header10 returns the text of the WS-Addressing 1.0 header local.
func header10(env *soap.Envelope, local string) string {
	return addressing.Text(addressing.Child(env.Header, wsa10, local))
}

// isMessage reports whether el is the published <message> with text.
func isMessage(el *etree.Element, text string) bool {
	return addressing.Is(el, eventing.MessageNS, "message") && addressing.Text(addressing.Child(el, eventing.MessageNS, "text")) == text
}

// checkWrapped checks a wrapped 2011 notification of the message text
// sent to notify.
func checkWrapped(t *testing.T, got received, notify, text string) {
	t.Helper()
	env := got.env
	if env == nil {
		t.Fatalf("not a SOAP envelope: %s", got.body)
	}
	if a := header10(env, "Action"); a != eventing.ActionNotifyWrapped {
		t.Errorf("wrapped notification: wsa:Action %q; want %q", a, eventing.ActionNotifyWrapped)
	}
	if to := header10(env, "To"); to != notify {
		t.Errorf("wrapped notification: wsa:To %q; want the NotifyTo %q", to, notify)
	}
	kids := env.Body.ChildElements()
	if len(kids) != 1 || !addressing.Is(kids[0], eventing.NS2011, "Notify") {
		t.Fatalf("the Body is not exactly one wse:Notify:\n%s", got.body)
	}
	if a := kids[0].SelectAttrValue("actionURI", ""); a != eventing.NotifyAction {
		t.Errorf("wse:Notify/@actionURI %q; want %q", a, eventing.NotifyAction)
	}
	if inner := kids[0].ChildElements(); len(inner) != 1 || !isMessage(inner[0], text) {
		t.Errorf("wse:Notify does not hold the message %q:\n%s", text, got.body)
	}
}

// TestWSE2011_Notifications: Format Wrap sends the event in one wse:Notify
// with action …/WrappedSinkPortType/NotifyEvent; the default (and Unwrap)
// sends it as the Body with action …/herald/Notify, to NotifyTo with its
// reference parameters, and a MessageID that a retry repeats.
func TestWSE2011_Notifications(t *testing.T) {
	h := start(t, "", eventing.Options{Dispatcher: eventing.DispatcherOptions{Schedule: []time.Duration{time.Millisecond}, Jitter: -1}})
	s := newFlakySink(t, map[string]int{"/plain": 1})
	refp := `<wsa:ReferenceParameters><ew:Sink xmlns:ew="http://www.example.com/warnings">7</ew:Sink></wsa:ReferenceParameters>`
	wrapped, plain, unwrap := s.URL+"/wrapped", s.URL+"/plain", s.URL+"/unwrap"
	sub := func(notify, format string) {
		body := `<wse:Subscribe><wse:Delivery><wse:NotifyTo><wsa:Address>` + notify + `</wsa:Address>` + refp + `</wse:NotifyTo></wse:Delivery>` + format + filterOf("", "/m:message[m:topic='n']") + `</wse:Subscribe>`
		h.subscribeOK(t, v11, body)
	}
	sub(wrapped, `<wse:Format Name="`+eventing.FormatWrap+`"/>`)
	sub(plain, "")
	sub(unwrap, `<wse:Format Name="`+eventing.FormatUnwrap+`"/>`)
	publishText(t, h, "n", "hello")
	byPath := map[string][]received{}
	for range 4 { // wrapped, unwrap, and plain twice (its first attempt fails)
		r := s.next(t)
		to := header10(r.env, "To")
		byPath[to] = append(byPath[to], r)
	}
	if len(byPath[wrapped]) != 1 || len(byPath[unwrap]) != 1 || len(byPath[plain]) != 2 {
		t.Fatalf("deliveries by NotifyTo: wrapped %d, unwrap %d, plain %d; want 1, 1, 2", len(byPath[wrapped]), len(byPath[unwrap]), len(byPath[plain]))
	}
	checkWrapped(t, byPath[wrapped][0], wrapped, "hello")
	for _, got := range append(byPath[plain], byPath[unwrap]...) {
		env := got.env
		if a := header10(env, "Action"); a != eventing.NotifyAction {
			t.Errorf("unwrapped notification: wsa:Action %q; want %q", a, eventing.NotifyAction)
		}
		if kids := env.Body.ChildElements(); len(kids) != 1 || !isMessage(kids[0], "hello") {
			t.Errorf("the Body is not the message:\n%s", got.body)
		}
	}
	for _, got := range append(append(byPath[plain], byPath[unwrap]...), byPath[wrapped]...) {
		p := got.env.Header.FindElement("Sink")
		if p == nil || p.Text() != "7" || p.SelectAttrValue("wsa10:IsReferenceParameter", "") != "true" {
			t.Errorf("NotifyTo's reference parameter not echoed with wsa:IsReferenceParameter:\n%s", got.body)
		} else if ns, _ := addressing.LookupPrefix(p, "wsa10"); ns != wsa10 {
			t.Errorf("IsReferenceParameter in {%s}", ns)
		}
	}
	first, retry := header10(byPath[plain][0].env, "MessageID"), header10(byPath[plain][1].env, "MessageID")
	if first == "" || first != retry {
		t.Errorf("MessageID %q, then %q on the retry; want the same, stable", first, retry)
	}
}

// TestWSE2011_SubscriptionEndOnCancel: when the operator cancels a 2011
// subscription, its EndTo gets a 2011 SubscriptionEnd: Action
// …/ws-evt/SubscriptionEnd, Status …/ws-evt/SourceCancelling, a Reason, no
// SubscriptionManager, addressed to EndTo with its reference parameters
// (wsa:IsReferenceParameter).
func TestWSE2011_SubscriptionEndOnCancel(t *testing.T) {
	h := start(t, "", eventing.Options{})
	notify, end := newSink(t), newSink(t)
	body := `<wse:Subscribe><wse:EndTo><wsa:Address>` + end.URL + `/end</wsa:Address>` +
		`<wsa:ReferenceParameters><ew:MySubscription xmlns:ew="http://www.example.com/warnings">2597</ew:MySubscription></wsa:ReferenceParameters></wse:EndTo>` +
		delivery(notify.URL, "", "") + `</wse:Subscribe>`
	id, _ := h.subscribeOK(t, v11, body)
	r := h.post(t, "/eventing", soap12, envelope(soap.V12, "", `<h:cancelSubscription xmlns:h="`+eventing.HeraldNS+`"><h:subscriptionId>`+id+`</h:subscriptionId></h:cancelSubscription>`))
	if r.status != http.StatusOK {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	got := end.next(t)
	env := got.env
	if env == nil {
		t.Fatalf("not a SOAP envelope: %s", got.body)
	}
	if a := header10(env, "Action"); a != eventing.NS2011+"/SubscriptionEnd" {
		t.Errorf("wsa:Action %q; want %s/SubscriptionEnd", a, eventing.NS2011)
	}
	if to := header10(env, "To"); to != end.URL+"/end" {
		t.Errorf("wsa:To %q; want the EndTo %q", to, end.URL+"/end")
	}
	if p := env.Header.FindElement("MySubscription"); p == nil || p.Text() != "2597" || p.SelectAttrValue("wsa10:IsReferenceParameter", "") != "true" {
		t.Errorf("EndTo's reference parameter not echoed with wsa:IsReferenceParameter:\n%s", got.body)
	}
	se := addressing.Child(env.Body, eventing.NS2011, "SubscriptionEnd")
	if se == nil {
		t.Fatalf("no 2011 wse:SubscriptionEnd in the Body:\n%s", got.body)
	}
	if s := addressing.Text(addressing.Child(se, eventing.NS2011, "Status")); s != eventing.NS2011+"/SourceCancelling" {
		t.Errorf("Status %q; want %s/SourceCancelling", s, eventing.NS2011)
	}
	if rs := addressing.Child(se, eventing.NS2011, "Reason"); rs == nil || rs.SelectAttrValue("xml:lang", "") != "en" || addressing.Text(rs) == "" {
		t.Errorf("no Reason with xml:lang en:\n%s", got.body)
	}
	if se.FindElement("SubscriptionManager") != nil {
		t.Errorf("a 2011 SubscriptionEnd has a SubscriptionManager:\n%s", got.body)
	}
	if ct := got.header.Get("Content-Type"); !strings.Contains(ct, eventing.NS2011+"/SubscriptionEnd") {
		t.Errorf("Content-Type %q does not carry the 2011 action", ct)
	}
	notify.nothing(t)
}

// TestWSE2011_ProcessorSelection: a 2011 Subscribe picks a processor by
// h:Processor or by wse:Format/@Name …/herald/delivery/{name}; a 2004/08
// one by Mode; none (or Push, Unwrap, Wrap) is soap. Pull subscriptions
// then serve their events by cursor.
func TestWSE2011_ProcessorSelection(t *testing.T) {
	h := start(t, "", eventing.Options{})
	fx := &faultFixture{sink: newSink(t)}
	pullURI := eventing.DeliveryModePrefix + "pull"
	tests := []struct {
		name string
		ev   eventing.Version
		body string
		want string
	}{
		{"2011 h:Processor", v11, `<wse:Subscribe>` + delivery("", "", `<h:Processor>pull</h:Processor>`) + topicFilter("sel") + `</wse:Subscribe>`, "pull"},
		{"2011 Format", v11, `<wse:Subscribe>` + delivery("", "", "") + `<wse:Format Name="` + pullURI + `"/>` + topicFilter("sel") + `</wse:Subscribe>`, "pull"},
		{"2004/08 Mode", eventing.V200408, `<wse:Subscribe>` + delivery("", ` Mode="`+pullURI+`"`, "") + topicFilter("sel") + `</wse:Subscribe>`, "pull"},
		{"2004/08 h:Processor", eventing.V200408, `<wse:Subscribe>` + delivery("", "", `<h:Processor>pull</h:Processor>`) + topicFilter("sel") + `</wse:Subscribe>`, "pull"},
		{"2011 no Format", v11, `<wse:Subscribe>` + delivery(fx.notify(), "", "") + `</wse:Subscribe>`, "soap"},
		{"2011 Wrap", v11, `<wse:Subscribe>` + delivery(fx.notify(), "", "") + `<wse:Format Name="` + eventing.FormatWrap + `"/></wse:Subscribe>`, "soap"},
		{"2011 h:Processor soap", v11, `<wse:Subscribe>` + delivery(fx.notify(), "", `<h:Processor>soap</h:Processor>`) + `</wse:Subscribe>`, "soap"},
		{"2004/08 Push", eventing.V200408, `<wse:Subscribe>` + delivery(fx.notify(), ` Mode="`+eventing.DeliveryModePush+`"`, "") + `</wse:Subscribe>`, "soap"},
	}
	var pulls []string
	for _, tt := range tests {
		id, _ := h.subscribeOK(t, tt.ev, tt.body)
		sub, err := h.db.Subscription(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if sub.Processor != tt.want {
			t.Errorf("%s: processor %q; want %q", tt.name, sub.Processor, tt.want)
		}
		if tt.want == "pull" {
			pulls = append(pulls, id)
		}
	}
	publishText(t, h, "sel", "pulled")
	for _, id := range pulls {
		status, p, body := getPull(t, h, id, "wait=5s")
		if status != 200 || len(p.Events) != 1 || p.Events[0].Text != "pulled" {
			t.Errorf("pull %s: HTTP %d %s; want the event", id, status, body)
		}
	}
}

// TestWSE2011_FilterDialects: in 2011 a wse:Filter without Dialect is
// XPath 1.0, and so are the 2011 dialect URI …/Dialects/XPath10 and the
// 1999 one.
func TestWSE2011_FilterDialects(t *testing.T) {
	h := start(t, "", eventing.Options{})
	dialects := map[string]string{"none": "", "2011": eventing.DialectXPath10W3C, "1999": eventing.DialectXPath10}
	sinks := map[string]*sink{}
	for name, d := range dialects {
		s := newSink(t)
		sinks[name] = s
		h.subscribeOK(t, v11, `<wse:Subscribe>`+delivery(s.URL, "", "")+filterOf(d, "/m:message[m:topic='fa']")+`</wse:Subscribe>`)
	}
	publishText(t, h, "fb", "B")
	publishText(t, h, "fa", "A")
	for name, s := range sinks {
		// Deliveries go in log order: had B matched, it would come first.
		got := s.next(t)
		if kids := got.env.Body.ChildElements(); len(kids) != 1 || !isMessage(kids[0], "A") {
			t.Errorf("dialect %s: the first notification is not the event on topic fa:\n%s", name, got.body)
		}
	}
}

// TestWSE2011_SurvivesRestart: a 2011 wrapped subscription outlives a
// restart, answers GetStatus in 2011 and still delivers wrapped.
func TestWSE2011_SurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	h := start(t, dir, eventing.Options{})
	s := newSink(t)
	notify := s.URL + "/wrapped"
	id, _ := h.subscribeOK(t, v11, `<wse:Subscribe>`+delivery(notify, "", "")+`<wse:Format Name="`+eventing.FormatWrap+`"/>`+expiresEl("PT1H", "")+topicFilter("r")+`</wse:Subscribe>`)
	h.stop()
	h = start(t, dir, eventing.Options{})
	r, msgID := h.call(t, soap.V12, v11, "GetStatus", subID(v11, id), `<wse:GetStatus/>`)
	parseDateTime(t, grantedText(t, v11, reply(t, v11, r, msgID, "GetStatusResponse"), "GetStatusResponse"))
	publishText(t, h, "r", "after restart")
	checkWrapped(t, s.next(t), notify, "after restart")
}
