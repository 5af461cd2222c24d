package soap_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/herald-eventing/herald/transports/soap"
)

func TestParse_SeedAndSpecMessagesVerbatim(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/*.xml")
	vectors, _ := filepath.Glob("../../testdata/vectors/*.xml")
	files = append(files, vectors...)
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "Envelope") {
			continue // the event message
		}
		n++
		env, err := soap.Parse(b, 0)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if env.Version != soap.V12 || env.Body == nil {
			t.Errorf("%s: version %v body %v", filepath.Base(f), env.Version, env.Body)
		}
	}
	if n < 15 {
		t.Fatalf("only %d envelopes in testdata", n)
	}
}

func TestParse_Forms(t *testing.T) {
	for name, s := range map[string]string{
		"default namespace":    `<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Body><x xmlns=""/></Body></Envelope>`,
		"any prefix, comments": `<?xml version="1.0"?><!-- c --><e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><!-- c --><e:Body> <x/> </e:Body></e:Envelope>`,
		"empty header":         `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/><s:Body/></s:Envelope>`,
	} {
		if _, err := soap.Parse([]byte(s), 0); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParse_Rejects(t *testing.T) {
	for name, tt := range map[string]struct{ in, says string }{
		"empty":             {"", "empty"},
		"text":              {"hello", "not well-formed"},
		"doctype":           {`<!DOCTYPE e><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope>`, "DOCTYPE"},
		"deep":              {`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>` + strings.Repeat("<a>", 70) + strings.Repeat("</a>", 70) + `</s:Body></s:Envelope>`, "deeper"},
		"header after body": {`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/><s:Header/></s:Envelope>`, "unexpected element"},
		"two bodies":        {`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/><s:Body/></s:Envelope>`, "unexpected element"},
		"unbalanced":        {`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>`, "not well-formed"},
	} {
		_, err := soap.Parse([]byte(tt.in), 0)
		if err == nil || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: err = %v; want one saying %q", name, err, tt.says)
		}
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../testdata/vectors/*.xml")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := soap.Parse(b, 0)
		if err != nil {
			return
		}
		if env.Body == nil || (env.Version != soap.V12 && env.Version != soap.V11) {
			t.Fatalf("accepted without a Body or version: %q", b)
		}
		_ = env.Payload()
		if _, err := soap.Parse(env.Bytes(), 0); err != nil {
			t.Fatalf("re-serialized envelope does not parse: %v", err)
		}
	})
}
