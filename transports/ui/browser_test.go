package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/eventingtest"
	"github.com/herald-eventing/herald/eventing/presence"
	"github.com/herald-eventing/herald/transports/httpapi/httpapitest"
)

// chromiumPath is where Debian's chromium package puts the browser
// (.ci/install-interop installs it); HERALD_CHROMIUM overrides it.
const chromiumPath = "/usr/bin/chromium"

// newChromium starts a headless Chromium for t, closed in t.Cleanup. It
// skips the test when there is none, and fails it on CI (CI=true), where
// there must be one.
func newChromium(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath
	if p := os.Getenv("HERALD_CHROMIUM"); p != "" {
		path = p
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Chromium at %s on CI: .ci/install-interop installs it (%v)", path, err)
		}
		t.Skipf("no Chromium at %s: apt-get install chromium to run the browser tests", path)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox, // as root in a container
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("cannot start Chromium: %v", err)
	}
	return ctx
}

// artifacts is where screenshots go: $HERALD_ARTIFACTS, or a temporary
// directory of the test.
func artifacts(t *testing.T) string {
	if dir := os.Getenv("HERALD_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes)", path, len(png))
}

func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get runs one action and returns its value.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

const browserRules = `
silence = "10m"

[[group]]
name = "accounting"
instances = "i-acc-*"

[[state]]
topic = "health"
text = "(?i)\\bdown\\b"
state = "down"

[[state]]
topic = "health"
text = "(?i)slow"
state = "degraded"

[[state]]
topic = "health"
state = "up"

[[level]]
name = "orders"
topic = "orders"
failure_text = "(?i)failed"
window = "10m"
threshold = 99

[[level]]
name = "accounting"
group = "accounting"
failure_topic = "health"
failure_text = "(?i)down"
window = "10m"
threshold = 99.9
`

// The whole page in a real browser against a real Herald: live events,
// an instance going up → down (a rule) → unknown (silence, on the fake
// clock), a dead letter replayed with the button and arriving at the sink,
// a subscription cancelled; screenshots of each page.
func TestBrowser(t *testing.T) {
	out := artifacts(t)
	rules, err := presence.ParseRules("rules.toml", []byte(browserRules))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	clock := eventingtest.NewClock(t0)
	h := httpapitest.StartPresence(t, "", eventing.Options{
		Clock:      clock,
		Dispatcher: eventing.DispatcherOptions{Schedule: []time.Duration{}}, // one attempt, then a dead letter
	}, presence.Options{Rules: rules})
	ctx := newChromium(t) // closed before Herald stops: its streams end first
	flush := func() {
		t.Helper()
		if err := h.Presence.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	ok := newSink(t, http.StatusAccepted)
	failing := newSink(t, http.StatusBadRequest)
	for i := range 3 {
		subscribe(t, h, ok, fmt.Sprintf("/orders-%d", i), "orders")
	}
	billing := subscribe(t, h, failing, "/billing", "billing")
	subscribe(t, h, ok, "/health", "health")

	// Traffic from a few instances, one fake minute at a time, with a few
	// failures, for the sparklines.
	traffic := func(m int) {
		t.Helper()
		for i := range 6 {
			text := fmt.Sprintf("order %d accepted", 2000+10*m+i)
			if (m%7 == 3 && i == 0) || (m == 17 && i < 2) {
				text = fmt.Sprintf("order %d failed: card declined", 2000+10*m+i)
			}
			publish(t, h, fmt.Sprintf("i-acc-%d", 2+i%2), "orders", text)
		}
		publish(t, h, "i-sto-1", "health", "ok")
		switch m {
		case 15:
			publish(t, h, "i-acc-3", "health", "replication slow")
		case 18:
			publish(t, h, "i-web-7", "health", "frontend down")
		}
		flush()
		clock.Advance(time.Minute)
	}
	for m := range 10 {
		traffic(m)
	}

	// Live events: what is published appears at once.
	run(t, ctx, "the live page", chromedp.Navigate(h.URL+"/ui/live"), chromedp.WaitVisible(chromedp.CSS(`#live-status.state-up`)))
	ev := publish(t, h, "i-acc-1", "orders", "order 1001 <accepted>")
	row := chromedp.CSS(fmt.Sprintf(`#live tr[data-seq="%d"]`, ev.Seq))
	run(t, ctx, "the event in the live table", chromedp.WaitVisible(row))
	text := get(t, ctx, "the row's text", chromedp.Text(row))
	if !strings.Contains(text, "order 1001 <accepted>") || !strings.Contains(text, "i-acc-1") {
		t.Errorf("live row %q", text)
	}
	// The presence event it caused is live too.
	run(t, ctx, "the presence event in the live table", chromedp.WaitVisible(chromedp.CSS(`#live tr.operator`)))
	text = get(t, ctx, "the row's text", chromedp.Text(chromedp.CSS(`#live tr.operator`)))
	if !strings.Contains(text, "herald.presence.changed") || !strings.Contains(text, "i-acc-1: unknown → up") {
		t.Errorf("operator row %q", text)
	}

	// Presence: up, then down by a rule, then unknown by silence.
	run(t, ctx, "the presence page", chromedp.Navigate(h.URL+"/ui/presence"),
		chromedp.WaitVisible(chromedp.CSS(`#presence[data-live="1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-instance="i-acc-1"] .state-up`)))
	publish(t, h, "i-acc-1", "health", "ledger service DOWN")
	run(t, ctx, "i-acc-1 down", chromedp.WaitVisible(chromedp.CSS(`tr[data-instance="i-acc-1"] .state-down`)))
	// Ten minutes of traffic from the others, one minute at a time, with
	// a few failures: i-acc-1 stays silent.
	for m := 10; m < 20; m++ {
		traffic(m)
	}
	// 10 minutes after its last event: unknown.
	run(t, ctx, "i-acc-1 unknown", chromedp.WaitVisible(chromedp.CSS(`tr[data-instance="i-acc-1"] .state-unknown`)))
	publish(t, h, "i-acc-2", "orders", "order 3000 accepted")
	flush()
	run(t, ctx, "the others", chromedp.WaitVisible(chromedp.CSS(`tr[data-instance="i-acc-3"] .state-degraded`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-instance="i-web-7"] .state-down`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-instance="i-acc-2"] .state-up`)))
	levels := get(t, ctx, "the levels", chromedp.Text(chromedp.CSS(`#levels`)))
	if !strings.Contains(levels, "failure events in the last 10 min") || !strings.Contains(levels, "below") {
		t.Errorf("levels: %q", levels)
	}
	points := get(t, ctx, "the sparklines", chromedp.Evaluate[int](`document.querySelectorAll("#levels svg polyline").length`))
	if points != 2 {
		t.Errorf("%d sparklines", points)
	}
	run(t, ctx, "the presence page again", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#presence[data-live="1"]`)))
	screenshot(t, ctx, out, "ui-presence.png")

	// A dead letter, replayed with the button, arrives at the sink.
	publish(t, h, "i-acc-2", "billing", "invoice 42")
	deadLetters(t, h, billing.ID, 1)
	run(t, ctx, "the subscription page", chromedp.Navigate(h.URL+"/ui/subscriptions/"+billing.ID), chromedp.WaitVisible(chromedp.CSS(`#replay-all`)))
	text = get(t, ctx, "the dead letters", chromedp.Text(chromedp.CSS(`#deadletters`)))
	if !strings.Contains(text, "invoice 42") || !strings.Contains(text, "HTTP 400") {
		t.Errorf("dead letters %q", text)
	}
	text = get(t, ctx, "the attempts", chromedp.Text(chromedp.CSS(`#attempts`)))
	if !strings.Contains(text, "failed") || !strings.Contains(text, "400") {
		t.Errorf("attempts %q", text)
	}
	screenshot(t, ctx, out, "ui-subscription.png")
	failing.status.Store(http.StatusAccepted)
	run(t, ctx, "Replay", chromedp.Click(chromedp.CSS(`#replay-all`)), chromedp.WaitVisible(chromedp.CSS(`#notice`)))
	text = get(t, ctx, "the notice", chromedp.Text(chromedp.CSS(`#notice`)))
	if text != "1 dead letters sent back for delivery." {
		t.Errorf("notice %q", text)
	}
	if got := failing.next(t); got != "invoice 42" {
		t.Errorf("the sink got %q", got)
	}
	deadLetters(t, h, billing.ID, 0)
	run(t, ctx, "after the replay", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#attempts tr.ok`)))
	text = get(t, ctx, "the dead letters", chromedp.Text(chromedp.CSS(`#deadletters`)))
	if !strings.Contains(text, "No dead letter.") {
		t.Errorf("dead letters after the replay %q", text)
	}

	// Cancel asks first, then ends the subscription.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	asked := make(chan string, 1)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			asked <- ev.Message
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			return
		}
	}()
	run(t, ctx, "Cancel", chromedp.Click(chromedp.CSS(`#cancel`)), chromedp.WaitVisible(chromedp.CSS(`#notice`)))
	if q := <-asked; !strings.Contains(q, "Cancel subscription "+billing.ID+"?") {
		t.Errorf("the confirmation asked %q", q)
	}
	text = get(t, ctx, "the notice", chromedp.Text(chromedp.CSS(`#notice`)))
	if text != "Subscription "+billing.ID+" cancelled." {
		t.Errorf("notice %q", text)
	}
	rows := get(t, ctx, "the list", chromedp.Evaluate[int](`document.querySelectorAll("#subscriptions tbody a").length`))
	if rows != 4 {
		t.Errorf("%d subscriptions listed after the cancel", rows)
	}
	screenshot(t, ctx, out, "ui-subscriptions.png")

	run(t, ctx, "the live page", chromedp.Navigate(h.URL+"/ui/live"), chromedp.WaitVisible(chromedp.CSS(`#live-status.state-up`)))
	publish(t, h, "i-acc-4", "health", "ledger service down")
	traffic(20)
	run(t, ctx, "the live rows", chromedp.WaitVisible(chromedp.CSS(`#live tr.operator`)))
	screenshot(t, ctx, out, "ui-live.png")
}
