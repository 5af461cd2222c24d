package soap

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/auth"
	"github.com/herald-eventing/herald/transports/httperror"
	"github.com/herald-eventing/herald/transports/ratelimit"
	"github.com/herald-eventing/herald/wsdl"
	"github.com/herald-eventing/herald/xsd/xmllimit"
)

// DefaultMaxBody is the largest request body the server reads (1 MiB).
const DefaultMaxBody = 1 << 20

// A Request is one SOAP request on its way to an operation handler.
type Request struct {
	Envelope   *Envelope
	Addressing addressing.Headers
	// Payload is the Body's first element (nil for an empty Body).
	Payload   *etree.Element
	Operation wsdl.Operation
	// Input is the payload decoded into the operation's generated request
	// type (a pointer, such as *wsdl.Subscribe) for the operations of a
	// fixed shape; nil for the WS-Eventing ones, which read Payload.
	Input any
	// Base is Herald's address as the client reached it (scheme://host).
	Base string
	HTTP *http.Request
}

// A Response is what a handler answers: the Body's children (none for an
// empty Body) and extra header blocks.
type Response struct {
	// Value is the answer as the operation's generated response type (a
	// pointer, such as *wsdl.SubscribeResponse), encoded before Body;
	// nil when the handler builds the Body itself.
	Value   any
	Body    []*etree.Element
	Headers []*etree.Element
}

// A HandlerFunc serves one WSDL operation.
type HandlerFunc func(ctx context.Context, r *Request) (*Response, error)

// Options configure a Server.
type Options struct {
	Service *eventing.Service
	Logger  *slog.Logger
	// MaxBody caps request bodies (DefaultMaxBody).
	MaxBody int64
	// Limits bound each request's XML (see ParseLimits; the zero value
	// means xmllimit.Default).
	Limits xmllimit.Limits
	// Auth authenticates requests (HTTP credentials or a WS-Security
	// UsernameToken); nil when authorization is off.
	Auth *auth.Authenticator
	// Limiter limits the operations of each non-admin key; nil for no
	// limit (and without authorization nothing is limited).
	Limiter *ratelimit.Limiter
}

// Server is the SOAP front end: an http.Handler for POST /eventing and
// /subscriptions (and GET /eventing?wsdl).
type Server struct {
	svc      *eventing.Service
	logger   *slog.Logger
	maxBody  int64
	limits   xmllimit.Limits
	byAction map[string]*route
	byBody   map[xml.Name]*route
	auth     *auth.Authenticator
	limiter  *ratelimit.Limiter
	// lastManager is the manager address of the last subscribe (see
	// manager).
	lastManager atomic.Pointer[string]
}

type route struct {
	op      wsdl.Operation
	handler HandlerFunc
}

// NewServer builds the dispatch table from the operations of both WSDLs
// (wsdl.AllOperations, generated from them by make generate): action and
// Body QName to operation. An operation of both WS-Eventing versions has
// one handler, which answers in the request's version. It fails if an
// operation has no handler or a handler no operation.
func NewServer(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	s := &Server{svc: o.Service, logger: o.Logger, maxBody: o.MaxBody, limits: o.Limits.WithDefaults(),
		byAction: map[string]*route{}, byBody: map[xml.Name]*route{}, auth: o.Auth, limiter: o.Limiter}
	handlers := s.handlers()
	used := map[string]bool{}
	for _, op := range wsdl.AllOperations() {
		if op.OneWay {
			continue // operations Herald sends (SubscriptionEnd, notifications), not serves
		}
		h, ok := handlers[op.Name]
		if !ok {
			return nil, fmt.Errorf("soap: WSDL operation %s (%s) has no handler", op.Name, op.WSDL)
		}
		used[op.Name] = true
		r := &route{op: op, handler: h}
		if s.byAction[op.Action] != nil || s.byBody[op.Input] != nil {
			return nil, fmt.Errorf("soap: WSDL operation %s (%s): its action or body element is another operation's", op.Name, op.WSDL)
		}
		s.byAction[op.Action] = r
		s.byBody[op.Input] = r
	}
	for name := range handlers {
		if !used[name] {
			return nil, fmt.Errorf("soap: handler %s has no WSDL operation", name)
		}
	}
	return s, nil
}

// handlers maps WSDL operation names to their handlers.
func (s *Server) handlers() map[string]HandlerFunc {
	return map[string]HandlerFunc{
		"subscribe":            s.manageSubscribe,
		"unsubscribe":          s.manageUnsubscribe,
		"setEndpointAddress":   s.setEndpointAddress,
		"getEndpointAddress":   s.getEndpointAddress,
		"SubscribeOp":          s.subscribe,
		"RenewOp":              s.renew,
		"GetStatusOp":          s.getStatus,
		"UnsubscribeOp":        s.unsubscribe,
		"cancelSubscription":   s.cancelSubscription,
		"describeSubscription": s.describeSubscription,
		"getDeadLetters":       s.getDeadLetters,
		"replay":               s.replay,
		"Pull":                 s.pull,
	}
}

// Base returns Herald's address as the client of r addressed it.
func Base(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	return scheme + "://" + r.Host
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if v, ok := r.URL.Query()["wsdl"]; ok {
			doc, ok := wsdl.DocumentFor(v[0], Base(r))
			if !ok {
				httperror.Plain(w, http.StatusNotFound, fmt.Sprintf("no WSDL %q: GET ?wsdl for WS-Eventing 2004/08 and the Cloud42 operations, ?wsdl=%s for WS-Eventing 2011", v[0], wsdl.Query2011))
				return
			}
			if v[0] == "" {
				w.Header().Set("Link", "<"+Base(r)+r.URL.Path+"?wsdl="+wsdl.Query2011+`>; rel="alternate"; title="WS-Eventing 2011"`)
			}
			w.Header().Set("Content-Type", "text/xml; charset=utf-8")
			w.Write(doc)
			return
		}
		http.Error(w, "this is a SOAP endpoint: POST a SOAP envelope, or GET ?wsdl for the WSDL", http.StatusMethodNotAllowed)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	media := parseMedia(r.Header.Get("Content-Type"))
	guess := V12
	if media.typ == "text/xml" {
		guess = V11
	}
	if media.typ != "" && media.typ != "application/soap+xml" && media.typ != "text/xml" && media.typ != "application/xml" {
		s.writeFault(w, New(guess, addressing.VersionNone), "", &Fault{Code: Sender,
			Reason: fmt.Sprintf("unsupported Content-Type %q: send application/soap+xml (SOAP 1.2) or text/xml (SOAP 1.1)", media.typ)}, http.StatusUnsupportedMediaType)
		return
	}
	data, err := readBody(http.MaxBytesReader(w, r.Body, s.maxBody), r.ContentLength, s.maxBody)
	// Nothing keeps the body past this request: the tree copies what it
	// takes from it.
	defer putBuffer(data)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.writeFault(w, New(guess, addressing.VersionNone), "", &Fault{Code: Sender,
				Reason: fmt.Sprintf("the request is larger than %d bytes", s.maxBody)}, http.StatusRequestEntityTooLarge)
			return
		}
		s.writeFault(w, New(guess, addressing.VersionNone), "", &Fault{Code: Sender, Reason: "cannot read the request: " + err.Error()}, 0)
		return
	}
	env, err := parseLimits(data, s.limits, true)
	if err != nil {
		s.writeFault(w, New(guess, addressing.VersionNone), "", s.fault(err, eventing.VersionNone), 0)
		return
	}
	// The tree's slabs are reused once this request is answered: what
	// the handlers keep of it they copy (see Envelope.release).
	defer env.release()
	hdr, err := addressing.ReadHeaders(env.Header)
	req := &Request{Envelope: env, Addressing: hdr, Payload: env.Payload(), Base: Base(r), HTTP: r}
	ctx, aerr := s.authenticate(r, env)
	if aerr != nil {
		ctx, err = r.Context(), aerr // before any other fault: say nothing else to a stranger
	}
	if key := rateKey(ctx); err == nil && key != "" {
		if ok, wait := s.limiter.Allow(key); !ok {
			err = &httperror.RateLimited{RetryAfter: wait, What: "the management operations of this key"}
		}
	}
	if err == nil {
		err = s.checkMustUnderstand(env, hdr)
	}
	var rt *route
	if err == nil {
		rt, err = s.route(req, media.action, r.Header.Get("SOAPAction"))
	}
	var resp *Response
	if err == nil && req.Payload != nil {
		if name := (xml.Name{Space: req.Payload.NamespaceURI(), Local: req.Payload.Tag}); name != rt.op.Input {
			// The action names one operation, the Body another (a 2011
			// action on a 2004/08 Body): neither is answered as if it
			// were the other.
			err = eventing.InvalidMessage(fmt.Sprintf("the Body's element {%s}%s is not the {%s}%s that %s takes", name.Space, name.Local, rt.op.Input.Space, rt.op.Input.Local, rt.op.Action))
		}
	}
	if err == nil {
		req.Operation = rt.op
		if fixedShape(rt.op) {
			req.Input, err = decode(req.Payload, rt.op)
		}
	}
	if err == nil {
		resp, err = rt.handler(ctx, req)
	}
	if err == nil {
		err = bodyOf(resp, rt.op)
	}
	if err != nil {
		action := ""
		if v := req.Addressing.Version; v != addressing.VersionNone {
			action = v.FaultAction()
		}
		ev := requestVersion(req, rt)
		f, status, ok := accessFault(err)
		if !ok {
			f = s.fault(err, ev)
		}
		if f.Eventing {
			action = ev.FaultAction()
		}
		switch status {
		case http.StatusUnauthorized:
			w.Header().Set("WWW-Authenticate", httperror.Challenge)
		case http.StatusTooManyRequests:
			var limited *httperror.RateLimited
			errors.As(err, &limited)
			w.Header().Set("Retry-After", strconv.Itoa(httperror.RetryAfterSeconds(limited.RetryAfter)))
		}
		out := s.reply(req, action, req.Addressing.FaultEPR())
		s.writeFault(w, out, action, f, status)
		out.release()
		return
	}
	if s.logger.Enabled(ctx, slog.LevelDebug) {
		s.logger.DebugContext(ctx, "soap operation", slog.String("operation", rt.op.Name),
			principalAttr(ctx), slog.String("subscription_id", loggedSubscriptionID(req)))
	}
	out := s.reply(req, rt.op.ResponseAction, req.Addressing.ReplyEPR())
	for _, h := range resp.Headers {
		out.Header.AddChild(h)
	}
	for _, b := range resp.Body {
		out.Body.AddChild(b)
	}
	w.Header().Set("Content-Type", env.Version.ContentType(rt.op.ResponseAction))
	w.WriteHeader(http.StatusOK)
	out.writeTo(w)
	out.release()
}

// readBody is io.ReadAll(body) in one buffer of the request's length when
// it declares one: ReadAll starts at 512 bytes and grows, which is half of
// a small request's garbage (a Cloud42 subscribe is about 1.1 KiB).
func readBody(body io.Reader, length, max int64) ([]byte, error) {
	if length <= 0 || length > max {
		return io.ReadAll(body)
	}
	// One byte more, so that the read that finds the end needs no room.
	buf := getBuffer(int(length) + 1)
	for {
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if len(buf) == cap(buf) {
			// Longer than it said: the rest as ReadAll reads it.
			rest, err := io.ReadAll(body)
			return append(buf, rest...), err
		}
	}
}

// buffers recycles the request bodies and answers of up to 64 KiB (most
// are about a kilobyte each, a tenth of a subscribe's garbage).
var buffers sync.Pool

const maxPooled = 64 << 10

// getBuffer returns an empty buffer of at least n bytes' capacity.
func getBuffer(n int) []byte {
	if n <= maxPooled {
		if p, ok := buffers.Get().(*[]byte); ok {
			if cap(*p) >= n {
				return (*p)[:0]
			}
			buffers.Put(p)
		}
		n = max(n, 2048)
	}
	return make([]byte, 0, n)
}

// putBuffer gives b back to getBuffer; nothing may use it after.
func putBuffer(b []byte) {
	if cap(b) <= maxPooled {
		b = b[:0]
		buffers.Put(&b)
	}
}

// reply starts the response envelope: same SOAP and WS-Addressing versions
// as the request; addressed to "to" (the request's ReplyTo, or FaultTo for
// a fault; nil when anonymous) with its reference parameters; RelatesTo the
// request's MessageID. It is an answer (newAnswer): released once written.
func (s *Server) reply(req *Request, action string, to *addressing.EndpointReference) *Envelope {
	v := req.Addressing.Version
	out := newAnswer(req.Envelope.Version, v)
	if v == addressing.VersionNone {
		return out
	}
	h := out.Header
	h.CreateElement("wsa:Action").SetText(action)
	// No MessageID: a reply expects no reply, and the specification's
	// example responses carry none.
	if req.Addressing.MessageID != "" {
		h.CreateElement("wsa:RelatesTo").SetText(req.Addressing.MessageID)
	}
	if to != nil {
		to.AddressHeaders(h, v, "wsa")
	} else if v == addressing.V200408 {
		h.CreateElement("wsa:To").SetText(v.Anonymous())
	}
	return out
}

// route finds the operation of a request.
func (s *Server) route(req *Request, mediaAction, soapAction string) (*route, error) {
	if req.Addressing.Version != addressing.VersionNone {
		if req.Addressing.Action == "" {
			return nil, &addressing.HeaderError{Version: req.Addressing.Version, Header: "Action", Missing: true}
		}
		if rt := s.byAction[req.Addressing.Action]; rt != nil {
			return rt, nil
		}
		return nil, s.actionNotSupported(req.Addressing.Version, req.Addressing.Action)
	}
	for _, a := range []string{mediaAction, strings.Trim(strings.TrimSpace(soapAction), `"`)} {
		if rt := s.byAction[a]; a != "" && rt != nil {
			return rt, nil
		}
	}
	if req.Payload == nil {
		return nil, eventing.InvalidMessage("the Body is empty and the request names no action")
	}
	name := xml.Name{Space: req.Payload.NamespaceURI(), Local: req.Payload.Tag}
	if rt := s.byBody[name]; rt != nil {
		return rt, nil
	}
	return nil, &Fault{Code: Sender, Subcode: xml.Name{Space: addressing.NS10, Local: "ActionNotSupported"},
		Reason: fmt.Sprintf("no operation takes the body element {%s}%s", name.Space, name.Local)}
}

func (s *Server) actionNotSupported(v addressing.Version, action string) *Fault {
	d := etree.NewElement("wsa:Action")
	d.CreateAttr("xmlns:wsa", v.Namespace())
	d.SetText(action)
	if v == addressing.V10 {
		pa := etree.NewElement("wsa:ProblemAction")
		pa.CreateAttr("xmlns:wsa", v.Namespace())
		pa.AddChild(d)
		d.RemoveAttr("xmlns:wsa")
		d = pa
	}
	return &Fault{Code: Sender, Subcode: xml.Name{Space: v.Namespace(), Local: "ActionNotSupported"},
		Reason: fmt.Sprintf("the action %q is not supported by this endpoint", action), Detail: []*etree.Element{d}}
}

// understood reports whether Herald processes the header block el.
func understood(el *etree.Element) bool {
	return addressing.IsHeader(el) || addressing.Is(el, eventing.NS, "Identifier") ||
		addressing.Is(el, eventing.HeraldNS, "SubscriptionId") || addressing.Is(el, WSSE, "Security")
}

// checkMustUnderstand faults on a header block targeted at Herald, marked
// mustUnderstand, that Herald does not process.
func (s *Server) checkMustUnderstand(env *Envelope, hdr addressing.Headers) error {
	if env.Header == nil {
		return nil
	}
	ns := env.Version.Namespace()
	var not []xml.Name
	for _, c := range env.Header.ChildElements() {
		mu := ""
		roleTargetsUs := true
		for _, a := range c.Attr {
			if a.NamespaceURI() != ns {
				continue
			}
			switch a.Key {
			case "mustUnderstand":
				mu = strings.TrimSpace(a.Value)
			case "role", "actor":
				role := strings.TrimSpace(a.Value)
				roleTargetsUs = role == "" || role == ns+"role/ultimateReceiver" || role == ns+"role/next" || role == "http://schemas.xmlsoap.org/soap/actor/next"
			}
		}
		if (mu == "1" || mu == "true") && roleTargetsUs && !understood(c) {
			not = append(not, xml.Name{Space: c.NamespaceURI(), Local: c.Tag})
		}
	}
	if len(not) == 0 {
		return nil
	}
	names := make([]string, len(not))
	for i, n := range not {
		names[i] = "{" + n.Space + "}" + n.Local
	}
	return &Fault{Code: MustUnderstand, NotUnderstood: not,
		Reason: "Herald does not understand the mandatory header block(s) " + strings.Join(names, ", ")}
}

// requestVersion returns the WS-Eventing version of a request: that of
// its operation once routed, else that of its Body or its action.
func requestVersion(req *Request, rt *route) eventing.Version {
	if rt != nil {
		return eventing.VersionOf(rt.op.Input.Space)
	}
	if req.Payload != nil {
		if v := eventing.VersionOf(req.Payload.NamespaceURI()); v != eventing.VersionNone {
			return v
		}
	}
	if strings.HasPrefix(req.Addressing.Action, eventing.NS2011+"/") {
		return eventing.V2011
	}
	return eventing.VersionNone
}

// fault turns any error into a fault: a domain error into the fault of
// WS-Eventing version v (faultFor), a *Fault as it is, envelope and
// addressing errors into their SOAP and WS-Addressing faults, anything
// else into a Receiver fault that is logged once here.
func (s *Server) fault(err error, v eventing.Version) *Fault {
	if f, ok := faultFor(err, v); ok {
		return f
	}
	var f *Fault
	if errors.As(err, &f) {
		return f
	}
	var pe *ParseError
	if errors.As(err, &pe) {
		if pe.VersionMismatch {
			return &Fault{Code: VersionMismatch, Reason: pe.Reason}
		}
		return &Fault{Code: Sender, Reason: pe.Reason}
	}
	var he *addressing.HeaderError
	if errors.As(err, &he) {
		v := he.Version
		if v == addressing.VersionNone {
			v = addressing.V10
		}
		f := &Fault{Code: Sender, Subcode: xml.Name{Space: v.Namespace(), Local: he.Subcode()}, Reason: he.Error()}
		if v == addressing.V10 {
			d := etree.NewElement("wsa:ProblemHeaderQName")
			d.CreateAttr("xmlns:wsa", v.Namespace())
			d.SetText("wsa:" + he.Header)
			f.Detail = []*etree.Element{d}
		}
		return f
	}
	s.logger.Error("request failed", slog.Any("err", err))
	return &Fault{Code: Receiver, Reason: "Herald could not process the request: " + err.Error()}
}

// writeFault writes f into env (which holds the reply headers, if any) and
// sends it with the fault's HTTP status, or status when not zero.
func (s *Server) writeFault(w http.ResponseWriter, env *Envelope, action string, f *Fault, status int) {
	st := writeFault(env, f)
	if status == 0 {
		status = st
	}
	w.Header().Set("Content-Type", env.Version.ContentType(action))
	w.WriteHeader(status)
	env.writeTo(w)
}

type media struct {
	typ    string
	action string
}

// parseMedia reads a Content-Type with its parameters in any order. It is
// lenient: SOAP clients send unquoted action URIs, which RFC 2045 would
// reject (':' and '/' are tspecials).
func parseMedia(ct string) media {
	parts := strings.Split(ct, ";")
	m := media{typ: strings.ToLower(strings.TrimSpace(parts[0]))}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "action") {
			continue
		}
		v = strings.TrimSpace(v)
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		}
		m.action = strings.TrimSpace(v)
	}
	return m
}
