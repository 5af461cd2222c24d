package smtp_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/transports/httpapi/httpapitest"
	"github.com/herald-eventing/herald/transports/smtp/smtptest"
)

func post(t *testing.T, url, ctype, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMailArrives is the acceptance test of the email processor: a
// management subscribe over HTTP, the seed's event message POSTed to
// /messages, and a mail at the SMTP server with the event in both parts.
func TestMailArrives(t *testing.T) {
	relay := smtptest.Start(t, smtptest.Options{})
	settings := relay.Settings()

	srv := httpapitest.Start(t, "", eventing.Options{Setting: httpapitest.Settings(settings)})

	subscribe := `<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body>
<web:subscribe xmlns:web="http://webservice.cloud42.jw.de">
  <web:subscriptionProcessor>email</web:subscriptionProcessor>
  <web:topic>myTopic</web:topic>
  <web:subscriptionMessage>
    <h:Email xmlns:h="http://herald-eventing.github.io/ns/2026/herald">
      <h:Address>ops@example.org</h:Address>
      <h:Address>Jane Doe &lt;jane@example.org&gt;</h:Address>
    </h:Email>
  </web:subscriptionMessage>
</web:subscribe></soap:Body></soap:Envelope>`
	status, body := post(t, srv.URL+"/eventing", "application/soap+xml; charset=utf-8", subscribe)
	if status != http.StatusOK || !strings.Contains(body, "subscribeResponse") {
		t.Fatalf("subscribe: %d\n%s", status, body)
	}

	event, err := os.ReadFile(filepath.Join("..", "..", "testdata", "event-message.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if status, body := post(t, srv.URL+"/messages", "text/xml", string(event)); status != http.StatusAccepted {
		t.Fatalf("publish: %d\n%s", status, body)
	}

	m := relay.Receive(t)
	if m.From != "herald@example.org" || strings.Join(m.To, " ") != "ops@example.org jane@example.org" {
		t.Errorf("envelope from %q to %v", m.From, m.To)
	}
	p, err := smtptest.Parse(m.Data)
	if err != nil {
		t.Fatalf("%v\n%s", err, m.Data)
	}
	if got := p.Header.Get("Subject"); got != "[Herald] myTopic on i-38e24051" {
		t.Errorf("Subject: %q", got)
	}
	if id := p.Header.Get("X-Herald-Message-Id"); !strings.HasPrefix(id, "urn:uuid:") || p.Header.Get("Message-Id") != "<"+strings.TrimPrefix(id, "urn:uuid:")+"@herald>" {
		t.Errorf("X-Herald-Message-Id %q, Message-ID %q", id, p.Header.Get("Message-Id"))
	}
	for name, part := range map[string]string{"text/plain": p.Plain, "text/html": p.HTML} {
		for _, want := range []string{"myTopic", "i-38e24051", "2008-09-30 11:19:10 GMT", "message text", "additional message info"} {
			if !strings.Contains(part, want) {
				t.Errorf("the %s part lacks %q:\n%s", name, want, part)
			}
		}
	}
	if testing.Verbose() {
		t.Logf("the mail:\n%s", m.Data)
	}
}
