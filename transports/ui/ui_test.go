package ui_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/access"
	"github.com/herald-eventing/herald/eventing/presence"
	"github.com/herald-eventing/herald/transports/httpapi"
	"github.com/herald-eventing/herald/transports/httpapi/httpapitest"
	"github.com/herald-eventing/herald/transports/ui"
)

const adminKey = "test-admin-key-0123456789abcdef"

func TestSecurityHeaders(t *testing.T) {
	h := httpapitest.Start(t, "", eventing.Options{})
	b := newBrowser(t, h.URL, "")
	for _, path := range []string{"/ui/", "/ui/live", "/ui/presence", "/ui/static/ui.js", "/ui/subscriptions/uuid:nope", "/ui/nope"} {
		p := b.get(path)
		for k, want := range map[string]string{
			"Content-Security-Policy": ui.ContentSecurityPolicy,
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
			"Cache-Control":           "no-store",
		} {
			if got := p.header.Get(k); got != want {
				t.Errorf("%s: %s %q; want %q", path, k, got, want)
			}
		}
	}
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "default-src 'none'"} {
		if !strings.Contains(ui.ContentSecurityPolicy, want) {
			t.Errorf("the policy lacks %s", want)
		}
	}
	if p := b.get("/ui"); p.status != http.StatusMovedPermanently || p.header.Get("Location") != "/ui/" {
		t.Errorf("/ui: %d %s", p.status, p.header.Get("Location"))
	}
	if p := b.get("/ui/static/ui.js"); p.status != 200 || !strings.Contains(p.header.Get("Content-Type"), "javascript") {
		t.Errorf("ui.js: %d %s", p.status, p.header.Get("Content-Type"))
	}
	if p := b.get("/ui/subscriptions/uuid:nope"); p.status != http.StatusNotFound {
		t.Errorf("unknown subscription: %d", p.status)
	}
	if p := b.get("/ui/presence"); !strings.Contains(p.body, `id="presence-off"`) {
		t.Error("presence is not shown as off without a tracker")
	}
}

func TestAdminsOnly(t *testing.T) {
	h := httpapitest.StartAuth(t, "", eventing.Options{}, adminKey, httpapi.Options{})
	_, subKey, err := h.Keyring.Create(t.Context(), "ops", access.Subscriber, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/ui/", "/ui/presence", "/ui/live/stream", "/ui/static/ui.css"} {
		p := newBrowser(t, h.URL, "").get(path)
		if p.status != http.StatusUnauthorized || p.header.Get("WWW-Authenticate") != `Basic realm="herald", Bearer` {
			t.Errorf("%s without a key: %d %q", path, p.status, p.header.Get("WWW-Authenticate"))
		}
		if p := newBrowser(t, h.URL, subKey).get(path); p.status != http.StatusForbidden || !strings.Contains(p.body, "for admins") {
			t.Errorf("%s with a subscriber's key: %d %s", path, p.status, p.body)
		}
		if p := newBrowser(t, h.URL, "wrong").get(path); p.status != http.StatusUnauthorized {
			t.Errorf("%s with a wrong key: %d", path, p.status)
		}
	}
	p := newBrowser(t, h.URL, adminKey).get("/ui/")
	if p.status != http.StatusOK || !strings.Contains(p.body, "admin admin") {
		t.Errorf("admin: %d", p.status)
	}
}

func TestReplayAndCancel_NeedTheToken(t *testing.T) {
	h := httpapitest.StartAuth(t, "", eventing.Options{Dispatcher: eventing.DispatcherOptions{Schedule: []time.Duration{}}}, adminKey, httpapi.Options{})
	s := newSink(t, http.StatusBadRequest)
	sub := subscribe(t, h, s, "/a", "orders")
	publish(t, h, "i-1", "orders", "order 1")
	deadLetters(t, h, sub.ID, 1)

	b := newBrowser(t, h.URL, adminKey)
	p := b.get("/ui/subscriptions/" + sub.ID)
	if p.status != 200 || !strings.Contains(p.body, "order 1") || !strings.Contains(p.body, "HTTP 400") {
		t.Fatalf("page: %d\n%s", p.status, p.body)
	}
	token := csrf(t, p)
	replay := "/ui/subscriptions/" + sub.ID + "/replay"
	for name, form := range map[string]url.Values{
		"no token":    {},
		"wrong token": {"csrf": {"x" + token}},
	} {
		if p := b.do(http.MethodPost, replay, form); p.status != http.StatusForbidden || !strings.Contains(p.body, "CSRF") {
			t.Errorf("%s: %d", name, p.status)
		}
	}
	// The cookie alone (no field), or the field without the cookie.
	if p := newBrowser(t, h.URL, adminKey).do(http.MethodPost, replay, url.Values{"csrf": {token}}); p.status != http.StatusForbidden {
		t.Errorf("token without the cookie: %d", p.status)
	}
	// Cross-origin: refused whatever the token.
	if p := b.do(http.MethodPost, replay, url.Values{"csrf": {token}}, "Sec-Fetch-Site", "cross-site"); p.status != http.StatusForbidden {
		t.Errorf("cross-site: %d", p.status)
	}
	if p := b.do(http.MethodPost, replay, url.Values{"csrf": {token}}, "Origin", "https://evil.example"); p.status != http.StatusForbidden {
		t.Errorf("cross-origin: %d", p.status)
	}
	// Another admin's token does not do: it is signed for its principal.
	if _, other, err := h.Keyring.Create(t.Context(), "admin2", access.Admin, nil); err != nil {
		t.Fatal(err)
	} else {
		b2 := newBrowser(t, h.URL, other) // the same cookie, another key
		u, _ := url.Parse(h.URL + "/ui/")
		b2.c.Jar.SetCookies(u, b.c.Jar.Cookies(u))
		if p := b2.do(http.MethodPost, replay, url.Values{"csrf": {token}}); p.status != http.StatusForbidden {
			t.Errorf("another admin's token: %d", p.status)
		}
	}

	s.status.Store(http.StatusAccepted)
	p = b.do(http.MethodPost, replay, url.Values{"csrf": {token}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/subscriptions/"+sub.ID+"?replayed=1" {
		t.Fatalf("replay: %d %s\n%s", p.status, p.header.Get("Location"), p.body)
	}
	if got := s.next(t); got != "order 1" {
		t.Errorf("replayed %q", got)
	}
	deadLetters(t, h, sub.ID, 0)
	if p := b.get(p.header.Get("Location")); !strings.Contains(p.body, "1 dead letters sent back") || !strings.Contains(p.body, "delivered") {
		t.Errorf("after the replay:\n%s", p.body)
	}

	cancel := "/ui/subscriptions/" + sub.ID + "/cancel"
	if p := b.do(http.MethodPost, cancel, url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("cancel without a token: %d", p.status)
	}
	p = b.do(http.MethodPost, cancel, url.Values{"csrf": {token}, "reason": {"moved"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("cancel: %d %s", p.status, p.body)
	}
	if _, err := h.Service.GetStatus(access.WithPrincipal(t.Context(), admin), sub.ID); err == nil {
		t.Error("the subscription is still there")
	}
	if p := b.get(p.header.Get("Location")); !strings.Contains(p.body, "Subscription "+sub.ID+" cancelled.") {
		t.Errorf("after the cancel:\n%s", p.body)
	}
	if p := b.do(http.MethodPost, cancel, url.Values{"csrf": {token}}); p.status != http.StatusNotFound {
		t.Errorf("cancel again: %d", p.status)
	}
}

func TestSubscriptions_FiltersAndPages(t *testing.T) {
	h := httpapitest.Start(t, "", eventing.Options{})
	s := newSink(t, http.StatusAccepted)
	for i := range 7 {
		subscribe(t, h, s, fmt.Sprintf("/%d", i), fmt.Sprintf("acc.%d", i%2))
	}
	b := newBrowser(t, h.URL, "")
	p := b.get("/ui/?limit=3")
	if !strings.Contains(p.body, "7 of 7 subscriptions") || strings.Count(p.body, `href="/ui/subscriptions/uuid:`) != 3 {
		t.Fatalf("first page:\n%s", p.body)
	}
	seen := 0
	for path := "/ui/?limit=3"; path != ""; {
		p := b.get(path)
		seen += strings.Count(p.body, `href="/ui/subscriptions/uuid:`)
		path = ""
		if i := strings.Index(p.body, `id="next" href="`); i >= 0 {
			rest := p.body[i+len(`id="next" href="`):]
			path = strings.ReplaceAll(rest[:strings.Index(rest, `"`)], "&amp;", "&")
		}
	}
	if seen != 7 {
		t.Errorf("%d subscriptions over the pages", seen)
	}
	if p := b.get("/ui/?topic=acc.1"); !strings.Contains(p.body, "3 of 7 subscriptions") {
		t.Errorf("topic acc.1: %s", p.body)
	}
	if p := b.get("/ui/?topic=acc.*&processor=soap&state=ok"); !strings.Contains(p.body, "7 of 7 subscriptions") {
		t.Errorf("acc.*: %s", p.body)
	}
	if p := b.get("/ui/?state=failing"); !strings.Contains(p.body, "0 of 7 subscriptions") || !strings.Contains(p.body, "No subscription matches.") {
		t.Errorf("failing: %s", p.body)
	}
	if p := b.get("/ui/?topic=acc.>.x"); p.status != http.StatusBadRequest || !strings.Contains(p.body, "may only stand last") {
		t.Errorf("bad pattern: %d", p.status)
	}
}

func TestPresence_EscapesWhatPublishersSend(t *testing.T) {
	rules, err := presence.ParseRules("r.toml", []byte("[[level]]\nname = \"<b>all</b>\"\nfailure_text = \"fail\"\nthreshold = 99\n"))
	if err != nil {
		t.Fatal(err)
	}
	h := httpapitest.StartPresence(t, "", eventing.Options{}, presence.Options{Rules: rules})
	publish(t, h, `<img src=x onerror=alert(1)>`, "orders", `<script>alert("x")</script>`)
	publish(t, h, "i-2", "orders", "fail")
	if err := h.Presence.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, h.URL, "")
	for _, path := range []string{"/ui/presence", "/ui/presence/fragment"} {
		p := b.get(path)
		if strings.Contains(p.body, "<script>alert") || strings.Contains(p.body, "<img src=x") || strings.Contains(p.body, "<b>all") {
			t.Errorf("%s: unescaped publisher text:\n%s", path, p.body)
		}
		for _, want := range []string{"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", "&lt;img src=x onerror=alert(1)&gt;", "&lt;b&gt;all&lt;/b&gt;", "50 % (1 failure event in the last 10 min)", "<polyline", "<circle class=\"failure\""} {
			if !strings.Contains(p.body, want) {
				t.Errorf("%s lacks %s:\n%s", path, want, p.body)
			}
		}
	}
}
