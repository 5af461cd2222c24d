package webhook_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// This file is an independent checker of the CloudEvents 1.0 JSON event
// format (cloudevents/formats/json-format.md and the core specification's
// type system and naming rules), written from the specifications rather
// than from the processor's code, so that the tests do not grade the
// processor against itself. It covers what the official JSON schema
// (cloudevents/formats/cloudevents.json) checks — required specversion, id,
// source, type; id, type, subject non-empty strings; source a
// uri-reference; time a date-time; dataschema a uri — and the format's
// rules the schema does not express.

// RFC 3986 URI-reference, from the ABNF of its Appendix A.
var uriReference = func() *regexp.Regexp {
	const (
		pct         = `%[0-9A-Fa-f]{2}`
		unreserved  = `A-Za-z0-9\-._~`
		subDelims   = `!$&'()*+,;=`
		pchar       = `(?:[` + unreserved + subDelims + `:@]|` + pct + `)`
		segment     = pchar + `*`
		segmentNz   = pchar + `+`
		segmentNc   = `(?:[` + unreserved + subDelims + `@]|` + pct + `)+`
		query       = `(?:` + pchar + `|[/?])*`
		scheme      = `[A-Za-z][A-Za-z0-9+\-.]*`
		userinfo    = `(?:[` + unreserved + subDelims + `:]|` + pct + `)*`
		ipLiteral   = `\[(?:[0-9A-Fa-f:.]+|v[0-9A-Fa-f]+\.[` + unreserved + subDelims + `:]+)\]`
		regName     = `(?:[` + unreserved + subDelims + `]|` + pct + `)*`
		authority   = `(?:` + userinfo + `@)?(?:` + ipLiteral + `|` + regName + `)(?::[0-9]*)?`
		pathAbempty = `(?:/` + segment + `)*`
		pathAbs     = `/(?:` + segmentNz + `(?:/` + segment + `)*)?`
		hierPart    = `(?://` + authority + pathAbempty + `|` + pathAbs + `|` + segmentNz + `(?:/` + segment + `)*|)`
		relPart     = `(?://` + authority + pathAbempty + `|` + pathAbs + `|` + segmentNc + `(?:/` + segment + `)*|)`
		uri         = scheme + `:` + hierPart + `(?:\?` + query + `)?(?:#` + query + `)?`
		relRef      = relPart + `(?:\?` + query + `)?(?:#` + query + `)?`
	)
	return regexp.MustCompile(`^(?:` + uri + `|` + relRef + `)$`)
}()

// RFC 3339 date-time (section 5.6), checked for ranges by time.Parse.
var rfc3339 = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$`)

// RFC 2045 token, for media types.
var mediaToken = regexp.MustCompile("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$")

var hasScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+\-.]*:`)

var attributeName = regexp.MustCompile(`^[a-z0-9]{1,20}$`)

// The context attributes the core specification defines, and their types.
var coreAttributes = map[string]string{
	"specversion": "String", "id": "String", "source": "URI-reference", "type": "String",
	"datacontenttype": "String", "dataschema": "URI", "subject": "String", "time": "Timestamp",
}

// checkCloudEvent returns every way body breaks the CloudEvents 1.0 JSON
// event format (nil when it is a valid event). On top of the format, it
// refuses null values, which Herald never sends for an attribute it has.
func checkCloudEvent(body []byte) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if !utf8.Valid(body) {
		bad("the body is not UTF-8")
	}
	names, err := topLevelNames(body)
	if err != nil {
		return append(problems, "not a JSON object: "+err.Error())
	}
	if dup := duplicates(names); len(dup) > 0 {
		bad("duplicate members %v", dup)
	}
	var ev map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&ev); err != nil {
		return append(problems, "not JSON: "+err.Error())
	}

	for _, req := range []string{"specversion", "id", "source", "type"} {
		if _, ok := ev[req]; !ok {
			bad("the required attribute %q is missing", req)
		}
	}
	for name, v := range ev {
		if name == "data" || name == "data_base64" {
			continue
		}
		if !attributeName.MatchString(name) {
			bad("attribute name %q: names are 1 to 20 lowercase ASCII letters or digits", name)
		}
		if v == nil {
			bad("attribute %q is null", name)
			continue
		}
		typ, core := coreAttributes[name]
		if !core {
			// Extensions: String, Boolean or Integer (JSON has no other
			// unambiguous mapping for an attribute value).
			switch x := v.(type) {
			case string:
				typ = "String"
			case bool:
				continue
			case json.Number:
				if _, err := x.Int64(); err != nil || strings.ContainsAny(x.String(), ".eE") {
					bad("extension %q = %v: a number attribute must be an Integer", name, x)
				} else if n, _ := x.Int64(); n < -1<<31 || n > 1<<31-1 {
					bad("extension %q = %v: an Integer is 32 bits", name, x)
				}
				continue
			default:
				bad("extension %q has a %T value: attributes are strings, booleans or integers", name, v)
				continue
			}
		}
		s, ok := v.(string)
		if !ok {
			bad("attribute %q must be a JSON string, got %T", name, v)
			continue
		}
		if i := strings.IndexFunc(s, disallowed); i >= 0 {
			bad("attribute %q holds a character a CloudEvents String may not (%q at byte %d)", name, s[i:], i)
		}
		switch typ {
		case "String":
			if s == "" && (name == "id" || name == "type" || name == "subject" || name == "specversion") {
				bad("attribute %q is empty", name)
			}
		case "URI-reference":
			if s == "" {
				bad("attribute %q is empty", name)
			} else if !uriReference.MatchString(s) {
				bad("attribute %q = %q is not an RFC 3986 URI-reference", name, s)
			}
		case "URI":
			if !uriReference.MatchString(s) || !hasScheme.MatchString(s) {
				bad("attribute %q = %q is not an absolute URI", name, s)
			}
		case "Timestamp":
			if !rfc3339.MatchString(s) {
				bad("attribute %q = %q is not an RFC 3339 date-time", name, s)
			} else if _, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s)); err != nil {
				bad("attribute %q = %q: %v", name, s, err)
			}
		}
	}
	if v, ok := ev["specversion"].(string); ok && v != "1.0" {
		bad("specversion = %q; want \"1.0\"", v)
	}

	jsonData := true // an absent datacontenttype means application/json
	if ct, ok := ev["datacontenttype"].(string); ok {
		mt, _, err := mime.ParseMediaType(ct)
		typ, sub, _ := strings.Cut(mt, "/")
		if err != nil || !mediaToken.MatchString(typ) || !mediaToken.MatchString(sub) {
			bad("datacontenttype %q is not an RFC 2046 media type", ct)
		}
		jsonData = sub == "json" || strings.HasSuffix(sub, "+json")
	}
	data, hasData := ev["data"]
	b64, hasB64 := ev["data_base64"]
	switch {
	case hasData && hasB64:
		bad("data and data_base64 are mutually exclusive")
	case hasB64:
		if s, ok := b64.(string); !ok {
			bad("data_base64 must be a string")
		} else if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			bad("data_base64 is not base64: %v", err)
		}
	case hasData && !jsonData:
		if _, ok := data.(string); !ok {
			bad("data of a non-JSON datacontenttype must be a string, got %T", data)
		}
	case hasData && data == nil:
		bad("data is null")
	}
	return problems
}

// disallowed reports the code points the core specification's String type
// excludes: controls and noncharacters (invalid UTF-8, which the JSON
// decoder turns into U+FFFD, is caught on the whole body).
func disallowed(r rune) bool {
	return r <= 0x1F || (r >= 0x7F && r <= 0x9F) || (r >= 0xFDD0 && r <= 0xFDEF) || r&0xFFFE == 0xFFFE
}

// topLevelNames returns the member names of the JSON object in body, in
// order, duplicates included.
func topLevelNames(body []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("the document is a %v, not an object", tok)
	}
	var names []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		names = append(names, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the object")
	}
	return names, nil
}

func duplicates(names []string) []string {
	seen := map[string]int{}
	var dup []string
	for _, n := range names {
		if seen[n]++; seen[n] == 2 {
			dup = append(dup, n)
		}
	}
	slices.Sort(dup)
	return dup
}

// The checker must be able to fail: each of these breaks one rule.
func TestCheckCloudEvent_RefusesInvalidEvents(t *testing.T) {
	const ok = `"specversion":"1.0","id":"1","source":"i-1","type":"t"`
	if p := checkCloudEvent([]byte(`{` + ok + `,"datacontenttype":"application/json","data":{"a":1}}`)); p != nil {
		t.Fatalf("a valid event refused: %v", p)
	}
	for _, body := range []string{
		`[]`,
		`{"id":"1","source":"i-1","type":"t"}`,
		`{"specversion":"0.3","id":"1","source":"i-1","type":"t"}`,
		`{"specversion":"1.0","id":"","source":"i-1","type":"t"}`,
		`{"specversion":"1.0","id":1,"source":"i-1","type":"t"}`,
		`{"specversion":"1.0","id":"1","source":"","type":"t"}`,
		`{"specversion":"1.0","id":"1","source":"a b","type":"t"}`,
		`{"specversion":"1.0","id":"1","source":"1:x","type":"t"}`,
		`{"specversion":"1.0","id":"1","source":"//a@b@c","type":"t"}`,
		`{"specversion":"1.0","id":"1","source":"50%","type":"t"}`,
		`{"specversion":"1.0","id":"1","source":"i-1","type":""}`,
		`{"specversion":"1.0","id":"1","source":"i-1","type":"a\nb"}`,
		`{` + ok + `,"time":"2008-09-30 11:19:10 GMT"}`,
		`{` + ok + `,"time":"2026-13-01T00:00:00Z"}`,
		`{` + ok + `,"datacontenttype":"json"}`,
		`{` + ok + `,"Herald":"x"}`,
		`{` + ok + `,"heraldsubscriptionidentifier":"x"}`,
		`{` + ok + `,"x":null}`,
		`{` + ok + `,"x":1.5}`,
		`{` + ok + `,"x":{"a":1}}`,
		`{` + ok + `,"id":"2"}`,
		`{` + ok + `,"datacontenttype":"text/plain","data":{"a":1}}`,
		`{` + ok + `,"data":"x","data_base64":"eA=="}`,
		`{` + ok + `,"data_base64":"!!"}`,
		`{` + ok + `,"dataschema":"/relative"}`,
	} {
		if p := checkCloudEvent([]byte(body)); p == nil {
			t.Errorf("accepted: %s", body)
		}
	}
}
