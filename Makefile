# podvisor — the two commands of the README:
#   sudo make run    builds podvisor and runs the example pod
#   sudo make test   runs every test, root integration tests included
GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
PREFIX  ?= /usr/local
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# A static binary: no libc at run time, user lookups read /etc/passwd.
export CGO_ENABLED ?= 0
# urfave_cli_no_docs leaves out the man page and Markdown writers (and
# their Markdown library, whose package init alone cost up to 2.6 ms of
# every start).
GOFLAGS_BUILD = -trimpath -tags urfave_cli_no_docs -ldflags "-s -w -X main.version=$(VERSION)"
SOURCES = $(shell find . -name '*.go' -not -path './bin/*') go.mod go.sum

UNITDIR ?= /etc/systemd/system

# Pods get a /tmp of their own (privateTmp, on by default), so the files
# tests share with their pods, and the test binaries pods run, live here.
TEST_TMPDIR ?= /var/tmp/podvisor-tests
test test-unit bench soak: export TMPDIR = $(TEST_TMPDIR)
test test-unit bench soak: export GOTMPDIR = $(TEST_TMPDIR)

.PHONY: all build run test test-unit test-systemd bench soak lint fmt clean install uninstall

all: build

build: bin/podvisor bin/podvisor-node

bin/podvisor: $(SOURCES)
	$(GO) build $(GOFLAGS_BUILD) -o $@ ./cmd/podvisor

# The Kubernetes node agent (podvisor node runs it): a program of its own,
# so that the Kubernetes client libraries do not weigh on podvisor's start.
bin/podvisor-node: $(SOURCES)
	$(GO) build $(GOFLAGS_BUILD) -o $@ ./cmd/podvisor-node

run: bin/podvisor
	bin/podvisor up examples/hello.yaml

# Every test. The integration tests need root (namespaces, cgroups). The
# engine and the 50-pod concurrency test run again under the race detector
# (which needs cgo and a C compiler).
test: build
	@install -d -m 1777 $(TEST_TMPDIR)
	@test/deps.sh
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 9m ./...
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime 20s -fuzzminimizetime 3s -timeout 3m ./pod/
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 5m ./supervisor/...
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 5m -run 'TestConcurrentPods' ./cmd/podvisor/

# The tests that need no root: pure logic (the lifecycle table), the engine
# on a fake runtime under a fake clock (testing/synctest), fake cgroupfs,
# the network checks on loopback, the API client.
test-unit:
	@install -d -m 1777 $(TEST_TMPDIR)
	$(GO) test -count=1 ./pod/ ./cgroups/ -run 'Fake|OwnPaths|V1Dir|Prune|Open|Test[^I]'
	$(GO) test -count=1 -run 'TestEngine' ./supervisor/
	$(GO) test -count=1 ./probe/ ./supervisor/api/ ./supervisor/api/manifest/ ./pod/kube/ ./security/ ./mounts/

# Timing and footprint figures (docs/benchmarks.md); needs root. The idle
# CPU measure lasts PODVISOR_BENCH_IDLE (default 60s).
bench: build
	@install -d -m 1777 $(TEST_TMPDIR)
	$(GO) test -run '^$$' -bench 'PodUpDown$$|PodUpDownVolumes|CrashToRunning|StopGracePrecision|MemoryPerProcess' -benchtime 200x -timeout 20m ./supervisor/
	$(GO) test -run '^$$' -bench 'LogLatencyBesideYes' -benchtime 1x -timeout 5m ./supervisor/
	$(GO) test -run '^$$' -bench 'PodUpDownBridge' -benchtime 100x -timeout 10m ./supervisor/
	$(GO) test -run '^$$' -bench 'Scrape100Pods' -benchtime 50x -timeout 10m ./supervisor/
	$(GO) test -run '^$$' -bench 'UpAgainstFloors' -benchtime 1x -timeout 10m ./cmd/podvisor/
	$(GO) test -run '^$$' -bench 'Bridge100Pods|TCPThroughput' -benchtime 3x -timeout 10m ./supervisor/
	$(GO) test -run '^$$' -bench . -benchtime 200x -timeout 10m ./network/ ./firewall/ ./dns/
	$(GO) test -run '^$$' -bench 'CLIRun|PsJSON100' -benchtime 30x -timeout 20m ./cmd/podvisor/
	$(GO) test -run '^$$' -bench 'DaemonFootprint|DaemonProbes' -benchtime 1x -timeout 20m ./cmd/podvisor/
	$(GO) test -run '^$$' -bench . -benchtime 20x -timeout 10m ./pod/kube/ ./mounts/ ./security/

# The soak: 20 pods x 5 processes crash-looping (about 100 restarts a second)
# for PODVISOR_SOAK (default 30m), sampling the supervisor's resident set
# and open fds; fails on any lost exit. Needs root; not run by CI (make test
# runs the same test for 20 s).
PODVISOR_SOAK ?= 30m
soak: build
	@install -d -m 1777 $(TEST_TMPDIR)
	PODVISOR_CHURN=$(PODVISOR_SOAK) $(GO) test -count=1 -v -run '^TestNoLostExits$$' -timeout 0 ./supervisor/

# The binary and the systemd units; the podvisor group (socket access) is
# created when installing onto this system (no DESTDIR).
install: build
	install -D -m 0755 bin/podvisor $(DESTDIR)$(PREFIX)/bin/podvisor
	install -D -m 0755 bin/podvisor-node $(DESTDIR)$(PREFIX)/bin/podvisor-node
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|/usr/local/bin/podvisor|$(PREFIX)/bin/podvisor|' cmd/podvisor/systemd/podvisor.service > $(DESTDIR)$(UNITDIR)/podvisor.service
	install -m 0644 cmd/podvisor/systemd/podvisor.socket $(DESTDIR)$(UNITDIR)/podvisor.socket
	sed 's|/usr/local/bin/podvisor|$(PREFIX)/bin/podvisor|' cmd/podvisor/systemd/podvisor-node.service > $(DESTDIR)$(UNITDIR)/podvisor-node.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/podvisor.service $(DESTDIR)$(UNITDIR)/podvisor-node.service
	@if [ -z "$(DESTDIR)" ]; then \
		getent group podvisor >/dev/null || groupadd --system podvisor; \
		if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	fi

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/podvisor $(DESTDIR)$(PREFIX)/bin/podvisor-node $(DESTDIR)$(UNITDIR)/podvisor.service $(DESTDIR)$(UNITDIR)/podvisor-node.service $(DESTDIR)$(UNITDIR)/podvisor.socket
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

# podvisor under a real systemd: boots one in a container (systemd-nspawn)
# and drives the installed units through it. Needs root; installs
# debootstrap and systemd-container, caches the root filesystem.
test-systemd: build
	test/systemd/run.sh

# The root tests on a pure cgroup v2 kernel (cgroup_no_v1=all): Debian's
# kernel booted in a qemu VM under software emulation (no kvm needed), with
# the tests as the guest's work. Needs root; installs qemu-system-x86 and
# debootstrap, caches the root filesystem. See test/v2/README.md.
.PHONY: test-v2
test-v2: build
	test/v2/run.sh

# The Kubernetes end-to-end test: a real control plane (etcd, kube-apiserver,
# kube-scheduler, kube-controller-manager) built from source, about 17
# minutes the first time, cached in /var/cache/podvisor-kube (or
# PODVISOR_KUBE_CACHE), then the tests in test/kube. See test/kube/README.md.
.PHONY: test-kube
test-kube: build
	@install -d -m 1777 $(TEST_TMPDIR)
	TMPDIR=$(TEST_TMPDIR) GOTMPDIR=$(TEST_TMPDIR) GO=$(GO) test/kube/run.sh

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fmt:
	gofmt -w $$(find . -name '*.go' -not -path './bin/*')

clean:
	rm -rf bin
