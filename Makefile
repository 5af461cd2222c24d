# Herald: `make run` starts the service, `make test` runs every test.
GO ?= go
ADDR ?= 127.0.0.1:8080
DATA ?= ./data

.PHONY: run test build generate lint bench fuzz clean

## run: start Herald on $(ADDR) with its bbolt file under $(DATA)
run:
	$(GO) run ./cmd/herald serve --addr $(ADDR) --data $(DATA)

## test: vet, then every test with the race detector, then the cluster
## tests (separate herald and nats-server processes) without it
test:
	$(GO) vet ./...
	$(GO) test -race -timeout 15m ./...
	$(GO) test -count=1 -timeout 10m -run '^TestCluster_' ./cmd/herald

## build: the herald binary in ./bin (stamped with the commit when built
## from a git clone: herald version shows it)
build:
	$(GO) build -buildvcs=auto -o bin/herald ./cmd/herald

## generate: regenerate the Go types from the WSDL/XSDs (committed; a test fails when stale)
generate:
	$(GO) generate ./...

## lint: go vet, staticcheck and gofmt
lint:
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## bench: the benchmarks beside the code, then the harness that measures
## Herald against a bare net/http handler in the same run, then Herald on a
## 3-node in-process JetStream cluster beside bbolt (BENCHFLAGS=--quick for
## a short run)
BENCHFLAGS ?=
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./cmd/herald bench $(BENCHFLAGS)
	$(GO) run ./cmd/herald bench --store nats $(BENCHFLAGS)

## fuzz: run every fuzzer (every func Fuzz… in a _test.go file) for a while
## (FUZZTIME=30s, or a count such as 20000x); CI runs each for a count of
## inputs, which go1.26 cannot fail spuriously at the deadline
## (golang/go#75804). Corpora live in each package's testdata/fuzz.
FUZZTIME ?= 30s
fuzz:
	@set -e; for f in $$(git ls-files '*_test.go' | xargs grep -l '^func Fuzz'); do \
	  pkg=./$$(dirname $$f); \
	  for n in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | cut -c6-); do \
	    echo "fuzz: $$pkg $$n ($(FUZZTIME))"; \
	    $(GO) test $$pkg -run '^$$' -fuzz "^$$n\$$" -fuzztime $(FUZZTIME); \
	  done; \
	done

clean:
	rm -rf bin
