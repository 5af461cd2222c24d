package xsd

import (
	"bytes"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	qualifiedOpen   = `<message xmlns="http://cloud42.jw.de/message">`
	unqualifiedOpen = `<m:message xmlns:m="http://cloud42.jw.de/message">`
)

func q(children string) string { return qualifiedOpen + children + `</message>` }
func u(children string) string { return unqualifiedOpen + children + `</m:message>` }

func TestParseMessageSeed(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "event-message.xml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseMessage(data)
	if err != nil {
		t.Fatalf("seed message rejected: %v", err)
	}
	want := Message{
		Topic:      "myTopic",
		InstanceID: "i-38e24051",
		Timestamp:  "2008-09-30 11:19:10 GMT",
		Text:       "message text",
		Info:       "additional message info",
	}
	if m != want {
		t.Errorf("ParseMessage(seed) = %+v, want %+v", m, want)
	}
}

func TestParseMessageAccepts(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Message
	}{
		{"qualified, topic only", q(`<topic>t</topic>`), Message{Topic: "t"}},
		{"unqualified (published schema)", u(`<topic>t</topic><instanceId>i</instanceId><timestamp>ts</timestamp><text>x</text><info>y</info>`),
			Message{Topic: "t", InstanceID: "i", Timestamp: "ts", Text: "x", Info: "y"}},
		{"qualified with prefix", `<p:message xmlns:p="http://cloud42.jw.de/message"><p:topic>t</p:topic><p:info>i</p:info></p:message>`,
			Message{Topic: "t", Info: "i"}},
		{"topic trimmed, other values as sent", q("<topic>\n  my topic \n</topic><instanceId> i </instanceId><text>\n line\n</text>"),
			Message{Topic: "my topic", InstanceID: " i ", Text: "\n line\n"}},
		{"references, CDATA and comments in values", q(`<topic>a&amp;b</topic><text>x<![CDATA[<y>]]><!-- c -->z&#65;</text>`),
			Message{Topic: "a&b", Text: "x<y>zA"}},
		{"empty optional elements", q(`<topic>t</topic><instanceId/><timestamp></timestamp>`), Message{Topic: "t"}},
		{"XML declaration, comments, PIs, white space", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- hi -->\n" +
			q("\n <?pi x?>\n <topic>t</topic>\n <!-- c -->\n") + "\n", Message{Topic: "t"}},
		{"byte order mark", "\xEF\xBB\xBF" + q(`<topic>t</topic>`), Message{Topic: "t"}},
		{"xsi attribute the validator allows", `<m:message xmlns:m="http://cloud42.jw.de/message" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://cloud42.jw.de/message message.xsd"><topic>t</topic></m:message>`,
			Message{Topic: "t"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMessage([]byte(tt.in))
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if m != tt.want {
				t.Errorf("got %+v, want %+v", m, tt.want)
			}
		})
	}
}

func TestParseMessageRejects(t *testing.T) {
	const ns = "http://cloud42.jw.de/message"
	tests := []struct {
		name, in, want string
	}{
		{"empty body", "", "empty body"},
		{"blank body", " \n\t", "empty body"},
		{"missing topic", q(`<instanceId>i</instanceId>`), "missing required element topic in message"},
		{"no children", q(``), "missing required element topic in message"},
		{"missing topic, unqualified", u(`<text>x</text>`), "missing required element topic in message"},
		{"topic not first", q(`<instanceId>i</instanceId><topic>t</topic>`), "element topic must be the first child of message (found instanceId first)"},
		{"blank topic", q(`<topic> </topic>`), "element topic in message is empty"},
		{"empty topic", u(`<topic/>`), "element topic in message is empty"},
		{"unknown element in other namespace", q(`<topic>t</topic><foo xmlns="urn:x"/>`),
			"unexpected element {urn:x}foo in message (expected one of instanceId, timestamp, text, info)"},
		{"unknown element in message namespace", q(`<topic>t</topic><foo/>`),
			"unexpected element foo in message (expected one of instanceId, timestamp, text, info)"},
		{"unknown element, unqualified", u(`<topic>t</topic><info>i</info><bar/>`),
			"unexpected element bar in message (expected no element after info)"},
		{"unknown first element", q(`<subject>t</subject>`), "unexpected element subject in message (expected topic)"},
		{"known name in a foreign namespace", q(`<topic>t</topic><x:text xmlns:x="urn:x">a</x:text>`),
			"unexpected element {urn:x}text in message (expected one of instanceId, timestamp, text, info)"},
		{"duplicate element", q(`<topic>t</topic><text>a</text><text>b</text>`), "duplicate element text in message (it may appear once)"},
		{"out of order", u(`<topic>t</topic><info>i</info><text>x</text>`), "element text is out of order in message: it must come before info"},
		{"wrong root", `<bar xmlns="urn:x"><topic>t</topic></bar>`, "root element is {urn:x}bar, want {" + ns + "}message"},
		{"wrong root namespace", `<message xmlns="urn:wrong"><topic>t</topic></message>`, "root element is {urn:wrong}message, want {" + ns + "}message"},
		{"root without namespace", `<message><topic>t</topic></message>`, "root element is message, want {" + ns + "}message"},
		{"not XML", "hello world", "not well-formed XML: line 1: text before the root element"},
		{"JSON", `{"topic":"t"}`, "not well-formed XML: line 1: text before the root element"},
		{"unclosed element", qualifiedOpen + "<topic>t</topic>", "not well-formed XML: line 1: unexpected EOF"},
		{"mismatched tags", q("<topic>t</text>"), "not well-formed XML: line 1: element <topic> closed by </text>"},
		{"undefined entity", q("\n<topic>&nbsp;</topic>"), "not well-formed XML: line 2: invalid character entity &nbsp;"},
		{"unbound prefix", `<m:message><topic>t</topic></m:message>`, "not well-formed XML: line 1: unbound namespace prefix m"},
		{"second root", q(`<topic>t</topic>`) + `<x/>`, "not well-formed XML: line 1: second root element x"},
		{"text after root", q(`<topic>t</topic>`) + `tail`, "not well-formed XML: line 1: text after the root element"},
		{"DOCTYPE", `<!DOCTYPE message [<!ENTITY e "x">]>` + q(`<topic>&e;</topic>`), "DOCTYPE is not allowed"},
		{"DOCTYPE after declaration", "<?xml version=\"1.0\"?>\n<!DOCTYPE message SYSTEM \"file:///etc/passwd\">" + q(`<topic>t</topic>`), "DOCTYPE is not allowed"},
		{"non-UTF-8 encoding", `<?xml version="1.0" encoding="ISO-8859-1"?>` + q(`<topic>t</topic>`), `unsupported encoding "ISO-8859-1": messages must be UTF-8`},
		{"mixed forms, qualified first", q(`<topic>t</topic><instanceId xmlns="">i</instanceId>`),
			"mixed element forms in message: the first child topic is in namespace " + ns + " but instanceId has no namespace (use one form for all children)"},
		{"mixed forms, unqualified first", u(`<topic>t</topic><m:text>x</m:text>`),
			"mixed element forms in message: the first child topic has no namespace but text is in namespace " + ns + " (use one form for all children)"},
		{"text inside message", q(`hello<topic>t</topic>`), `text is not allowed directly inside message (found "hello")`},
		{"text between children", u(`<topic>t</topic> stray <info>i</info>`), `text is not allowed directly inside message (found "stray")`},
		{"long text inside message", q(`<topic>t</topic>` + strings.Repeat("x", 100)), `text is not allowed directly inside message (found "` + strings.Repeat("x", 40) + `...")`},
		{"attribute on message", `<message xmlns="http://cloud42.jw.de/message" priority="high"><topic>t</topic></message>`, "attribute priority is not allowed on message"},
		{"xml:lang on message", `<message xmlns="http://cloud42.jw.de/message" xml:lang="en"><topic>t</topic></message>`, "attribute xml:lang is not allowed on message"},
		{"namespaced attribute on message", `<message xmlns="http://cloud42.jw.de/message" xmlns:x="urn:x" x:a="1"><topic>t</topic></message>`, "attribute {urn:x}a is not allowed on message"},
		{"attribute on child", q(`<topic>t</topic><text lang="en">x</text>`), "attribute lang is not allowed on element text in message"},
		{"element inside a value", u(`<topic>t<b>old</b></topic>`), "element topic in message must contain only text, found child element b"},
		{"element inside a value, qualified", q(`<topic>t</topic><info><detail>d</detail></info>`), "element info in message must contain only text, found child element detail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMessage([]byte(tt.in))
			if err == nil {
				t.Fatalf("accepted as %+v, want error %q", m, tt.want)
			}
			var me *MessageError
			if !errors.As(err, &me) {
				t.Fatalf("error %v (%T) is not a *MessageError", err, err)
			}
			if me.Msg != tt.want {
				t.Errorf("error\n got %q\nwant %q", me.Msg, tt.want)
			}
			if err.Error() != me.Msg {
				t.Errorf("Error() = %q, want Msg %q", err.Error(), me.Msg)
			}
		})
	}
}

// TestParseMessageSchemaDecides checks that the literal reading of the
// published schema and the seed's example disagree, and that Herald's own
// message.xsd is the one the seed's form is validated against.
func TestParseMessageSchemaDecides(t *testing.T) {
	eng, err := compiled()
	if err != nil {
		t.Fatal(err)
	}
	seed, err := os.ReadFile(filepath.Join("..", "testdata", "event-message.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.qualified.Validate(seed); err != nil {
		t.Errorf("seed message invalid against message.xsd: %v", err)
	}
	if err := eng.unqualified.Validate(seed); err == nil {
		t.Error("seed message valid against message-published.xsd; the documented discrepancy is gone")
	}
	unq := []byte(u(`<topic>t</topic>`))
	if err := eng.unqualified.Validate(unq); err != nil {
		t.Errorf("unqualified message invalid against message-published.xsd: %v", err)
	}
	if err := eng.qualified.Validate(unq); err == nil {
		t.Error("unqualified message valid against message.xsd")
	}
}

func FuzzParseMessage(f *testing.F) {
	if seed, err := os.ReadFile(filepath.Join("..", "testdata", "event-message.xml")); err == nil {
		f.Add(seed)
	}
	for _, s := range []string{
		"",
		q(`<topic>t</topic>`),
		u(`<topic> t </topic><instanceId>i</instanceId><timestamp>s</timestamp><text>x</text><info>y</info>`),
		q(`<instanceId>i</instanceId>`),
		q(`<topic>t</topic><foo xmlns="urn:x"/>`),
		u(`<topic>t</topic><m:text>x</m:text>`),
		q(`hello<topic>t</topic>`),
		`<!DOCTYPE m []>` + q(`<topic>t</topic>`),
		`<message xmlns="urn:wrong"><topic>t</topic></message>`,
		q(`<topic>a&amp;<![CDATA[<b>]]></topic>`),
		"\xEF\xBB\xBF" + q("<topic>\r\n</topic>"),
		"not xml",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMessage(data)
		if err != nil {
			var me *MessageError
			if !errors.As(err, &me) {
				t.Fatalf("error %v (%T) is not a *MessageError", err, err)
			}
			if me.Msg == "" || strings.ContainsAny(me.Msg, "\r\n") {
				t.Fatalf("error message %q is not one non-empty line", me.Msg)
			}
			return
		}
		if m.Topic == "" || m.Topic != strings.TrimSpace(m.Topic) {
			t.Fatalf("accepted message with topic %q", m.Topic)
		}
		// What was accepted survives a round trip through the qualified form.
		again, err := ParseMessage(encode(m))
		if err != nil {
			t.Fatalf("re-encoded %+v rejected: %v", m, err)
		}
		if again != m {
			t.Fatalf("round trip: got %+v, want %+v", again, m)
		}
	})
}

// encode writes m in the qualified form, every field present.
func encode(m Message) []byte {
	var b bytes.Buffer
	b.WriteString(qualifiedOpen)
	for _, f := range []struct{ name, value string }{
		{"topic", m.Topic}, {"instanceId", m.InstanceID}, {"timestamp", m.Timestamp}, {"text", m.Text}, {"info", m.Info},
	} {
		b.WriteString("<" + f.name + ">")
		_ = xml.EscapeText(&b, []byte(f.value))
		b.WriteString("</" + f.name + ">")
	}
	b.WriteString("</message>")
	return b.Bytes()
}

func BenchmarkParseMessage(b *testing.B) {
	seed, err := os.ReadFile(filepath.Join("..", "testdata", "event-message.xml"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ParseMessage(seed); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(seed)))
	for b.Loop() {
		if _, err := ParseMessage(seed); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseMessageValidated parses the seed message with a comment in
// it: outside the canonical shape, so the validator reads it.
func BenchmarkParseMessageValidated(b *testing.B) {
	seed, err := os.ReadFile(filepath.Join("..", "testdata", "event-message.xml"))
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Replace(seed, []byte("<topic>"), []byte("<!-- from cron --><topic>"), 1)
	if _, ok := canonical(data); ok {
		b.Fatal("the benchmark message takes the canonical path")
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseMessage(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseMessageInvalid parses an invalid message (an unknown child):
// the full path, which explains what is wrong.
func BenchmarkParseMessageInvalid(b *testing.B) {
	data := []byte(q(`<topic>t</topic><instanceId>i-1</instanceId><colour>red</colour>`))
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseMessage(data); err == nil {
			b.Fatal("accepted")
		}
	}
}

// FuzzExtract checks the fast path against the full one: whatever the fast
// path accepts, the full path accepts with the same fields.
func FuzzExtract(f *testing.F) {
	for _, s := range []string{
		`<message xmlns="http://cloud42.jw.de/message"><topic>t</topic><text>a&amp;b&#x41;&#66;<![CDATA[<x>]]></text></message>`,
		"<?xml version=\"1.0\"?>\n<!-- c --><m:message xmlns:m=\"http://cloud42.jw.de/message\"><topic> t </topic><info>l1\r\nl2\rl3</info></m:message>",
		`<message xmlns="http://cloud42.jw.de/message"><topic>t</topic><instanceId/><timestamp><!--c-->x<?pi?>y</timestamp></message>`,
		`<m:message xmlns:m="http://cloud42.jw.de/message"><m:topic>t</m:topic></m:message>`,
		`<message xmlns="urn:other"><topic>t</topic></message>`,
	} {
		f.Add([]byte(s))
	}
	eng, err := compiled()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, ok := extract(data)
		if !ok || m.Topic == "" || !m.withinLimits(len(data)) {
			return
		}
		engine := eng.qualified
		if !m.qualified {
			engine = eng.unqualified
		}
		if engine.Validate(data) != nil {
			return
		}
		full, err := parseFull(data, eng)
		if err != nil {
			t.Fatalf("fast path accepts what the full path rejects (%v): %q", err, data)
		}
		if full != m.Message {
			t.Fatalf("fast path read %+v, full path %+v: %q", m.Message, full, data)
		}
	})
}

// TestCanonical checks which documents skip the validator: the seed and the
// shapes scripts send do; anything outside the narrow shape does not, valid
// or not, and goes to the validating path.
func TestCanonical(t *testing.T) {
	seed, err := os.ReadFile(filepath.Join("..", "testdata", "event-message.xml"))
	if err != nil {
		t.Fatal(err)
	}
	const ns = `"http://cloud42.jw.de/message"`
	for _, tt := range []struct {
		doc  string
		want bool
		m    Message
	}{
		{string(seed), true, Message{Topic: "myTopic", InstanceID: "i-38e24051", Timestamp: "2008-09-30 11:19:10 GMT", Text: "message text", Info: "additional message info"}},
		{`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<message xmlns=` + ns + `><topic>t</topic><text>a &amp; b &#x41;&#66; &lt;x&gt; 1>0` + "\r\n" + `é</text><info/></message>` + "\n", true,
			Message{Topic: "t", Text: "a & b AB <x> 1>0\né"}},
		{`<m:message xmlns:m=` + ns + `><topic> t </topic><instanceId>i</instanceId></m:message>`, true, Message{Topic: "t", InstanceID: "i"}},
		{` <?xml version="1.0"?><message xmlns=` + ns + `><topic>t</topic></message>`, false, Message{}}, // whitespace before the declaration
		{`<message xmlns=` + ns + `><text>x</text><topic>t</topic></message>`, false, Message{}},         // order
		{`<message xmlns=` + ns + `><topic>t</topic><topic>u</topic></message>`, false, Message{}},       // twice
		{`<message xmlns=` + ns + `><instanceId>i</instanceId></message>`, false, Message{}},             // no topic
		{`<message xmlns=` + ns + `><topic a="1">t</topic></message>`, false, Message{}},                 // attribute
		{`<message xmlns=` + ns + `><topic>t&#0;</topic></message>`, false, Message{}},                   // not an XML character
		{`<message xmlns=` + ns + `><topic>t` + "\x01" + `</topic></message>`, false, Message{}},         // control character
		{`<message xmlns=` + ns + `><topic>t]]></topic></message>`, false, Message{}},                    // "]]>" in text
		{`<message xmlns=` + ns + `><topic>t&nbsp;</topic></message>`, false, Message{}},                 // undeclared entity
		{`<message xmlns=` + ns + `><topic>t` + "\xff" + `</topic></message>`, false, Message{}},         // not UTF-8
		{`<message xmlns=` + ns + `>x<topic>t</topic></message>`, false, Message{}},                      // text in the root
		{`<message xmlns=` + ns + `><topic>t</topic></message><x/>`, false, Message{}},                   // after the root
		{`<xmlm:message xmlns:xmlm=` + ns + `><topic>t</topic></xmlm:message>`, false, Message{}},        // reserved prefix
		{`<message xmlns="urn:other"><topic>t</topic></message>`, false, Message{}},                      // namespace
		{`<message xmlns=` + ns + `><topic>t</topic><!-- c --></message>`, false, Message{}},             // comment: validating path
		{`<message xmlns=` + ns + `><topic><![CDATA[t]]></topic></message>`, false, Message{}},           // CDATA: validating path
	} {
		m, ok := canonical([]byte(tt.doc))
		if ok != tt.want || (ok && m != tt.m) {
			t.Errorf("canonical(%q) = %+v, %v; want %+v, %v", tt.doc, m, ok, tt.m, tt.want)
		}
	}
}

// FuzzCanonical checks the validator-free path against the validator:
// whatever canonical accepts, the full path accepts with the same fields.
func FuzzCanonical(f *testing.F) {
	if seed, err := os.ReadFile(filepath.Join("..", "testdata", "event-message.xml")); err == nil {
		f.Add(seed)
	}
	for _, s := range []string{
		`<?xml version="1.0" encoding="UTF-8"?><message xmlns="http://cloud42.jw.de/message"><topic>t</topic><text>a&amp;b&#x41;` + "\r\n" + `</text><info/></message>`,
		`<m:message xmlns:m="http://cloud42.jw.de/message"><topic> t </topic><instanceId>i</instanceId><timestamp/><text>x</text><info>y</info></m:message>`,
		`<message xmlns="http://cloud42.jw.de/message"><topic>t&#xFFFE;</topic></message>`,
	} {
		f.Add([]byte(s))
	}
	eng, err := compiled()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkCanonical(t, eng, data)
	})
}

// checkCanonical fails t when canonical accepts data that the validating
// path rejects or reads differently.
func checkCanonical(t *testing.T, eng *engines, data []byte) {
	m, ok := canonical(data)
	if !ok || m.Topic == "" {
		return
	}
	full, err := parseFull(data, eng)
	if err != nil {
		t.Fatalf("canonical accepts what the validator rejects (%v): %q", err, data)
	}
	if full != m {
		t.Fatalf("canonical read %+v, the full path %+v: %q", m, full, data)
	}
}

// FuzzCanonicalFields is FuzzCanonical with the fuzzer writing the raw
// character data of two children of a canonical document, where the
// byte-level mutations of FuzzCanonical seldom reach.
func FuzzCanonicalFields(f *testing.F) {
	for _, s := range [][2]string{{"t", "x"}, {" t ", "a&amp;b&#x41;\r\n]]"}, {"t&#0;", "\x01"}, {"t", "é\xff"}} {
		f.Add(s[0], s[1])
	}
	eng, err := compiled()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, topic, text string) {
		checkCanonical(t, eng, []byte(qualifiedOpen+"<topic>"+topic+"</topic><text>"+text+"</text></message>"))
	})
}
