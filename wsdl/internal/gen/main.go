// Command gen generates wsdl/types.gen.go from wsdl/herald.wsdl with gowsdl
// v0.5.0 (the tool dependency in go.mod, run as "go tool gowsdl") and
// post-processes its output so that it compiles and marshals correctly.
//
// Usage (from the wsdl directory, as go:generate does):
//
//	go run ./internal/gen -wsdl herald.wsdl -o types.gen.go
//
// gowsdl is run once per port type of the WSDL, on a temporary WSDL that
// holds only that port type, its messages, its SOAP 1.1 binding and imports
// of the schemas its messages use, plus once for the schemas that no port
// type uses. The outputs are then fixed and merged into one file; see
// ../../generate.go for the list of gowsdl bugs this works around. The
// result depends only on the input files, so it is reproducible.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	wsdlPath := flag.String("wsdl", "herald.wsdl", "WSDL to generate from")
	out := flag.String("o", "types.gen.go", "output Go file")
	pkg := flag.String("p", "wsdl", "package name of the output")
	keep := flag.Bool("keep", false, "keep the temporary directory (for debugging) and print its path")
	flag.Parse()

	if err := run(*wsdlPath, *out, *pkg, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(wsdlPath, out, pkg string, keep bool) error {
	tmp, err := os.MkdirTemp("", "herald-gowsdl-")
	if err != nil {
		return fmt.Errorf("create temporary directory: %w", err)
	}
	if keep {
		fmt.Fprintln(os.Stderr, "gen: temporary directory", tmp)
	} else {
		defer func() { _ = os.RemoveAll(tmp) }()
	}

	def, err := loadDefinitions(wsdlPath)
	if err != nil {
		return err
	}
	runs, err := def.split()
	if err != nil {
		return err
	}

	var outputs []*runOutput
	for i, r := range runs {
		name := fmt.Sprintf("run%d", i)
		in := filepath.Join(tmp, name+".wsdl")
		if err := r.doc.WriteToFile(in); err != nil {
			return fmt.Errorf("write %s: %w", in, err)
		}
		src, err := gowsdl(tmp, pkg, name, in)
		if err != nil {
			return fmt.Errorf("gowsdl for %s: %w", r.describe(), err)
		}
		idx, err := indexSchemas(r.schemaFiles)
		if err != nil {
			return fmt.Errorf("index schemas for %s: %w", r.describe(), err)
		}
		outputs = append(outputs, &runOutput{run: r, src: src, index: idx})
	}

	code, err := merge(pkg, def, outputs)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, code, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}

// gowsdl runs "go tool gowsdl" on the WSDL at in and returns the Go source it
// wrote. gowsdl logs errors of its type generator but still exits 0, so its
// log is checked too.
func gowsdl(dir, pkg, name, in string) ([]byte, error) {
	outFile := name + ".go"
	cmd := exec.Command("go", "tool", "gowsdl", "-d", dir, "-p", pkg, "-o", outFile, in)
	var log bytes.Buffer
	cmd.Stdout = &log
	cmd.Stderr = &log
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, log.String())
	}
	for line := range strings.SplitSeq(log.String(), "\n") {
		if strings.Contains(strings.ToLower(line), "error") {
			return nil, fmt.Errorf("gowsdl reported: %s", strings.TrimSpace(line))
		}
	}
	src, err := os.ReadFile(filepath.Join(dir, pkg, outFile))
	if err != nil {
		return nil, fmt.Errorf("read gowsdl output: %w", err)
	}
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, errors.New("gowsdl wrote an empty file")
	}
	return src, nil
}
