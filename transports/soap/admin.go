package soap

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/wsdl"
)

// heraldElement returns an element in Herald's namespace (prefix h).
func heraldElement(local string) *etree.Element {
	el := etree.NewElement("h:" + local)
	el.CreateAttr("xmlns:h", eventing.HeraldNS)
	return el
}

// subscriptionID returns a decoded subscriptionId, which every operator
// operation requires.
func subscriptionID(id, op string) (string, error) {
	if id = strings.TrimSpace(id); id == "" {
		return "", eventing.InvalidMessage(op + " has no subscriptionId, or it is empty")
	}
	return id, nil
}

func (s *Server) cancelSubscription(ctx context.Context, r *Request) (*Response, error) {
	in := r.Input.(*wsdl.CancelSubscription)
	id, err := subscriptionID(in.SubscriptionId, "cancelSubscription")
	if err != nil {
		return nil, err
	}
	if err := s.svc.Cancel(ctx, id, strings.TrimSpace(in.Reason)); err != nil {
		return nil, err
	}
	return &Response{Value: &wsdl.CancelSubscriptionResponse{Return_: true}}, nil
}

// The responses of describeSubscription, getDeadLetters and Pull are
// built as XML: they carry the event's <message> verbatim, and h:filter's
// dialect attribute, which the generated types cannot hold (simple
// content with attributes; see wsdl/generate.go). Their requests are
// decoded through the generated types like every operator operation's.

func (s *Server) describeSubscription(ctx context.Context, r *Request) (*Response, error) {
	id, err := subscriptionID(r.Input.(*wsdl.DescribeSubscription).SubscriptionId, "describeSubscription")
	if err != nil {
		return nil, err
	}
	d, err := s.svc.Describe(ctx, id)
	if err != nil {
		return nil, err
	}
	resp := heraldElement("describeSubscriptionResponse")
	info := resp.CreateElement("h:subscription")
	sub, st := d.Subscription, d.State
	info.CreateElement("h:id").SetText(sub.ID)
	info.CreateElement("h:processor").SetText(sub.Processor)
	if sub.Filter != nil {
		f := info.CreateElement("h:filter")
		f.CreateAttr("dialect", sub.Filter.Dialect)
		f.SetText(sub.Filter.Expression)
	}
	if !sub.Expires.IsZero() {
		info.CreateElement("h:expires").SetText(eventing.FormatDateTime(sub.Expires))
	}
	info.CreateElement("h:created").SetText(eventing.FormatDateTime(sub.Created))
	info.CreateElement("h:endTo").SetText(strconv.FormatBool(sub.EndTo != ""))
	info.CreateElement("h:signed").SetText(strconv.FormatBool(sub.Secret != ""))
	info.CreateElement("h:cursor").SetText(strconv.FormatUint(st.Cursor, 10))
	info.CreateElement("h:head").SetText(strconv.FormatUint(d.Head, 10))
	info.CreateElement("h:failures").SetText(strconv.Itoa(st.Failures))
	if !st.FailingSince.IsZero() {
		info.CreateElement("h:failingSince").SetText(eventing.FormatDateTime(st.FailingSince))
	}
	if !st.NextAttempt.IsZero() {
		info.CreateElement("h:nextAttempt").SetText(eventing.FormatDateTime(st.NextAttempt))
	}
	if st.ReplaySeq != 0 {
		re := info.CreateElement("h:replaying")
		re.CreateElement("h:seq").SetText(strconv.FormatUint(st.ReplaySeq, 10))
		re.CreateElement("h:attempts").SetText(strconv.Itoa(st.ReplayAttempts))
		if !st.ReplayNext.IsZero() {
			re.CreateElement("h:nextAttempt").SetText(eventing.FormatDateTime(st.ReplayNext))
		}
	}
	info.CreateElement("h:deadLetters").SetText(strconv.Itoa(d.DeadLetters))
	for _, a := range st.Log {
		ae := info.CreateElement("h:attempt")
		ae.CreateElement("h:time").SetText(eventing.FormatDateTime(a.Time))
		ae.CreateElement("h:seq").SetText(strconv.FormatUint(a.Seq, 10))
		ae.CreateElement("h:ok").SetText(strconv.FormatBool(a.OK))
		if a.Status != 0 {
			ae.CreateElement("h:status").SetText(strconv.Itoa(a.Status))
		}
		ae.CreateElement("h:latency").SetText(eventing.FormatDuration(a.Latency))
		if a.Error != "" {
			ae.CreateElement("h:error").SetText(a.Error)
		}
	}
	return &Response{Body: []*etree.Element{resp}}, nil
}

func (s *Server) getDeadLetters(ctx context.Context, r *Request) (*Response, error) {
	id, err := subscriptionID(r.Input.(*wsdl.GetDeadLetters).SubscriptionId, "getDeadLetters")
	if err != nil {
		return nil, err
	}
	dls, err := s.svc.DeadLetters(ctx, id)
	if err != nil {
		return nil, err
	}
	resp := heraldElement("getDeadLettersResponse")
	for _, dl := range dls {
		e := resp.CreateElement("h:deadLetter")
		e.CreateElement("h:seq").SetText(strconv.FormatUint(dl.Seq, 10))
		e.CreateElement("h:received").SetText(eventing.FormatDateTime(dl.Received))
		e.CreateElement("h:died").SetText(eventing.FormatDateTime(dl.Time))
		e.CreateElement("h:attempts").SetText(strconv.Itoa(dl.Attempts))
		e.CreateElement("h:error").SetText(dl.Error)
		e.AddChild(dl.Event().Element())
	}
	return &Response{Body: []*etree.Element{resp}}, nil
}

func (s *Server) replay(ctx context.Context, r *Request) (*Response, error) {
	in := r.Input.(*wsdl.Replay)
	id, err := subscriptionID(in.SubscriptionId, "replay")
	if err != nil {
		return nil, err
	}
	var since time.Time
	if v := strings.TrimSpace(string(in.Since)); v != "" {
		e, err := eventing.ParseExpiration(v, s.svc.Clock().Now())
		if err != nil || e.IsDuration {
			return nil, eventing.InvalidMessage(fmt.Sprintf("replay: since %q is not an xs:dateTime", v))
		}
		since = e.Time
	}
	n, err := s.svc.Replay(ctx, id, since)
	if err != nil {
		return nil, err
	}
	return &Response{Value: &wsdl.ReplayResponse{Return_: int32(min(n, math.MaxInt32))}}, nil
}

func (s *Server) pull(ctx context.Context, r *Request) (*Response, error) {
	in := r.Input.(*wsdl.Pull)
	id, err := subscriptionID(in.SubscriptionId, "Pull")
	if err != nil {
		return nil, err
	}
	cursor, err := eventing.ParseCursor(strings.TrimSpace(in.Cursor))
	if err != nil {
		return nil, err
	}
	max := 0
	c := addressing.Child(r.Payload, eventing.HeraldNS, "max")
	if c == nil {
		c = addressing.Child(r.Payload, "", "max") // unqualified, as decode reads it
	}
	if c != nil {
		if max = int(in.Max); max < 1 {
			return nil, eventing.InvalidMessage(fmt.Sprintf("Pull: max %q is not a positive integer", addressing.Text(c)))
		}
	}
	var wait time.Duration
	if in.Wait != nil {
		v := strings.TrimSpace(string(*in.Wait))
		e, err := eventing.ParseExpiration(v, s.svc.Clock().Now())
		if err != nil || !e.IsDuration || e.Duration < 0 {
			return nil, eventing.InvalidMessage(fmt.Sprintf("Pull: wait %q is not a non-negative xs:duration", v))
		}
		wait = e.Duration
	}
	p, err := s.svc.Pull(ctx, id, cursor, max, wait)
	if err != nil {
		return nil, err
	}
	return &Response{Body: []*etree.Element{p.Element()}}, nil
}
