package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/herald-eventing/herald/eventing"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The WSDL carries the running server's addresses, and every schema it
// imports, directly or through another schema, resolves on this server.
func TestWSDL_ServedWithRealAddressesAndResolvableSchemas(t *testing.T) {
	h := start(t, "", eventing.Options{})
	status, wsdl := get(t, h.URL+"/eventing?wsdl")
	if status != 200 {
		t.Fatalf("?wsdl: %d", status)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromString(wsdl); err != nil {
		t.Fatal(err)
	}
	addrs := 0
	for _, a := range doc.FindElements("//address") {
		loc := a.SelectAttrValue("location", "")
		if loc != h.URL+"/eventing" && loc != h.URL+"/subscriptions" {
			t.Errorf("port address %q is not this server's", loc)
		}
		addrs++
	}
	if addrs == 0 {
		t.Fatal("no port addresses")
	}
	seen := map[string]bool{}
	queue := []string{}
	collect := func(text string) {
		d := etree.NewDocument()
		if err := d.ReadFromString(text); err != nil {
			t.Fatal(err)
		}
		for _, el := range append(d.FindElements("//import"), d.FindElements("//include")...) {
			if loc := el.SelectAttrValue("schemaLocation", ""); loc != "" && !seen[loc] {
				seen[loc] = true
				queue = append(queue, loc)
			}
		}
	}
	collect(wsdl)
	for len(queue) > 0 {
		loc := queue[0]
		queue = queue[1:]
		if !strings.HasPrefix(loc, h.URL+"/xsd/") {
			t.Errorf("schemaLocation %q is not under this server's /xsd/", loc)
			continue
		}
		status, body := get(t, loc)
		if status != 200 || !strings.Contains(body, "schema") {
			t.Errorf("%s: %d", loc, status)
			continue
		}
		collect(body)
	}
	if len(seen) < 4 {
		t.Fatalf("only %d schemas reached: %v", len(seen), seen)
	}
	if status, _ := get(t, h.URL+"/xsd/nope.xsd"); status != 404 {
		t.Fatalf("unknown schema: %d", status)
	}
}
