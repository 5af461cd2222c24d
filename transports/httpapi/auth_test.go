package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/access"
	"github.com/herald-eventing/herald/transports/httpapi"
	"github.com/herald-eventing/herald/transports/httpapi/httpapitest"
	"github.com/herald-eventing/herald/transports/keyapi"
	"github.com/herald-eventing/herald/transports/ratelimit"
	"github.com/herald-eventing/herald/transports/soap"
)

const (
	adminKey     = "test-admin-key-0123456789abcdef"
	wsseNS       = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	passwordText = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
)

// authHerald is a Herald with authorization on and a few keys.
type authHerald struct {
	*herald
	keys map[string]string // name → key
}

func startAuth(t *testing.T, o eventing.Options, hopts httpapi.Options) *authHerald {
	t.Helper()
	h := httpapitest.StartAuth(t, "", o, adminKey, hopts)
	a := &authHerald{herald: &herald{Herald: h, svc: h.Service, db: h.DB, dir: h.Dir}, keys: map[string]string{}}
	for _, k := range []struct {
		name   string
		role   access.Role
		topics string
	}{
		{"sub1", access.Subscriber, ""}, {"sub2", access.Subscriber, ""}, {"subacc", access.Subscriber, "acc.*"},
		{"pubacc", access.Publisher, "acc.*"}, {"pub", access.Publisher, ""},
	} {
		pats, err := access.ParsePatterns(k.topics)
		if err != nil {
			t.Fatal(err)
		}
		_, secret, err := h.Keyring.Create(t.Context(), k.name, k.role, pats)
		if err != nil {
			t.Fatal(err)
		}
		a.keys[k.name] = secret
	}
	return a
}

func bearerHeader(key string) []string { return []string{"Authorization", "Bearer " + key} }

// wseCall posts a WS-Eventing request with the given credentials.
func (a *authHerald) wseCall(t *testing.T, path, action, extraHeaders, body string, cred ...string) response {
	t.Helper()
	return a.post(t, path, soap12, envelope(soap.V12, wsaHeaders(wsa04, wse+"/"+action)+extraHeaders, body), cred...)
}

func (a *authHerald) subscribe(t *testing.T, key string, filter string) string {
	t.Helper()
	r := a.wseCall(t, "/eventing", "Subscribe", "", wseSubscribe("http://203.0.113.9/sink-"+key[len(key)-6:], "", filter, ""), bearerHeader(key)...)
	if r.status != 200 {
		t.Fatalf("subscribe: %d %s", r.status, r.body)
	}
	return bodyText(t, parse(t, r.body), "SubscribeResponse/SubscriptionManager/ReferenceParameters/Identifier")
}

func topicFilter(topic string) string {
	return `<wse:Filter Dialect="` + eventing.DialectTopic + `">` + topic + `</wse:Filter>`
}

func ident(id string) string { return `<wse:Identifier>` + id + `</wse:Identifier>` }

var reSubID = regexp.MustCompile(`uuid:[0-9a-f-]{36}`)

func TestAuth_Unauthenticated(t *testing.T) {
	a := startAuth(t, eventing.Options{}, httpapi.Options{})
	for name, cred := range map[string][]string{
		"no credential":  nil,
		"a wrong bearer": bearerHeader("hk_not-a-key-of-this-server-at-all"),
		"a wrong basic":  {"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("u:nope"))},
		"another scheme": {"Authorization", "Digest x"},
	} {
		t.Run(name, func(t *testing.T) {
			r := a.wseCall(t, "/eventing", "Subscribe", "", wseSubscribe("http://203.0.113.9/", "", "", ""), cred...)
			if r.status != 401 || r.header.Get("WWW-Authenticate") != `Basic realm="herald", Bearer` {
				t.Fatalf("HTTP %d, WWW-Authenticate %q; want 401 with the challenge", r.status, r.header.Get("WWW-Authenticate"))
			}
			if !strings.Contains(r.body, "FailedAuthentication") || !strings.Contains(r.body, wsseNS) {
				t.Fatalf("no wsse:FailedAuthentication fault: %s", r.body)
			}
			m := a.post(t, "/messages", "text/xml", `<message xmlns="http://cloud42.jw.de/message"><topic>acc.x</topic></message>`, cred...)
			if m.status != 401 || m.header.Get("WWW-Authenticate") == "" {
				t.Fatalf("POST /messages: HTTP %d %q; want 401 with the challenge", m.status, m.body)
			}
		})
	}
	// The contract stays readable: the WSDL, the schemas and the health check.
	for _, path := range []string{"/eventing?wsdl", "/xsd/message.xsd", "/healthz"} {
		resp, err := http.Get(a.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d; want 200 without a key", path, resp.StatusCode)
		}
	}
}

func TestAuth_CredentialForms(t *testing.T) {
	a := startAuth(t, eventing.Options{}, httpapi.Options{})
	key := a.keys["sub1"]
	ut := func(typ, pw string) string {
		return `<wsse:Security xmlns:wsse="` + wsseNS + `" s:mustUnderstand="true"><wsse:UsernameToken><wsse:Username>whoever</wsse:Username>` +
			`<wsse:Password Type="` + typ + `">` + pw + `</wsse:Password></wsse:UsernameToken></wsse:Security>`
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("any-user:"+key))
	tests := []struct {
		name    string
		headers string
		cred    []string
		status  int
	}{
		{"bearer", "", bearerHeader(key), 200},
		{"basic with any user name", "", []string{"Authorization", basic}, 200},
		{"UsernameToken PasswordText (mustUnderstand)", ut(passwordText, key), nil, 200},
		{"UsernameToken with a wrong password", ut(passwordText, "wrong"), nil, 401},
		{"UsernameToken PasswordDigest", ut(strings.Replace(passwordText, "Text", "Digest", 1), "abc"), nil, 401},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := wseSubscribe("http://203.0.113.9/forms/"+string(rune('a'+i)), "", "", "")
			r := a.wseCall(t, "/eventing", "Subscribe", tt.headers, body, tt.cred...)
			if r.status != tt.status {
				t.Fatalf("HTTP %d; want %d: %s", r.status, tt.status, r.body)
			}
		})
	}
}

// Another principal's requests on a subscription get exactly what an
// unknown subscription gets; the owner and an admin are served.
func TestAuth_ForeignPrincipalSeesUnknown(t *testing.T) {
	a := startAuth(t, eventing.Options{}, httpapi.Options{})
	id := a.subscribe(t, a.keys["sub1"], topicFilter("t"))
	pullID := func() string {
		r := a.post(t, "/eventing", soap12, envelope(soap.V12, "", manageSubscribe("pull", "p", "")), bearerHeader(a.keys["sub1"])...)
		if r.status != 200 {
			t.Fatalf("pull subscribe: %d %s", r.status, r.body)
		}
		return bodyText(t, parse(t, r.body), "subscribeResponse/return")
	}()
	const unknown = "uuid:00000000-0000-4000-8000-000000000000"
	ops := map[string]string{
		"GetStatus":   `<wse:GetStatus/>`,
		"Renew":       `<wse:Renew><wse:Expires>PT1H</wse:Expires></wse:Renew>`,
		"Unsubscribe": `<wse:Unsubscribe/>`,
	}
	answer := func(r response) string { return reSubID.ReplaceAllString(r.body, "ID") + string(rune(r.status)) }
	for _, op := range []string{"GetStatus", "Renew", "Unsubscribe"} {
		theirs := a.wseCall(t, "/subscriptions", op, ident(id), ops[op], bearerHeader(a.keys["sub2"])...)
		none := a.wseCall(t, "/subscriptions", op, ident(unknown), ops[op], bearerHeader(a.keys["sub2"])...)
		if theirs.status < 400 || answer(theirs) != answer(none) {
			t.Errorf("%s of another's subscription: HTTP %d %s\nunknown: HTTP %d %s", op, theirs.status, theirs.body, none.status, none.body)
		}
	}
	for _, op := range []string{"describeSubscription", "getDeadLetters", "replay"} {
		body := `<h:` + op + ` xmlns:h="` + eventing.HeraldNS + `"><h:subscriptionId>` + id + `</h:subscriptionId></h:` + op + `>`
		theirs := a.post(t, "/eventing", soap12, envelope(soap.V12, "", body), bearerHeader(a.keys["sub2"])...)
		body = strings.ReplaceAll(body, id, unknown)
		none := a.post(t, "/eventing", soap12, envelope(soap.V12, "", body), bearerHeader(a.keys["sub2"])...)
		if theirs.status < 400 || answer(theirs) != answer(none) {
			t.Errorf("%s of another's subscription: HTTP %d %s\nunknown: HTTP %d %s", op, theirs.status, theirs.body, none.status, none.body)
		}
	}
	get := func(id, key string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, a.URL+"/subscriptions/"+id+"/events", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, reSubID.ReplaceAllString(string(b), "ID")
	}
	s1, b1 := get(pullID, a.keys["sub2"])
	s2, b2 := get(unknown, a.keys["sub2"])
	if s1 != 404 || s1 != s2 || b1 != b2 {
		t.Errorf("pull read of another's subscription: %d %q; unknown: %d %q", s1, b1, s2, b2)
	}
	if s, _ := get(pullID, a.keys["sub1"]); s != 200 {
		t.Errorf("the owner's pull read: %d", s)
	}
	// The owner and an admin still can.
	if r := a.wseCall(t, "/subscriptions", "GetStatus", ident(id), ops["GetStatus"], bearerHeader(a.keys["sub1"])...); r.status != 200 {
		t.Errorf("the owner's GetStatus: %d %s", r.status, r.body)
	}
	if r := a.wseCall(t, "/subscriptions", "Unsubscribe", ident(id), ops["Unsubscribe"], bearerHeader(adminKey)...); r.status != 200 {
		t.Errorf("the admin's Unsubscribe: %d %s", r.status, r.body)
	}
}

// A repeated Subscribe for the same endpoint by another principal makes
// that principal's own subscription: it never updates, nor reveals, the
// first one.
func TestAuth_SameEndpointOtherOwner(t *testing.T) {
	a := startAuth(t, eventing.Options{}, httpapi.Options{})
	body := wseSubscribe("http://203.0.113.9/shared", "", topicFilter("t"), "")
	r1 := a.wseCall(t, "/eventing", "Subscribe", "", body, bearerHeader(a.keys["sub1"])...)
	r2 := a.wseCall(t, "/eventing", "Subscribe", "", body, bearerHeader(a.keys["sub2"])...)
	const path = "SubscribeResponse/SubscriptionManager/ReferenceParameters/Identifier"
	id1, id2 := bodyText(t, parse(t, r1.body), path), bodyText(t, parse(t, r2.body), path)
	if id1 == "" || id2 == "" || id1 == id2 {
		t.Fatalf("ids %q and %q: want two subscriptions", id1, id2)
	}
}

func TestAuth_TopicScopes(t *testing.T) {
	a := startAuth(t, eventing.Options{}, httpapi.Options{})
	publish := func(key, topic string) int {
		return a.post(t, "/messages", "text/xml", `<message xmlns="http://cloud42.jw.de/message"><topic>`+topic+`</topic></message>`, bearerHeader(key)...).status
	}
	for _, tt := range []struct {
		key, topic string
		want       int
	}{
		{a.keys["pubacc"], "acc.x", 202}, {a.keys["pubacc"], "other.x", 403}, {a.keys["pubacc"], "acc.x.y", 403},
		{a.keys["pubacc"], "acc", 403}, {a.keys["pub"], "other.x", 202}, {a.keys["sub1"], "acc.x", 403},
		{a.keys["pub"], eventing.EndedTopic, 403}, {adminKey, eventing.EndedTopic, 403}, {adminKey, "herald", 403},
		{adminKey, "ops.x", 202},
	} {
		if got := publish(tt.key, tt.topic); got != tt.want {
			t.Errorf("publish %s with %s: %d; want %d", tt.topic, tt.key[:8], got, tt.want)
		}
	}
	subscribe := func(key, filter string) int {
		return a.wseCall(t, "/eventing", "Subscribe", "", wseSubscribe("http://203.0.113.9/scope/"+filter[len(filter)-12:], "", filter, ""), bearerHeader(key)...).status
	}
	xpath := `<wse:Filter xmlns:m="` + eventing.MessageNS + `">/m:message[m:topic='acc.x']</wse:Filter>`
	for _, tt := range []struct {
		key, filter string
		want        int
	}{
		{a.keys["subacc"], topicFilter("acc.x"), 200}, {a.keys["subacc"], topicFilter("other.x"), 403},
		{a.keys["subacc"], xpath, 403}, {a.keys["sub1"], xpath, 200}, {a.keys["pub"], topicFilter("acc.y"), 403},
	} {
		if got := subscribe(tt.key, tt.filter); got != tt.want {
			t.Errorf("subscribe %s with %s: %d; want %d", tt.filter, tt.key[:8], got, tt.want)
		}
	}
}

func TestAuth_AdminOnlyOperations(t *testing.T) {
	a := startAuth(t, eventing.Options{}, httpapi.Options{})
	set := envelope(soap.V12, "", `<web:setEndpointAddress><web:address>/elsewhere</web:address></web:setEndpointAddress>`)
	r := a.post(t, "/eventing", soap12, set, bearerHeader(a.keys["sub1"])...)
	if r.status != 403 || !strings.Contains(r.body, "Sender") {
		t.Fatalf("a subscriber's setEndpointAddress: %d %s; want 403 with a Sender fault", r.status, r.body)
	}
	if got := a.svc.MessagePath(); got != eventing.DefaultMessagePath {
		t.Fatalf("the message endpoint moved to %s", got)
	}
	id := a.subscribe(t, a.keys["sub1"], topicFilter("t"))
	cancel := `<h:cancelSubscription xmlns:h="` + eventing.HeraldNS + `"><h:subscriptionId>` + id + `</h:subscriptionId></h:cancelSubscription>`
	if r := a.post(t, "/eventing", soap12, envelope(soap.V12, "", cancel), bearerHeader(a.keys["sub1"])...); r.status != 403 {
		t.Fatalf("the owner's cancelSubscription: %d %s; want 403 (admins only)", r.status, r.body)
	}
	if r := a.post(t, "/eventing", soap12, envelope(soap.V12, "", cancel), bearerHeader(adminKey)...); r.status != 200 {
		t.Fatalf("the admin's cancelSubscription: %d %s", r.status, r.body)
	}
	if r := a.post(t, "/eventing", soap12, set, bearerHeader(adminKey)...); r.status != 200 {
		t.Fatalf("the admin's setEndpointAddress: %d %s", r.status, r.body)
	}
}

func TestAuth_KeysAPIAndRevocation(t *testing.T) {
	a := startAuth(t, eventing.Options{}, httpapi.Options{})
	call := func(method, path, key, body string) (int, string) {
		req, _ := http.NewRequest(method, a.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if s, _ := call("POST", "/keys", a.keys["sub1"], `{"role":"admin"}`); s != 403 {
		t.Fatalf("a subscriber creating a key: %d; want 403", s)
	}
	s, body := call("POST", "/keys", adminKey, `{"role":"publisher","topics":["ci.>"],"name":"ci"}`)
	var k keyapi.Key
	if s != 201 || json.Unmarshal([]byte(body), &k) != nil || !strings.HasPrefix(k.Key, access.KeyPrefix) {
		t.Fatalf("create: %d %s", s, body)
	}
	if s, _ := call("POST", "/keys", adminKey, `{"role":"publisher","name":"ci"}`); s != 409 {
		t.Fatalf("a second key named ci: %d; want 409", s)
	}
	s, body = call("GET", "/keys", adminKey, "")
	if s != 200 || strings.Contains(body, k.Key) || strings.Contains(body, "hash") || !strings.Contains(body, `"ci.\u003e"`) && !strings.Contains(body, `"ci.>"`) {
		t.Fatalf("list: %d %s", s, body)
	}
	publish := func() int {
		return a.post(t, "/messages", "text/xml", `<message xmlns="http://cloud42.jw.de/message"><topic>ci.build</topic></message>`, bearerHeader(k.Key)...).status
	}
	if got := publish(); got != 202 {
		t.Fatalf("publish with the new key: %d", got)
	}
	if s, _ := call("DELETE", "/keys/ci", adminKey, ""); s != 204 {
		t.Fatalf("revoke: %d", s)
	}
	if got := publish(); got != 401 {
		t.Fatalf("publish right after revoking: %d; want 401", got)
	}
	if s, _ := call("DELETE", "/keys/ci", adminKey, ""); s != 404 {
		t.Fatalf("revoke again: %d; want 404", s)
	}
}

func TestAuth_SubscriptionQuota(t *testing.T) {
	a := startAuth(t, eventing.Options{MaxSubscriptionsPerOwner: 2}, httpapi.Options{})
	for i := range 3 {
		body := wseSubscribe("http://203.0.113.9/quota/"+string(rune('a'+i)), "", topicFilter("t"), "")
		r := a.wseCall(t, "/eventing", "Subscribe", "", body, bearerHeader(a.keys["sub1"])...)
		want := 200
		if i == 2 {
			want = 403
		}
		if r.status != want {
			t.Fatalf("subscription %d: %d; want %d: %s", i+1, r.status, want, r.body)
		}
	}
	// Another key has its own quota; ending one gives room back.
	a.subscribe(t, a.keys["sub2"], topicFilter("t"))
}

func TestAuth_RateLimits(t *testing.T) {
	a := startAuth(t, eventing.Options{}, httpapi.Options{
		ManagementLimiter: ratelimit.New(0.001, 1, nil),
		PublishLimiter:    ratelimit.New(0.001, 2, nil),
	})
	status := func() string {
		return `<wse:GetStatus/>`
	}
	first := a.wseCall(t, "/subscriptions", "GetStatus", ident("uuid:x"), status(), bearerHeader(a.keys["sub1"])...)
	second := a.wseCall(t, "/subscriptions", "GetStatus", ident("uuid:x"), status(), bearerHeader(a.keys["sub1"])...)
	if first.status == 429 || second.status != 429 || second.header.Get("Retry-After") == "" || !strings.Contains(second.body, "RateLimited") {
		t.Fatalf("management: first %d, second %d (Retry-After %q) %s; want the second 429 with a fault",
			first.status, second.status, second.header.Get("Retry-After"), second.body)
	}
	if other := a.wseCall(t, "/subscriptions", "GetStatus", ident("uuid:x"), status(), bearerHeader(a.keys["sub2"])...); other.status == 429 {
		t.Fatal("another key is limited by the first key's requests")
	}
	if admin := a.wseCall(t, "/subscriptions", "GetStatus", ident("uuid:x"), status(), bearerHeader(adminKey)...); admin.status == 429 {
		t.Fatal("the admin is rate limited")
	}
	var got []int
	for range 3 {
		got = append(got, a.post(t, "/messages", "text/xml", `<message xmlns="http://cloud42.jw.de/message"><topic>acc.x</topic></message>`, bearerHeader(a.keys["pubacc"])...).status)
	}
	if !slices.Equal(got, []int{202, 202, 429}) {
		t.Fatalf("publishes: %v; want 202, 202, 429", got)
	}
}

// A key made later under a revoked key's name owns nothing of the old
// key's: subscriptions record the key's id, not its name.
func TestAuth_ReusedNameOwnsNothing(t *testing.T) {
	a := startAuth(t, eventing.Options{}, httpapi.Options{})
	_, first, err := a.Keyring.Create(t.Context(), "reused", access.Subscriber, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := a.subscribe(t, first, topicFilter("t"))
	if err := a.Keyring.Revoke(t.Context(), "reused"); err != nil {
		t.Fatal(err)
	}
	_, second, err := a.Keyring.Create(t.Context(), "reused", access.Subscriber, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := a.wseCall(t, "/subscriptions", "GetStatus", ident(id), `<wse:GetStatus/>`, bearerHeader(second)...); r.status < 400 {
		t.Fatalf("the new key under the old name reads the old key's subscription: %d %s", r.status, r.body)
	}
}
