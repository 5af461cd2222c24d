package eventing

import (
	"runtime"
	"testing"

	"github.com/beevik/etree"
)

// The stored form of a Subscribe is written without a buffer of its own
// (a Document's WriteTo allocates 4 KiB each time; every subscribe
// stores one), and as a Document wrote it.
func TestElementString_NoBufferPerSubscribe(t *testing.T) {
	doc := etree.NewDocument()
	if err := doc.ReadFromString(`<wse:Subscribe xmlns:wse="` + NS + `"><wse:Delivery><wse:NotifyTo>` +
		`<wsa:Address xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">http://127.0.0.1:9/s/1</wsa:Address>` +
		`</wse:NotifyTo></wse:Delivery></wse:Subscribe>`); err != nil {
		t.Fatal(err)
	}
	el := doc.Root()
	want, _ := etree.NewDocumentWithRoot(el.Copy()).WriteToString()
	if got, err := elementString(el); err != nil || got != want {
		t.Fatalf("elementString = %q, %v; want %q", got, err, want)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const runs = 100
	for range runs {
		elementString(el)
	}
	runtime.ReadMemStats(&after)
	if n := (after.TotalAlloc - before.TotalAlloc) / runs; n > 1500 {
		t.Fatalf("elementString allocates %d bytes; want at most 1500", n)
	}
}
