package httpapi_test

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/guard"
	"github.com/herald-eventing/herald/transports/soap"
)

// guarded starts a Herald whose deliveries go through a target guard that
// allows allow and resolves names with lookup (never the network).
func guarded(t *testing.T, allow string, lookup func(context.Context, string) ([]netip.Addr, error)) *herald {
	t.Helper()
	prefixes, err := guard.ParseAllow(allow)
	if err != nil {
		t.Fatal(err)
	}
	g := guard.New(guard.Options{Allow: prefixes, Lookup: lookup})
	client := &http.Client{Transport: g.Transport()}
	return start(t, "", eventing.Options{Targets: g, HTTPClient: client, Ender: &soap.Ender{Client: client}})
}

func noLookup(_ context.Context, host string) ([]netip.Addr, error) {
	return nil, &net.DNSError{Err: "no such host (test resolver)", Name: host, IsNotFound: true}
}

func TestSSRF_RefusedAtSubscribe(t *testing.T) {
	sink := newSink(t)
	port := sink.Listener.Addr().(*net.TCPAddr).Port
	h := guarded(t, "", func(ctx context.Context, host string) ([]netip.Addr, error) {
		if host == "rebind.example" || host == "metadata.example" {
			return []netip.Addr{netip.MustParseAddr("169.254.169.254")}, nil
		}
		return noLookup(ctx, host)
	})
	hosts := []string{"127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "[::1]", "[::ffff:127.0.0.1]",
		"0.0.0.0", "localhost", "10.1.2.3", "192.168.1.1", "172.16.0.1", "169.254.169.254", "[fe80::1]", "[fc00::1]",
		"224.0.0.1", "metadata.example"}
	for _, host := range hosts {
		t.Run(host, func(t *testing.T) {
			url := "http://" + host + ":" + itoa(port) + "/x"
			r := h.post(t, "/eventing", soap12, envelope(soap.V12, wsaHeaders(wsa04, wse+"/Subscribe"), wseSubscribe(url, "", "", "")))
			if r.status != 400 || !strings.Contains(r.body, "InvalidMessage") || !strings.Contains(r.body, "refused") {
				t.Fatalf("NotifyTo %s: HTTP %d %s; want a Sender fault saying why", url, r.status, r.body)
			}
		})
	}
	webhook := manageSubscribe("webhook", "t", `<h:Webhook xmlns:h="`+eventing.HeraldNS+`"><h:URL>http://127.1:`+itoa(port)+`/</h:URL><h:Format>xml</h:Format></h:Webhook>`)
	if r := h.post(t, "/eventing", soap12, envelope(soap.V12, "", webhook)); r.status != 400 {
		t.Fatalf("a webhook on 127.1: %d %s", r.status, r.body)
	}
	endTo := `<wse:Subscribe><wse:EndTo><wsa:Address xmlns:wsa="` + wsa04 + `">http://[::1]:` + itoa(port) + `/end</wsa:Address></wse:EndTo>` +
		`<wse:Delivery><wse:NotifyTo><wsa:Address xmlns:wsa="` + wsa04 + `">http://203.0.113.7/</wsa:Address></wse:NotifyTo></wse:Delivery></wse:Subscribe>`
	if r := h.post(t, "/eventing", soap12, envelope(soap.V12, wsaHeaders(wsa04, wse+"/Subscribe"), endTo)); r.status != 400 || !strings.Contains(r.body, "EndTo") {
		t.Fatalf("an EndTo on [::1]: %d %s", r.status, r.body)
	}
	sink.nothing(t)
}

// A name that resolved to a public address when the subscription was made
// and to a loopback one at delivery time (DNS rebinding) is refused when
// Herald dials; an allowed loopback address is delivered to.
func TestSSRF_RebindingRefusedAtDial(t *testing.T) {
	// The refused sink listens on 127.0.0.1, the allowed one on 127.0.0.2.
	refused := newSink(t)
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 here: %v", err)
	}
	allowed := newSinkOn(t, ln)
	var calls atomic.Int32
	h := guarded(t, "127.0.0.2/32", func(ctx context.Context, host string) ([]netip.Addr, error) {
		if host != "rebind.example" {
			return noLookup(ctx, host)
		}
		if calls.Add(1) == 1 {
			return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil // what the check at subscribe time sees
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil // what the dial sees
	})
	rebind := "http://rebind.example:" + itoa(refused.Listener.Addr().(*net.TCPAddr).Port) + "/"
	for _, url := range []string{rebind, allowed.URL + "/ok"} {
		r := h.post(t, "/eventing", soap12, envelope(soap.V12, wsaHeaders(wsa04, wse+"/Subscribe"), wseSubscribe(url, "", topicFilter("t"), "")))
		if r.status != 200 {
			t.Fatalf("subscribe %s: %d %s", url, r.status, r.body)
		}
	}
	publishText(t, h, "t", "rebinding")
	if got := allowed.next(t); !strings.Contains(got.body, "rebinding") {
		t.Fatalf("the allowed sink got %s", got.body)
	}
	// The rebinding subscription's attempt was refused at the dial: its
	// delivery log says so, and its sink never heard from Herald.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var failed bool
		for _, sub := range h.svc.Dispatcher().Subscriptions() {
			if st, ok := h.svc.Dispatcher().State(sub.ID); ok {
				for _, a := range st.Log {
					failed = failed || (!a.OK && strings.Contains(a.Error, "loopback"))
				}
			}
		}
		if failed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no refused attempt in the delivery log")
		}
		time.Sleep(10 * time.Millisecond)
	}
	refused.nothing(t)
	if calls.Load() < 2 {
		t.Fatalf("the name was resolved %d times; want once at subscribe and again at the dial", calls.Load())
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
