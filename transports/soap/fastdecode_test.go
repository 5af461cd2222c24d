package soap

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/wsdl"
)

// slowDecode is decode through encoding/xml.
func slowDecode(t *testing.T, data []byte) (any, error, bool) {
	t.Helper()
	doc, err := readTree(data)
	if err != nil || doc.Root() == nil {
		return nil, nil, false
	}
	v, err := decodeTokens(doc.Root(), wsdl.Operation{Name: "subscribe", Request: reflect.TypeFor[wsdl.Subscribe]()})
	return v, err, true
}

// sameAsTokens checks that decodeSubscribe, when it takes a payload,
// gives what encoding/xml reads from its tokens.
func sameAsTokens(t *testing.T, data []byte) {
	t.Helper()
	want, werr, ok := slowDecode(t, data)
	if !ok {
		return
	}
	doc, _ := readTree(data)
	got, took := decodeSubscribe(doc.Root())
	if !took {
		return
	}
	if werr != nil {
		t.Fatalf("%.120q: decoded, where encoding/xml says %v", data, werr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%.120q:\n got %#v\nwant %#v", data, got, want)
	}
}

func subscribeInputs(t testing.TB) [][]byte {
	seed, err := os.ReadFile("../../testdata/subscribe-request-soap.xml")
	if err != nil {
		t.Fatal(err)
	}
	body := string(seed)
	body = body[strings.Index(body, "<web:subscribe>"):]
	body = body[:strings.Index(body, "</web:subscribe>")+len("</web:subscribe>")]
	wrap := func(inner string) []byte {
		return []byte(`<web:subscribe xmlns:web="http://webservice.cloud42.jw.de">` + inner + `</web:subscribe>`)
	}
	out := [][]byte{[]byte(strings.Replace(body, "<web:subscribe>", `<web:subscribe xmlns:web="http://webservice.cloud42.jw.de">`, 1))}
	for _, s := range []string{
		``,
		`<web:topic>a<!-- c -->b<x>skipped</x>c</web:topic><web:topic>last</web:topic>`,
		`<topic>unqualified</topic><subscriptionProcessor> soap </subscriptionProcessor>`,
		`<web:subscriptionMessage> <a x="1" p:y="2" xmlns:p="urn:p" xmlns="urn:d"><b/></a> t <c/></web:subscriptionMessage><web:subscriptionMessage><d/></web:subscriptionMessage>`,
		`<web:subscriptionMessage><a xml:lang="en"/></web:subscriptionMessage>`,
		`<web:subscriptionMessage><a xmlns:p="xmlns" p:q="urn:q"><b/></a></web:subscriptionMessage>`,
		`<web:subscriptionMessage><a xmlns:p="" p:xmlns="urn:q"><b/></a></web:subscriptionMessage>`,
		`<other:topic xmlns:other="urn:o">no</other:topic><web:subscriptionMessage/>`,
		`<web:topic><![CDATA[cdata]]></web:topic>`,
	} {
		out = append(out, wrap(s))
	}
	out = append(out, []byte(`<subscribe xmlns="http://webservice.cloud42.jw.de"><topic>t</topic></subscribe>`))
	return out
}

func TestDecodeSubscribe_AsTokens(t *testing.T) {
	for i, in := range subscribeInputs(t) {
		t.Run(fmt.Sprint(i), func(t *testing.T) { sameAsTokens(t, in) })
	}
	doc, _ := readTree(subscribeInputs(t)[0])
	if _, ok := decodeSubscribe(doc.Root()); !ok {
		t.Fatal("the seed subscribe was left to encoding/xml")
	}
}

func FuzzDecodeSubscribe(f *testing.F) {
	for _, in := range subscribeInputs(f) {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, data []byte) { sameAsTokens(t, data) })
}

// subscribeResponse builds the tree encode builds through xml.Marshal.
func TestSubscribeResponse_AsMarshalled(t *testing.T) {
	op := wsdl.Operation{Name: "subscribe", Response: reflect.TypeFor[wsdl.SubscribeResponse]()}
	for _, id := range []string{"uuid:01a234be-f722-7ad2-a074-9bdb1a3809fd", "", "a<b&c\"'>", "  x  ", "\x01", "\r\n", "é"} {
		r := &wsdl.SubscribeResponse{Return_: id}
		want, err := encodeMarshalled(r, "ns")
		if err != nil {
			t.Fatal(err)
		}
		got, err := encode(r, op, "ns")
		if err != nil {
			t.Fatal(err)
		}
		var g, w strings.Builder
		describe(&g, []etree.Token{got}, 0)
		describe(&w, []etree.Token{want}, 0)
		if g.String() != w.String() {
			t.Errorf("%q: tree\n%s\nthrough xml.Marshal\n%s", id, g.String(), w.String())
		}
	}
}
