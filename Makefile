# reprove's make targets. The two a newcomer needs are `make demo` (the main
# job, installing what it needs) and `make test` (the test suite, likewise).

export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
BIN := bin/reprove

.PHONY: all deps build demo test test-short bench vet fmt clean

all: build

deps:
	bash ci/setup.sh

# The binary records the revision it was built from (reprove version), so
# the build says -buildvcs itself rather than inherit a host's GOFLAGS.
build:
	GOFLAGS=-buildvcs=true $(GO) build -o $(BIN) ./cmd/reprove

demo: deps build
	bash ci/demo.sh

# The full suite, including the tests that need a real containerd (they
# start reprove's private daemon themselves). CI runs exactly this.
test:
	bash ci/setup.sh --test
	$(GO) vet ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	GOFLAGS= $(GO) mod tidy -diff
	staticcheck ./...
	$(GO) test -count=1 -timeout 80m ./...

# A quick loop: skips the tests that need containerd or the network.
test-short:
	$(GO) test -short ./...

bench: deps build
	bash ci/bench.sh

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
