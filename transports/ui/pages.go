package ui

import (
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/presence"
)

// subscriptionsData is the list page's.
type subscriptionsData struct {
	Query      eventing.SubscriptionQuery
	Page       *eventing.SubscriptionPage
	Processors []string
	States     []string
	Error      string
	// NextURL and FirstURL keep the filters; empty when there is no
	// such page.
	NextURL, FirstURL string
	Cancelled         string
}

func (h *Handler) subscriptions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	query := eventing.SubscriptionQuery{
		Topic: strings.TrimSpace(q.Get("topic")), Processor: strings.TrimSpace(q.Get("processor")),
		State: strings.TrimSpace(q.Get("state")), After: q.Get("after"), Limit: limit(q.Get("limit"), 50, 500),
	}
	d := subscriptionsData{Query: query, Processors: h.svc.AvailableProcessors(), States: eventing.SubscriptionStates, Cancelled: q.Get("cancelled")}
	page, err := h.svc.Dispatcher().Page(query, h.svc.Clock().Now())
	status := http.StatusOK
	if err != nil {
		d.Error, status = err.Error(), http.StatusBadRequest
		page = &eventing.SubscriptionPage{}
	}
	d.Page = page
	keep := url.Values{}
	for k, v := range map[string]string{"topic": query.Topic, "processor": query.Processor, "state": query.State} {
		if v != "" {
			keep.Set(k, v)
		}
	}
	if l := q.Get("limit"); l != "" {
		keep.Set("limit", strconv.Itoa(query.Limit))
	}
	if query.After != "" {
		d.FirstURL = "/ui/?" + keep.Encode()
	}
	if page.Next != "" {
		keep.Set("after", page.Next)
		d.NextURL = "/ui/?" + keep.Encode()
	}
	h.render(w, r, status, "subscriptions", "Subscriptions", d)
}

func limit(s string, def, max int) int {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return def
	}
	return min(n, max)
}

// subscriptionData is the page of one subscription.
type subscriptionData struct {
	D           *eventing.Description
	Lag         uint64
	Attempts    []eventing.Attempt // newest first
	DeadLetters []*eventing.DeadLetter
	Replayed    string
	Filter      string
}

func (h *Handler) subscription(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d, err := h.svc.Describe(r.Context(), id)
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	dls, err := h.svc.DeadLetters(r.Context(), id)
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	data := subscriptionData{D: d, DeadLetters: dls, Replayed: r.URL.Query().Get("replayed"), Filter: filterText(d.Subscription.Filter)}
	if d.Head > d.State.Cursor {
		data.Lag = d.Head - d.State.Cursor
	}
	for i := len(d.State.Log) - 1; i >= 0; i-- {
		data.Attempts = append(data.Attempts, d.State.Log[i])
	}
	h.render(w, r, http.StatusOK, "subscription", "Subscription "+id, data)
}

func filterText(f *eventing.FilterSpec) string {
	switch {
	case f == nil:
		return "every event"
	case f.Dialect == eventing.DialectTopic:
		return "topic " + f.Expression
	}
	return "XPath " + f.Expression
}

func (h *Handler) replay(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var since time.Time
	if s := r.PostFormValue("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("since %q is not an RFC 3339 time", s))
			return
		}
		since = t
	}
	n, err := h.svc.Replay(r.Context(), id, since)
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	h.logger.Info("ui: dead letters replayed", slog.String("principal", principal(r)), slog.String("subscription_id", id), slog.Int("count", n))
	http.Redirect(w, r, "/ui/subscriptions/"+url.PathEscape(id)+"?replayed="+strconv.Itoa(n), http.StatusSeeOther)
}

func (h *Handler) cancel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if len(reason) > 500 {
		reason = reason[:500]
	}
	if err := h.svc.Cancel(r.Context(), id, reason); err != nil {
		h.failErr(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/?cancelled="+url.QueryEscape(id), http.StatusSeeOther)
}

// liveData is the live page's.
type liveData struct{ Topic, StreamURL string }

func (h *Handler) livePage(w http.ResponseWriter, r *http.Request) {
	d := liveData{Topic: strings.TrimSpace(r.URL.Query().Get("topic")), StreamURL: "/ui/live/stream"}
	if d.Topic != "" {
		d.StreamURL += "?" + url.Values{"topic": {d.Topic}}.Encode()
	}
	h.render(w, r, http.StatusOK, "live", "Live events", d)
}

// liveStream is the browser stream of every event (or of one topic).
func (h *Handler) liveStream(w http.ResponseWriter, r *http.Request) {
	q := url.Values{}
	if t := strings.TrimSpace(r.URL.Query().Get("topic")); t != "" {
		q.Set("topic", t)
	} else {
		q.Set("filter", "/m:message")
	}
	if id := r.URL.Query().Get("lastEventId"); id != "" {
		q.Set("lastEventId", id)
	}
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = q.Encode()
	h.live.ServeHTTP(w, r2)
}

// presenceData is the presence page's.
type presenceData struct {
	On      bool
	Query   presence.InstanceQuery
	Page    presence.InstancePage
	States  []presence.State
	Levels  []levelView
	Stats   presence.Stats
	NextURL string
	// FragmentURL is where the page's script fetches the tables.
	FragmentURL string
	Now         time.Time
}

// levelView is a service level with its sparkline.
type levelView struct {
	presence.Level
	Spark sparkline
}

func (h *Handler) presenceData(r *http.Request) presenceData {
	d := presenceData{On: h.presence != nil, States: presence.States, Now: h.svc.Clock().Now()}
	if h.presence == nil {
		return d
	}
	q := r.URL.Query()
	d.Query = presence.InstanceQuery{State: presence.State(q.Get("state")), Contains: strings.TrimSpace(q.Get("id")), After: q.Get("after"), Limit: limit(q.Get("limit"), 50, 1000)}
	d.Page = h.presence.Instances(d.Query)
	d.Stats = h.presence.Stats()
	for _, l := range h.presence.Levels() {
		d.Levels = append(d.Levels, levelView{Level: l, Spark: newSparkline(l)})
	}
	keep := url.Values{}
	if d.Query.State != "" {
		keep.Set("state", string(d.Query.State))
	}
	if d.Query.Contains != "" {
		keep.Set("id", d.Query.Contains)
	}
	if d.Query.After != "" {
		keep.Set("after", d.Query.After)
	}
	d.FragmentURL = "/ui/presence/fragment?" + keep.Encode()
	if d.Page.Next != "" {
		keep.Set("after", d.Page.Next)
		d.NextURL = "/ui/presence?" + keep.Encode()
	}
	return d
}

func (h *Handler) presencePage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "presence", "Presence and service levels", h.presenceData(r))
}

// presenceFragment is the presence page's tables alone, which the page's
// script fetches to stay fresh.
func (h *Handler) presenceFragment(w http.ResponseWriter, r *http.Request) {
	h.execute(w, http.StatusOK, "presence", "presence-tables", h.presenceData(r))
}

// A sparkline is a level's minutes as an inline SVG polyline.
type sparkline struct {
	Width, Height int
	Points        string
	// Failures are the minutes with failure events, as points.
	Failures []point
	// ThresholdY is the threshold's line (-1 for none).
	ThresholdY float64
	Low        string // the bottom of the scale, "99 %"
	Title      string
}

type point struct{ X, Y float64 }

// newSparkline scales a level's minutes between 100 % and a bit under the
// lowest minute (or the threshold), so that 99.9 % does not look like 100 %.
func newSparkline(l presence.Level) sparkline {
	s := sparkline{Width: 240, Height: 36, ThresholdY: -1}
	lo := 100.0
	for _, m := range l.Minutes {
		if m.Events > 0 {
			lo = min(lo, m.Percent())
		}
	}
	if l.Threshold > 0 {
		lo = min(lo, l.Threshold)
	}
	lo = max(0, lo-(100-lo)*0.25)
	if lo > 99.9 {
		lo = 99.9
	}
	y := func(p float64) float64 {
		return round1(2 + (100-p)/(100-lo)*float64(s.Height-4))
	}
	n := len(l.Minutes)
	var b strings.Builder
	for i, m := range l.Minutes {
		x := 0.0
		if n > 1 {
			x = round1(float64(i) * float64(s.Width) / float64(n-1))
		}
		py := y(m.Percent())
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%g,%g", x, py)
		if m.Failures > 0 {
			s.Failures = append(s.Failures, point{x, py})
		}
	}
	s.Points = b.String()
	if l.Threshold > 0 {
		s.ThresholdY = y(l.Threshold)
	}
	s.Low = strconv.FormatFloat(round1(lo), 'f', -1, 64) + " %"
	s.Title = fmt.Sprintf("%s over the last %d minutes, one point a minute (scale %s to 100 %%)", l.Name, n, s.Low)
	return s
}

func round1(f float64) float64 { return float64(int(f*10+0.5)) / 10 }

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"ago": func(t, now time.Time) string {
		if t.IsZero() {
			return "never"
		}
		d := now.Sub(t)
		switch {
		case d < 0:
			return "in " + short(-d)
		case d < time.Second:
			return "just now"
		}
		return short(d) + " ago"
	},
	"ms": func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
	},
	"lease": func(s *eventing.Subscription, now time.Time) string {
		if s.Expires.IsZero() {
			return "never expires"
		}
		if s.Expired(now) {
			return "expired " + s.Expires.UTC().Format("2006-01-02 15:04:05Z")
		}
		return "until " + s.Expires.UTC().Format("2006-01-02 15:04:05Z") + " (" + short(s.Expires.Sub(now)) + ")"
	},
	"filter": filterText,
	"pct":    presence.FormatPercent,
	"count":  func(m map[presence.State]int, s presence.State) int { return m[s] },
	"dur": func(d time.Duration) string {
		if d%time.Minute == 0 {
			return strconv.Itoa(int(d/time.Minute)) + " min"
		}
		return d.String()
	},
}

// short writes a duration the way an operator reads it: "3m20s", "2h5m",
// "4d3h".
func short(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd%dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}
