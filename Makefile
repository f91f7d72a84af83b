# kserver — see README.md. `make run` and `make test` are the two commands a
# new user needs; both install the system packages they use first.
SHELL   := /bin/bash
export PATH := $(PATH):/usr/local/go/bin

GO      ?= go
PKG     := kserver.dev/kserver
VERSION ?= $(shell git describe --tags --match 'v*' --dirty 2>/dev/null || echo v0.1.0-dev+$$(git rev-parse --short HEAD 2>/dev/null || echo unknown))
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
TAGS    := sqlite_omit_load_extension osusergo netgo
LDFLAGS := -s -w -X $(PKG)/internal/version.Version=$(VERSION) \
           -X $(PKG)/internal/version.GitCommit=$(COMMIT) \
           -X $(PKG)/internal/version.BuildDate=$(DATE)
# Extra arguments for `make run`, e.g. make run ARGS='--runtime sim'.
ARGS    ?=
# Extra arguments for `go test`, e.g. make test TESTFLAGS='-run Store -v'.
TESTFLAGS ?=
# Where `make images` writes the offline demo images: the folder kserver
# imports air-gap archives from at start (<data-dir>/agent/images).
IMAGES_DIR ?= /var/lib/kserver/agent/images

.PHONY: all build run images test unit bench lint release setup clean

all: build

build:
	@mkdir -p bin
	$(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o bin/ ./cmd/...

run:
	@scripts/setup.sh run
	@$(MAKE) --no-print-directory build
	@$(MAKE) --no-print-directory images
	@echo "kserver: starting; the admin kubeconfig is written to /etc/kserver/kserver.yaml"
	@echo "kserver: in another shell: export KUBECONFIG=/etc/kserver/kserver.yaml; bin/kctl get nodes"
	bin/kserver server $(ARGS)

# Offline demo images (busybox, luksa/kubia:v1…) for this machine's architecture.
images:
	@scripts/images.sh '$(IMAGES_DIR)'

test:
	@scripts/setup.sh test
	@$(MAKE) --no-print-directory lint
	$(GO) test -tags '$(TAGS)' -count=1 -timeout 30m $(TESTFLAGS) ./...

bench: build
	bin/kbench --out docs/benchmarks.md $(ARGS)

lint:
	@scripts/lint.sh

release:
	@scripts/setup.sh release
	@scripts/release.sh '$(LDFLAGS)' '$(TAGS)'

setup:
	@scripts/setup.sh test

clean:
	rm -rf bin dist
