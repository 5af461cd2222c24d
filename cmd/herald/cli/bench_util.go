package cli

import (
	"runtime"

	"github.com/beevik/etree"
)

func runtimeCPUs() int { return runtime.NumCPU() }

func parseElement(s string) (*etree.Element, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromString(s); err != nil {
		return nil, err
	}
	return doc.Root(), nil
}
