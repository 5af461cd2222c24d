package httpapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/httpapi"
	"github.com/herald-eventing/herald/transports/messages"
)

func TestMessageEndpoint_BadMessages(t *testing.T) {
	h := start(t, "", eventing.Options{})
	const m = `xmlns="http://cloud42.jw.de/message"`
	tests := []struct {
		name   string
		method string
		path   string
		ctype  string
		body   string
		status int
		says   string
	}{
		{"missing topic", "", "", "", `<message ` + m + `><text>x</text></message>`, 400, "topic"},
		{"empty topic", "", "", "", `<message ` + m + `><topic> </topic></message>`, 400, "topic"},
		{"unknown element", "", "", "", `<message ` + m + `><topic>t</topic><colour>red</colour></message>`, 400, "colour"},
		{"wrong root", "", "", "", `<event ` + m + `><topic>t</topic></event>`, 400, "event"},
		{"root in another namespace", "", "", "", `<message xmlns="urn:x"><topic>t</topic></message>`, 400, "urn:x"},
		{"not XML", "", "", "", `topic=t`, 400, "XML"},
		{"truncated XML", "", "", "", `<message ` + m + `><topic>t</topic>`, 400, "XML"},
		{"DOCTYPE", "", "", "", `<!DOCTYPE message [<!ENTITY x "y">]><message ` + m + `><topic>&x;</topic></message>`, 400, "DOCTYPE"},
		{"empty body", "", "", "", ``, 400, "empty"},
		{"JSON content type", "", "", "application/json", `{"topic":"t"}`, 415, "text/xml"},
		{"no content type", "", "", "-", `<message ` + m + `><topic>t</topic></message>`, 415, "text/xml"},
		{"other charset", "", "", "text/xml; charset=iso-8859-1", `<message ` + m + `><topic>t</topic></message>`, 415, "UTF-8"},
		{"33 namespace declarations", "", "", "", `<message ` + m + manyAttrs(32, "xmlns:p") + `><topic>t</topic></message>`, 400, "element message has more than 32 namespace declarations"},
		{"33 attributes", "", "", "", `<message ` + m + `><topic` + manyAttrs(33, "a") + `>t</topic></message>`, 400, "element topic has more than 32 attributes"},
		{"too many elements", "", "", "", `<message ` + m + `><topic>t</topic><text>` + strings.Repeat("<b/>", 10000) + `</text></message>`, 400, "more than 10000 elements"},
		{"too large", "", "", "", `<message ` + m + `><topic>t</topic><text>` + strings.Repeat("a", messages.DefaultMaxBody) + `</text></message>`, 413, "larger than"},
		{"GET", http.MethodGet, "", "", "", 405, "POST"},
		{"other path", "", "/elsewhere", "", `<message ` + m + `><topic>t</topic></message>`, 404, "/messages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, path, ctype := tt.method, tt.path, tt.ctype
			if method == "" {
				method = http.MethodPost
			}
			if path == "" {
				path = "/messages"
			}
			switch ctype {
			case "":
				ctype = "text/xml"
			case "-":
				ctype = ""
			}
			req, _ := http.NewRequest(method, h.URL+path, strings.NewReader(tt.body))
			if ctype != "" {
				req.Header.Set("Content-Type", ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			msg := strings.TrimSpace(string(b))
			if resp.StatusCode != tt.status {
				t.Fatalf("HTTP %d (%s); want %d", resp.StatusCode, msg, tt.status)
			}
			if strings.Contains(msg, "\n") || !strings.Contains(msg, tt.says) {
				t.Fatalf("message %q is not one line saying %q", msg, tt.says)
			}
		})
	}
	// Nothing bad was stored.
	if h.db.Head() != 0 {
		t.Fatalf("%d events stored from bad input", h.db.Head())
	}
}

func TestMessageEndpoint_BothForms(t *testing.T) {
	h := start(t, "", eventing.Options{})
	for _, body := range []string{
		seed(t, "event-message.xml"),
		`<m:message xmlns:m="http://cloud42.jw.de/message"><topic>myTopic</topic><text>unqualified</text></m:message>`,
	} {
		for _, ct := range []string{"text/xml", "application/xml; charset=utf-8", `TEXT/XML; Charset="UTF-8"`} {
			if r := h.post(t, "/messages", ct, body); r.status != 202 {
				t.Fatalf("HTTP %d %s for\n%s", r.status, r.body, body)
			}
		}
	}
	evs, _, _ := h.db.ReadEvents(t.Context(), 0, 10, "myTopic")
	if len(evs) != 6 || evs[3].Text != "unqualified" {
		t.Fatalf("stored %d events", len(evs))
	}
}

// TestMessageEndpoint_XMLLimits checks the XML limits at their values and
// past them, the text limit with the body cap raised above it.
func TestMessageEndpoint_XMLLimits(t *testing.T) {
	h := start(t, "", eventing.Options{})
	const m = `xmlns="http://cloud42.jw.de/message"`
	if r := h.post(t, "/messages", "text/xml", `<message `+m+manyAttrs(31, "xmlns:p")+`><topic>t</topic></message>`); r.status != http.StatusAccepted {
		t.Fatalf("32 namespace declarations: HTTP %d %s", r.status, r.body)
	}
	handler, err := httpapi.New(httpapi.Options{Service: h.svc, MaxMessageBody: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	big := httptest.NewServer(handler)
	defer big.Close()
	for _, tt := range []struct {
		text   int
		status int
		says   string
	}{
		{256<<10 - 1, http.StatusAccepted, "accepted"}, // and one byte of topic
		{256 << 10, http.StatusBadRequest, "more than 262144 bytes of text"},
	} {
		body := `<message ` + m + `><topic>t</topic><text>` + strings.Repeat("x", tt.text) + `</text></message>`
		resp, err := http.Post(big.URL+"/messages", "text/xml", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.says) {
			t.Errorf("%d bytes of text: HTTP %d %q; want %d saying %q", tt.text, resp.StatusCode, b, tt.status, tt.says)
		}
	}
	if n := h.db.Head(); n != 2 {
		t.Fatalf("%d events stored; want the 2 within the limits", n)
	}
}
