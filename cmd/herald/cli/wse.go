package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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

// oneID parses a subcommand's flags and its one subscription id, which may
// come before or after the flags.
func oneID(fs *flag.FlagSet, args []string) (string, error) {
	return oneArg(fs, args, "a subscription id")
}

func renewCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newFlags("renew", "renew ID [--expires PT1H|2026-12-31T00:00:00Z] [flags]", stderr)
	cf.register(fs)
	expires := fs.String("expires", "", "new lease: an xs:duration or xs:dateTime (default: the server's default lease)")
	id, err := oneID(fs, args)
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
	fmt.Fprintf(stdout, "renewed %s until %s\n", id, addressing.Text(env.Payload().FindElement(".//Expires")))
	return nil
}

func cancelCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newFlags("cancel", "cancel ID [--reason TEXT] [flags]", stderr)
	cf.register(fs)
	reason := fs.String("reason", "", "the reason given in SubscriptionEnd")
	id, err := oneID(fs, args)
	if err != nil {
		return err
	}
	if _, err := cf.admin(ctx, "cancelSubscription", [2]string{"subscriptionId", id}, [2]string{"reason", *reason}); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "cancelled", id)
	return nil
}

func text(el *etree.Element, path string) string { return addressing.Text(el.FindElement(path)) }

func statusCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newFlags("status", "status ID [flags]", stderr)
	cf.register(fs)
	id, err := oneID(fs, args)
	if err != nil {
		return err
	}
	resp, err := cf.admin(ctx, "describeSubscription", [2]string{"subscriptionId", id})
	if err != nil {
		return err
	}
	info := resp.FindElement("subscription")
	if info == nil {
		return errors.New("the response describes no subscription")
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	expires := text(info, "expires")
	if expires == "" {
		expires = "never"
	}
	filter := "all events"
	if f := info.FindElement("filter"); f != nil {
		filter = addressing.Text(f)
		if f.SelectAttrValue("dialect", "") == eventing.DialectTopic {
			filter = "topic " + filter
		} else {
			filter = "XPath " + filter
		}
	}
	fmt.Fprintf(w, "subscription\t%s\n", text(info, "id"))
	fmt.Fprintf(w, "processor\t%s\n", text(info, "processor"))
	fmt.Fprintf(w, "filter\t%s\n", filter)
	fmt.Fprintf(w, "expires\t%s\n", expires)
	fmt.Fprintf(w, "created\t%s\n", text(info, "created"))
	fmt.Fprintf(w, "end to\t%s\n", text(info, "endTo"))
	fmt.Fprintf(w, "signed\t%s\n", text(info, "signed"))
	fmt.Fprintf(w, "position\t%s of %s\n", text(info, "cursor"), text(info, "head"))
	fmt.Fprintf(w, "failures\t%s", text(info, "failures"))
	if s := text(info, "failingSince"); s != "" {
		fmt.Fprintf(w, " since %s", s)
	}
	fmt.Fprintln(w)
	if s := text(info, "nextAttempt"); s != "" {
		fmt.Fprintf(w, "next attempt\t%s\n", s)
	}
	if r := info.FindElement("replaying"); r != nil {
		fmt.Fprintf(w, "replaying\tdead letter %s after %s failed attempts", text(r, "seq"), text(r, "attempts"))
		if s := text(r, "nextAttempt"); s != "" {
			fmt.Fprintf(w, ", next at %s", s)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "dead letters\t%s\n", text(info, "deadLetters"))
	w.Flush()
	attempts := info.SelectElements("attempt")
	if len(attempts) > 0 {
		fmt.Fprintln(stdout, "\nlast attempts:")
		w = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "TIME\tSEQ\tOUTCOME\tSTATUS\tLATENCY\tERROR")
		for _, a := range attempts {
			outcome := "failed"
			if text(a, "ok") == "true" {
				outcome = "delivered"
			}
			status := text(a, "status")
			if status == "" {
				status = "-"
			}
			lat := text(a, "latency")
			if e, err := eventing.ParseExpiration(lat, time.Now()); err == nil {
				lat = e.Duration.Round(time.Microsecond).String()
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", text(a, "time"), text(a, "seq"), outcome, status, lat, text(a, "error"))
		}
		w.Flush()
	}
	return nil
}

func deadLettersCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newFlags("deadletters", "deadletters ID [flags]", stderr)
	cf.register(fs)
	id, err := oneID(fs, args)
	if err != nil {
		return err
	}
	resp, err := cf.admin(ctx, "getDeadLetters", [2]string{"subscriptionId", id})
	if err != nil {
		return err
	}
	dls := resp.SelectElements("deadLetter")
	if len(dls) == 0 {
		fmt.Fprintln(stdout, "no dead letters")
		return nil
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SEQ\tDIED\tATTEMPTS\tTOPIC\tTEXT\tLAST ERROR")
	for _, d := range dls {
		m := d.FindElement("message")
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%q\t%s\n", text(d, "seq"), text(d, "died"), text(d, "attempts"),
			text(m, "topic"), text(m, "text"), text(d, "error"))
	}
	return w.Flush()
}

func replayCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newFlags("replay", "replay ID [--since 2026-11-22T10:00:00Z] [flags]", stderr)
	cf.register(fs)
	since := fs.String("since", "", "replay only the dead letters that died at or after this time (RFC 3339)")
	id, err := oneID(fs, args)
	if err != nil {
		return err
	}
	if *since != "" {
		if _, err := time.Parse(time.RFC3339, *since); err != nil {
			return fmt.Errorf("--since: %w", err)
		}
	}
	resp, err := cf.admin(ctx, "replay", [2]string{"subscriptionId", id}, [2]string{"since", *since})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "replaying %s dead letters of %s\n", text(resp, "return"), id)
	return nil
}
