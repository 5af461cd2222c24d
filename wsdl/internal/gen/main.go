// Command gen generates, from Herald's WSDLs, the files "make generate"
// keeps up to date (go:generate in ../../generate.go):
//
//   - types.gen.go (package wsdl): Go types for the messages of the WSDL
//     given with -wsdl (herald.wsdl) and the schemas it imports, made by
//     gowsdl v0.5.0 (the tool dependency in go.mod, run as "go tool
//     gowsdl") and post-processed so that they compile and marshal
//     correctly;
//   - operations.gen.go (package wsdl): the operation table of that WSDL and
//     of those given with -table (eventing-2011.wsdl), as Go literals, with
//     the generated type of each Body element where there is one;
//   - wsdlclient/client.gen.go (package wsdlclient): gowsdl's SOAP clients
//     of the port types, kept apart so that only their users link gowsdl's
//     soap package.
//
// Usage (from the wsdl directory, as go:generate does):
//
//	go run ./internal/gen -wsdl herald.wsdl -table eventing-2011.wsdl \
//	    -o types.gen.go -ops operations.gen.go -client wsdlclient/client.gen.go
//
// gowsdl is run once per port type of the WSDL, on a temporary WSDL that
// holds only that port type, its messages, its SOAP 1.1 binding and imports
// of the schemas its messages use, plus once for the schemas that no port
// type uses. The outputs are then fixed and merged; see ../../generate.go
// for the list of gowsdl bugs this works around. The operation table comes
// from package wsdlops, which package wsdl's tests use to check it. The
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
	wsdlPath := flag.String("wsdl", "herald.wsdl", "WSDL to generate types, clients and operations from")
	var tables []string
	flag.Func("table", "a further WSDL whose operations go into the operation table (no types; repeatable)", func(s string) error {
		tables = append(tables, s)
		return nil
	})
	out := flag.String("o", "types.gen.go", "output Go file of the types")
	ops := flag.String("ops", "operations.gen.go", "output Go file of the operation table (package -p)")
	client := flag.String("client", "wsdlclient/client.gen.go", "output Go file of the SOAP clients")
	pkg := flag.String("p", "wsdl", "package name of the types and the operation table")
	clientPkg := flag.String("client-p", "wsdlclient", "package name of the SOAP clients")
	typesImport := flag.String("types-import", "github.com/herald-eventing/herald/wsdl", "import path of the package of the types, for the clients")
	keep := flag.Bool("keep", false, "keep the temporary directory (for debugging) and print its path")
	flag.Parse()

	o := outputs{types: *out, ops: *ops, client: *client, pkg: *pkg, clientPkg: *clientPkg, typesImport: *typesImport}
	if err := run(*wsdlPath, tables, o, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// outputs names the files gen writes and their packages.
type outputs struct {
	types, ops, client          string // file paths
	pkg, clientPkg, typesImport string
}

func run(wsdlPath string, tables []string, o outputs, keep bool) error {
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

	var results []*runOutput
	for i, r := range runs {
		name := fmt.Sprintf("run%d", i)
		in := filepath.Join(tmp, name+".wsdl")
		if err := r.doc.WriteToFile(in); err != nil {
			return fmt.Errorf("write %s: %w", in, err)
		}
		src, err := gowsdl(tmp, o.pkg, name, in)
		if err != nil {
			return fmt.Errorf("gowsdl for %s: %w", r.describe(), err)
		}
		idx, err := indexSchemas(r.schemaFiles)
		if err != nil {
			return fmt.Errorf("index schemas for %s: %w", r.describe(), err)
		}
		results = append(results, &runOutput{run: r, src: src, index: idx})
	}

	types, clientDecls, err := merge(o.pkg, def, results)
	if err != nil {
		return err
	}
	client, err := clientFile(o.clientPkg, o.typesImport, o.pkg, def, types, clientDecls)
	if err != nil {
		return err
	}
	table, err := opsFile(o.pkg, append([]string{wsdlPath}, tables...), types)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		path string
		data []byte
	}{{o.types, types}, {o.client, client}, {o.ops, table}} {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			return fmt.Errorf("create directory of %s: %w", f.path, err)
		}
		if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
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
