package soap

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/herald-eventing/herald/addressing"
	"github.com/herald-eventing/herald/xsd/xmllimit"
)

// responseLimits bound the answers a Client reads: per element as Herald
// bounds requests, but with no cap on elements or text, since an answer
// such as getDeadLetters lists every event asked for; the 16 MiB read cap
// bounds those.
var responseLimits = xmllimit.Limits{MaxElements: -1, MaxTextBytes: -1}

// A Client calls SOAP operations (Herald's command line uses it). It
// speaks SOAP 1.2 with WS-Addressing 2004/08 unless told otherwise.
type Client struct {
	HTTP       *http.Client
	Version    Version            // V12 by default
	Addressing addressing.Version // V200408 by default; VersionNone sends no WS-A headers
}

// A FaultError is a fault answered to a Client call.
type FaultError struct {
	Status  int
	Code    string // Sender, Receiver, … (SOAP 1.1: the faultcode)
	Subcode string // prefix:local as written
	Reason  string
}

func (e *FaultError) Error() string {
	if e.Subcode != "" {
		return fmt.Sprintf("%s (%s): %s", e.Code, e.Subcode, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Reason)
}

// Call sends payload to url with the given action and extra header blocks
// and returns the response envelope, or a *FaultError.
func (c *Client) Call(ctx context.Context, url, action string, payload *etree.Element, headers ...*etree.Element) (*Envelope, error) {
	v := c.Version
	if v == 0 {
		v = V12
	}
	wsa := c.Addressing
	if wsa == 0 {
		wsa = addressing.V200408
	}
	if wsa < 0 {
		wsa = addressing.VersionNone
	}
	env := New(v, wsa)
	if wsa != addressing.VersionNone {
		env.Header.CreateElement("wsa:Action").SetText(action)
		env.Header.CreateElement("wsa:MessageID").SetText("urn:uuid:" + uuid.NewString())
		env.Header.CreateElement("wsa:To").SetText(url)
		env.Header.CreateElement("wsa:ReplyTo").CreateElement("wsa:Address").SetText(wsa.Anonymous())
	}
	for _, h := range headers {
		env.Header.AddChild(h)
	}
	if payload != nil {
		env.Body.AddChild(payload)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(env.Bytes()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", v.ContentType(action))
	if v == V11 {
		req.Header.Set("SOAPAction", `"`+action+`"`)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	out, err := ParseLimits(data, responseLimits)
	if err != nil {
		return nil, fmt.Errorf("HTTP %d from %s: %v", resp.StatusCode, url, err)
	}
	if f := ReadFault(out); f != nil {
		f.Status = resp.StatusCode
		return nil, f
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("HTTP %d from %s", resp.StatusCode, url)
	}
	return out, nil
}

// ReadFault returns the fault in env's Body, or nil.
func ReadFault(env *Envelope) *FaultError {
	ns := env.Version.Namespace()
	f := addressing.Child(env.Body, ns, "Fault")
	if f == nil {
		return nil
	}
	if env.Version == V11 {
		return &FaultError{Code: addressing.Text(addressing.Child(f, "", "faultcode")), Reason: addressing.Text(addressing.Child(f, "", "faultstring"))}
	}
	fe := &FaultError{}
	if code := addressing.Child(f, ns, "Code"); code != nil {
		fe.Code = addressing.Text(addressing.Child(code, ns, "Value"))
		if sub := addressing.Child(code, ns, "Subcode"); sub != nil {
			fe.Subcode = addressing.Text(addressing.Child(sub, ns, "Value"))
		}
	}
	if r := addressing.Child(f, ns, "Reason"); r != nil {
		fe.Reason = addressing.Text(addressing.Child(r, ns, "Text"))
	}
	return fe
}
