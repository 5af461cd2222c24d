package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/soap"
)

// wseSubscribe sends a WS-Eventing Subscribe and returns the identifier and
// the granted expiry.
func (c *clientFlags) wseSubscribe(ctx context.Context, notifyTo, endTo, expires, dialect, filter, secret string) (id, granted string, err error) {
	sub := etree.NewElement("wse:Subscribe")
	sub.CreateAttr("xmlns:wse", eventing.NS)
	sub.CreateAttr("xmlns:wsa", addressing.NS200408)
	if endTo != "" {
		sub.CreateElement("wse:EndTo").CreateElement("wsa:Address").SetText(endTo)
	}
	sub.CreateElement("wse:Delivery").CreateElement("wse:NotifyTo").CreateElement("wsa:Address").SetText(notifyTo)
	if expires != "" {
		sub.CreateElement("wse:Expires").SetText(expires)
	}
	if filter != "" {
		f := sub.CreateElement("wse:Filter")
		if dialect != "" {
			f.CreateAttr("Dialect", dialect)
		}
		f.CreateAttr("xmlns:m", eventing.MessageNS)
		f.SetText(filter)
	}
	if secret != "" {
		s := sub.CreateElement("h:Secret")
		s.CreateAttr("xmlns:h", eventing.HeraldNS)
		s.SetText(secret)
	}
	env, err := (&soap.Client{HTTP: c.client().HTTP}).Call(ctx, c.base()+"/eventing", eventing.ActionSubscribe, sub)
	if err != nil {
		return "", "", err
	}
	resp := env.Payload()
	for _, el := range resp.FindElements(".//Identifier") {
		id = addressing.Text(el)
	}
	granted = addressing.Text(addressing.Child(resp, eventing.NS, "Expires"))
	if id == "" {
		return "", "", errors.New("the SubscribeResponse has no wse:Identifier")
	}
	return id, granted, nil
}

// manager calls a subscription manager operation on subscription id.
func (c *clientFlags) manager(ctx context.Context, id, action string, body *etree.Element) (*soap.Envelope, error) {
	ident := etree.NewElement("wse:Identifier")
	ident.CreateAttr("xmlns:wse", eventing.NS)
	ident.SetText(id)
	return (&soap.Client{HTTP: c.client().HTTP}).Call(ctx, c.base()+soap.ManagerPath, action, body, ident)
}

func wse(local string) *etree.Element {
	el := etree.NewElement("wse:" + local)
	el.CreateAttr("xmlns:wse", eventing.NS)
	return el
}

// admin calls one of Herald's operator operations and returns the
// response's payload.
func (c *clientFlags) admin(ctx context.Context, op string, args ...[2]string) (*etree.Element, error) {
	payload := etree.NewElement("h:" + op)
	payload.CreateAttr("xmlns:h", eventing.HeraldNS)
	for _, a := range args {
		if a[1] != "" {
			payload.CreateElement("h:" + a[0]).SetText(a[1])
		}
	}
	env, err := (&soap.Client{HTTP: c.client().HTTP}).Call(ctx, c.base()+"/eventing", eventing.HeraldNS+"/"+op, payload)
	if err != nil {
		return nil, err
	}
	if p := env.Payload(); p != nil {
		return p, nil
	}
	return nil, errors.New("empty response")
}

func renewCmd(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var cf clientFlags
	fs := newFlags("renew", "renew ID [--expires PT1H|2026-12-31T00:00:00Z] [flags]", stdout)
	cf.register(fs)
	expires := fs.String("expires", "", "new lease: an xs:duration or xs:dateTime (default: the server's default lease)")
	id, err := fs.parseOne(args, "a subscription id")
	if err != nil {
		return err
	}
	body := wse("Renew")
	if *expires != "" {
		body.CreateElement("wse:Expires").SetText(*expires)
	}
	env, err := cf.manager(ctx, id, eventing.ActionRenew, body)
	if err != nil {
		return err
	}
	granted := addressing.Text(env.Payload().FindElement(".//Expires"))
	return cf.output.emit(stdout, map[string]any{"id": id, "expires": granted}, func() error {
		_, err := fmt.Fprintf(stdout, "renewed %s until %s\n", id, granted)
		return err
	})
}

func cancelCmd(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var cf clientFlags
	fs := newFlags("cancel", "cancel ID [--reason TEXT] [flags]", stdout)
	cf.register(fs)
	reason := fs.String("reason", "", "the reason given in SubscriptionEnd")
	id, err := fs.parseOne(args, "a subscription id")
	if err != nil {
		return err
	}
	if _, err := cf.admin(ctx, "cancelSubscription", [2]string{"subscriptionId", id}, [2]string{"reason", *reason}); err != nil {
		return err
	}
	return cf.output.emit(stdout, map[string]any{"id": id, "cancelled": true}, func() error {
		_, err := fmt.Fprintln(stdout, "cancelled", id)
		return err
	})
}

func text(el *etree.Element, path string) string { return addressing.Text(el.FindElement(path)) }

// status is herald status --output json: the fields the text shows.
type status struct {
	ID           string          `json:"id"`
	Processor    string          `json:"processor"`
	Filter       *statusFilter   `json:"filter,omitempty"`
	Expires      string          `json:"expires,omitempty"`
	Created      string          `json:"created"`
	EndTo        bool            `json:"endTo"`
	Signed       bool            `json:"signed"`
	Cursor       uint64          `json:"cursor"`
	Head         uint64          `json:"head"`
	Failures     int             `json:"failures"`
	FailingSince string          `json:"failingSince,omitempty"`
	NextAttempt  string          `json:"nextAttempt,omitempty"`
	Replaying    *statusReplay   `json:"replaying,omitempty"`
	DeadLetters  int             `json:"deadLetters"`
	Attempts     []statusAttempt `json:"attempts"`
}

type statusFilter struct {
	Dialect    string `json:"dialect"`
	Expression string `json:"expression"`
}

type statusReplay struct {
	Seq         uint64 `json:"seq"`
	Attempts    int    `json:"attempts"`
	NextAttempt string `json:"nextAttempt,omitempty"`
}

type statusAttempt struct {
	Time    string `json:"time"`
	Seq     uint64 `json:"seq"`
	OK      bool   `json:"ok"`
	Status  int    `json:"status,omitempty"`
	Latency string `json:"latency"`
	Error   string `json:"error,omitempty"`
}

func atoi(s string) int       { n, _ := strconv.Atoi(s); return n }
func atou(s string) uint64    { n, _ := strconv.ParseUint(s, 10, 64); return n }
func parseBool(s string) bool { return s == "true" }

// readStatus reads describeSubscription's h:subscription.
func readStatus(info *etree.Element) *status {
	st := &status{
		ID: text(info, "id"), Processor: text(info, "processor"), Expires: text(info, "expires"),
		Created: text(info, "created"), EndTo: parseBool(text(info, "endTo")), Signed: parseBool(text(info, "signed")),
		Cursor: atou(text(info, "cursor")), Head: atou(text(info, "head")), Failures: atoi(text(info, "failures")),
		FailingSince: text(info, "failingSince"), NextAttempt: text(info, "nextAttempt"),
		DeadLetters: atoi(text(info, "deadLetters")), Attempts: []statusAttempt{},
	}
	if f := info.FindElement("filter"); f != nil {
		st.Filter = &statusFilter{Dialect: f.SelectAttrValue("dialect", ""), Expression: addressing.Text(f)}
	}
	if r := info.FindElement("replaying"); r != nil {
		st.Replaying = &statusReplay{Seq: atou(text(r, "seq")), Attempts: atoi(text(r, "attempts")), NextAttempt: text(r, "nextAttempt")}
	}
	for _, a := range info.SelectElements("attempt") {
		lat := text(a, "latency")
		if e, err := eventing.ParseExpiration(lat, time.Now()); err == nil {
			lat = e.Duration.Round(time.Microsecond).String()
		}
		st.Attempts = append(st.Attempts, statusAttempt{Time: text(a, "time"), Seq: atou(text(a, "seq")), OK: parseBool(text(a, "ok")),
			Status: atoi(text(a, "status")), Latency: lat, Error: text(a, "error")})
	}
	return st
}

func (c *clientFlags) describe(ctx context.Context, id string) (*status, error) {
	resp, err := c.admin(ctx, "describeSubscription", [2]string{"subscriptionId", id})
	if err != nil {
		return nil, err
	}
	info := resp.FindElement("subscription")
	if info == nil {
		return nil, errors.New("the response describes no subscription")
	}
	return readStatus(info), nil
}

func statusCmd(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var cf clientFlags
	fs := newFlags("status", "status ID [flags]", stdout)
	cf.register(fs)
	id, err := fs.parseOne(args, "a subscription id")
	if err != nil {
		return err
	}
	st, err := cf.describe(ctx, id)
	if err != nil {
		return err
	}
	return cf.output.emit(stdout, st, func() error { return st.print(stdout) })
}

func (st *status) print(stdout io.Writer) error {
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	expires := st.Expires
	if expires == "" {
		expires = "never"
	}
	filter := "all events"
	if f := st.Filter; f != nil {
		if f.Dialect == eventing.DialectTopic {
			filter = "topic " + f.Expression
		} else {
			filter = "XPath " + f.Expression
		}
	}
	fmt.Fprintf(w, "subscription\t%s\n", st.ID)
	fmt.Fprintf(w, "processor\t%s\n", st.Processor)
	fmt.Fprintf(w, "filter\t%s\n", filter)
	fmt.Fprintf(w, "expires\t%s\n", expires)
	fmt.Fprintf(w, "created\t%s\n", st.Created)
	fmt.Fprintf(w, "end to\t%t\n", st.EndTo)
	fmt.Fprintf(w, "signed\t%t\n", st.Signed)
	fmt.Fprintf(w, "position\t%d of %d\n", st.Cursor, st.Head)
	fmt.Fprintf(w, "failures\t%d", st.Failures)
	if st.FailingSince != "" {
		fmt.Fprintf(w, " since %s", st.FailingSince)
	}
	fmt.Fprintln(w)
	if st.NextAttempt != "" {
		fmt.Fprintf(w, "next attempt\t%s\n", st.NextAttempt)
	}
	if r := st.Replaying; r != nil {
		fmt.Fprintf(w, "replaying\tdead letter %d after %d failed attempts", r.Seq, r.Attempts)
		if r.NextAttempt != "" {
			fmt.Fprintf(w, ", next at %s", r.NextAttempt)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "dead letters\t%d\n", st.DeadLetters)
	w.Flush()
	if len(st.Attempts) > 0 {
		fmt.Fprintln(stdout, "\nlast attempts:")
		w = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "TIME\tSEQ\tOUTCOME\tSTATUS\tLATENCY\tERROR")
		for _, a := range st.Attempts {
			outcome := "failed"
			if a.OK {
				outcome = "delivered"
			}
			status := "-"
			if a.Status != 0 {
				status = strconv.Itoa(a.Status)
			}
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", a.Time, a.Seq, outcome, status, a.Latency, a.Error)
		}
		return w.Flush()
	}
	return nil
}

// deadLetter is one dead letter in herald deadletters --output json.
type deadLetter struct {
	Seq      uint64         `json:"seq"`
	Received string         `json:"received,omitempty"`
	Died     string         `json:"died"`
	Attempts int            `json:"attempts"`
	Error    string         `json:"error"`
	Message  map[string]any `json:"message"`
}

func (c *clientFlags) deadLetters(ctx context.Context, id string) ([]deadLetter, error) {
	resp, err := c.admin(ctx, "getDeadLetters", [2]string{"subscriptionId", id})
	if err != nil {
		return nil, err
	}
	out := []deadLetter{}
	for _, d := range resp.SelectElements("deadLetter") {
		m := d.FindElement("message")
		msg := map[string]any{}
		if m != nil {
			for _, f := range []string{"topic", "instanceId", "timestamp", "text", "info"} {
				if v := text(m, f); v != "" {
					msg[f] = v
				}
			}
		}
		out = append(out, deadLetter{Seq: atou(text(d, "seq")), Received: text(d, "received"), Died: text(d, "died"),
			Attempts: atoi(text(d, "attempts")), Error: text(d, "error"), Message: msg})
	}
	return out, nil
}

func deadLettersCmd(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var cf clientFlags
	fs := newFlags("deadletters", "deadletters ID [flags]", stdout)
	cf.register(fs)
	id, err := fs.parseOne(args, "a subscription id")
	if err != nil {
		return err
	}
	dls, err := cf.deadLetters(ctx, id)
	if err != nil {
		return err
	}
	return cf.output.emit(stdout, map[string]any{"id": id, "deadLetters": dls}, func() error {
		if len(dls) == 0 {
			_, err := fmt.Fprintln(stdout, "no dead letters")
			return err
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "SEQ\tDIED\tATTEMPTS\tTOPIC\tTEXT\tLAST ERROR")
		for _, d := range dls {
			topic, _ := d.Message["topic"].(string)
			txt, _ := d.Message["text"].(string)
			fmt.Fprintf(w, "%d\t%s\t%d\t%s\t%q\t%s\n", d.Seq, d.Died, d.Attempts, topic, txt, d.Error)
		}
		return w.Flush()
	})
}

func replayCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newFlags("replay", "replay ID [--since 2026-11-22T10:00:00Z] [--wait] [flags]", stdout)
	cf.register(fs)
	since := fs.String("since", "", "replay only the dead letters that died at or after this time (RFC 3339)")
	wait := fs.Bool("wait", false, "wait until every replayed dead letter is delivered or dead again (a progress bar on a terminal)")
	poll := fs.Duration("poll", 500*time.Millisecond, "with --wait: how often to ask Herald")
	id, err := fs.parseOne(args, "a subscription id")
	if err != nil {
		return err
	}
	var sinceT time.Time
	if *since != "" {
		if sinceT, err = time.Parse(time.RFC3339, *since); err != nil {
			return fs.usagef("--since: %q is not an RFC 3339 time", *since)
		}
	}
	// With --wait, the dead letters before the replay are what it waits for.
	var before []deadLetter
	if *wait {
		if before, err = cf.deadLetters(ctx, id); err != nil {
			return err
		}
	}
	resp, err := cf.admin(ctx, "replay", [2]string{"subscriptionId", id}, [2]string{"since", *since})
	if err != nil {
		return err
	}
	n := atoi(text(resp, "return"))
	result := map[string]any{"id": id, "replaying": n}
	if !*wait {
		return cf.output.emit(stdout, result, func() error {
			_, err := fmt.Fprintf(stdout, "replaying %d dead letters of %s\n", n, id)
			return err
		})
	}
	if !cf.output.json() {
		fmt.Fprintf(stdout, "replaying %d dead letters of %s\n", n, id)
	}
	// Each replayed dead letter ends delivered (it leaves the list) or
	// dead again (its time of death changes).
	tracked := map[uint64]string{}
	for _, d := range before {
		if t, err := time.Parse(time.RFC3339Nano, d.Died); sinceT.IsZero() || err != nil || !t.Before(sinceT) {
			tracked[d.Seq] = d.Died
		}
	}
	bar := newProgress(stderr, int64(len(tracked)), "replaying", false)
	delivered, dead := 0, 0
	for {
		now, err := cf.deadLetters(ctx, id)
		if err != nil {
			bar.abort(stderr)
			return err
		}
		left := map[uint64]string{}
		for _, d := range now {
			left[d.Seq] = d.Died
		}
		delivered, dead = 0, 0
		for seq, died := range tracked {
			switch d, ok := left[seq]; {
			case !ok:
				delivered++
			case d != died:
				dead++
			}
		}
		bar.set(int64(delivered + dead))
		if delivered+dead == len(tracked) {
			break
		}
		select {
		case <-ctx.Done():
			bar.abort(stderr)
			return ctx.Err()
		case <-time.After(*poll):
		}
	}
	bar.done()
	result["delivered"], result["deadAgain"] = delivered, dead
	return cf.output.emit(stdout, result, func() error {
		_, err := fmt.Fprintf(stdout, "delivered %d, dead again %d\n", delivered, dead)
		return err
	})
}
