package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/herald-eventing/herald/eventing"
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
