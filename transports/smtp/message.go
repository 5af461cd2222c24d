package smtp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"html"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/herald-eventing/herald/eventing"
)

// subjectField is the most runes of the topic, and of the instance, that
// go into the Subject (the body has them whole).
const subjectField = 100

// Message returns the mail for n, in RFC 5322 form with CRLF line ends,
// ready for DATA: headers From, To, Date (when Herald received the
// event), Subject ("[Herald] <topic> on <instance>", RFC 2047-encoded if
// not ASCII), Message-ID (<uuid@herald> from the notification's stable
// MessageID, so a retry carries the same one), X-Herald-Message-Id (the
// MessageID itself), Auto-Submitted and MIME-Version, and a
// multipart/alternative body with a text/plain and a text/html part
// (UTF-8, quoted-printable), both holding the event's topic, instance,
// time, text and info.
func (e *Endpoint) Message(n *eventing.Notification) []byte {
	ev := n.Event
	received := ev.Received
	if received.IsZero() {
		received = time.Now()
	}
	boundary := boundaryFor(n.MessageID)
	var b bytes.Buffer
	b.Grow(2048 + 3*(len(ev.Topic)+len(ev.InstanceID)+len(ev.Timestamp)+len(ev.Text)+len(ev.Info)))
	header(&b, "From", e.p.from.String())
	header(&b, "To", e.toHeader)
	header(&b, "Date", received.UTC().Format(time.RFC1123Z))
	header(&b, "Subject", Subject(ev))
	header(&b, "Message-ID", messageID(n.MessageID))
	header(&b, "X-Herald-Message-Id", printable(n.MessageID))
	header(&b, "Auto-Submitted", "auto-generated")
	header(&b, "MIME-Version", "1.0")
	header(&b, "Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": boundary}))
	b.WriteString("\r\n")

	f := fieldsOf(n, received)
	mw := multipart.NewWriter(&b)
	_ = mw.SetBoundary(boundary) // valid by construction
	part(mw, "text/plain; charset=utf-8", f.plain())
	part(mw, "text/html; charset=utf-8", f.html())
	_ = mw.Close()
	return b.Bytes()
}

// Subject returns the Subject header's value for ev: "[Herald] <topic> on
// <instance>" ("[Herald] <topic>" without an instance), control
// characters turned into spaces, each field cut to 100 runes, and
// RFC 2047 Q-encoded (UTF-8) when not ASCII.
func Subject(ev *eventing.Event) string {
	s := "[Herald] " + clip(oneLine(ev.Topic), subjectField)
	if inst := clip(oneLine(ev.InstanceID), subjectField); inst != "" {
		s += " on " + inst
	}
	return mime.QEncoding.Encode("utf-8", s)
}

// header writes one header field, folded at spaces so that lines stay
// within 78 characters where the value allows.
func header(b *bytes.Buffer, name, value string) {
	b.WriteString(name)
	b.WriteString(":")
	line := len(name) + 1
	for i, w := range strings.Split(value, " ") {
		// Fold before a word that would pass column 78, even the first
		// (right after the colon) if that makes it fit.
		if line+1+len(w) > 78 && (i > 0 || 1+len(w) <= 78) {
			b.WriteString("\r\n")
			line = 0
		}
		b.WriteByte(' ')
		b.WriteString(w)
		line += 1 + len(w)
	}
	b.WriteString("\r\n")
}

func part(mw *multipart.Writer, ctype, body string) {
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", ctype)
	h.Set("Content-Transfer-Encoding", "quoted-printable")
	w, _ := mw.CreatePart(h) // writes into a bytes.Buffer: cannot fail
	qp := quotedprintable.NewWriter(w)
	_, _ = qp.Write([]byte(body))
	_ = qp.Close()
}

// boundaryFor returns the multipart boundary for a notification. It
// contains "=_", which quoted-printable text never does, so it cannot
// occur in the parts; and it is the same in every attempt.
func boundaryFor(messageID string) string {
	sum := sha256.Sum256([]byte(messageID))
	return "herald=_" + hex.EncodeToString(sum[:12])
}

// messageID turns the notification's urn:uuid:… into <uuid@herald>; any
// other form becomes a digest of it.
func messageID(id string) string {
	u, ok := strings.CutPrefix(id, "urn:uuid:")
	if !ok || u == "" || strings.Trim(strings.ToLower(u), "0123456789abcdef-") != "" {
		sum := sha256.Sum256([]byte(id))
		u = hex.EncodeToString(sum[:16])
	}
	return "<" + strings.ToLower(u) + "@herald>"
}

// printable keeps the printable ASCII of s (header values Herald copies).
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < '!' || r > '~' {
			return -1
		}
		return r
	}, s)
}

// oneLine replaces control characters (line breaks among them) by spaces
// and trims the result.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD")))
}

// clip cuts s to n runes, marking the cut with an ellipsis.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// fields are the values a mail shows, in display order.
type fields struct {
	subject string
	rows    [][2]string // label, value
	footer  [2]string   // when Herald received the event; the notification
}

func fieldsOf(n *eventing.Notification, received time.Time) *fields {
	ev := n.Event
	s := "[Herald] " + oneLine(ev.Topic)
	if inst := oneLine(ev.InstanceID); inst != "" {
		s += " on " + inst
	}
	return &fields{
		subject: s,
		rows: [][2]string{
			{"Topic", text(ev.Topic)},
			{"Instance", text(ev.InstanceID)},
			{"Time", text(ev.Timestamp)},
			{"Text", text(ev.Text)},
			{"Info", text(ev.Info)},
		},
		footer: [2]string{
			"Herald received this event (number " + strconv.FormatUint(ev.Seq, 10) + ") at " + received.UTC().Format(time.RFC3339) + ".",
			"Notification " + printable(n.MessageID),
		},
	}
}

// text makes a value safe for a text part: valid UTF-8, LF line ends.
func text(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

func (f *fields) plain() string {
	var b strings.Builder
	b.WriteString(f.subject + "\n\n")
	for _, r := range f.rows {
		label := r[0] + ":"
		b.WriteString(label + strings.Repeat(" ", 10-len(label)))
		if r[1] == "" {
			b.WriteString("-\n")
			continue
		}
		// Continuation lines are indented under the first.
		b.WriteString(strings.ReplaceAll(r[1], "\n", "\n"+strings.Repeat(" ", 10)) + "\n")
	}
	b.WriteString("\n-- \n" + f.footer[0] + "\n" + f.footer[1] + "\n")
	return b.String()
}

func (f *fields) html() string {
	var b strings.Builder
	esc := html.EscapeString
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n<title>" + esc(f.subject) + "</title>\n" +
		"<style>th{text-align:left;vertical-align:top;padding-right:1em}td{white-space:pre-wrap}" +
		"p{color:#666;font-size:smaller}</style>\n</head><body>\n")
	b.WriteString("<h1>" + esc(f.subject) + "</h1>\n<table>\n")
	for _, r := range f.rows {
		v := esc(r[1])
		if v == "" {
			v = "-"
		}
		b.WriteString("<tr><th>" + r[0] + "</th><td>" + v + "</td></tr>\n")
	}
	b.WriteString("</table>\n<p>" + esc(f.footer[0]) + "<br>\n" + esc(f.footer[1]) + "</p>\n</body></html>\n")
	return b.String()
}
