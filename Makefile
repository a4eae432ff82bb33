# podvisor — the two commands of the README:
#   sudo make run    builds podvisor and runs the example pod
#   sudo make test   runs every test, root integration tests included
GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
PREFIX  ?= /usr/local
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# A static binary: no libc at run time, user lookups read /etc/passwd.
export CGO_ENABLED ?= 0
GOFLAGS_BUILD = -trimpath -ldflags "-s -w -X main.version=$(VERSION)"
SOURCES = $(shell find . -name '*.go' -not -path './bin/*') go.mod go.sum

.PHONY: all build run test test-unit bench lint fmt clean

all: build

build: bin/podvisor

bin/podvisor: $(SOURCES)
	$(GO) build $(GOFLAGS_BUILD) -o $@ ./cmd/podvisor

run: build
	bin/podvisor up examples/hello.yaml

# Every test. The integration tests need root (namespaces, cgroups). The
# engine and the 50-pod concurrency test run again under the race detector
# (which needs cgo and a C compiler).
test: build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 9m ./...
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 5m ./supervisor/...
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 5m -run 'TestConcurrentPods' ./cmd/podvisor/

# The tests that need no root: pure logic and fake cgroupfs.
test-unit:
	$(GO) test -count=1 ./pod/ ./cgroups/ -run 'Fake|OwnPaths|V1Dir|Prune|Open|Test[^I]'

# Timing and footprint figures (docs/benchmarks.md); needs root. The idle
# CPU measure lasts PODVISOR_BENCH_IDLE (default 60s).
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 200x -timeout 20m ./supervisor/
	$(GO) test -run '^$$' -bench 'CLIRun|PsJSON100' -benchtime 30x -timeout 20m ./cmd/podvisor/
	$(GO) test -run '^$$' -bench 'DaemonFootprint' -benchtime 1x -timeout 20m ./cmd/podvisor/

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fmt:
	gofmt -w $$(find . -name '*.go' -not -path './bin/*')

clean:
	rm -rf bin
