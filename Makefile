# Community edge gateway. `make demo` runs the whole system; `make test` runs every test.
GO      ?= go
BIN     ?= bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
CMDS    := ./gateway/cmd/gateway ./cloud/cmd/cloud ./firmware-sim/cmd/fwsim ./firmware-sim/cmd/camsim

.PHONY: demo test deps vet cross build bench-ingest bench-decode

## demo: gateway (embedded broker) + simulated devices + simulated camera + cloud; Ctrl-C stops all
demo:
	$(GO) run ./firmware-sim/cmd/demo

## test: install what the tests need, then vet, build for every target and run every test
test: deps vet cross
	$(GO) test -count=1 -timeout 75m ./...

deps:
	bash .ci/install-deps

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/ $(CMDS)

## cross: static builds for the boxes: linux/amd64, linux/arm64, linux/arm (v7)
cross:
	@for t in amd64: arm64: arm:7; do \
	  arch=$${t%%:*}; arm=$${t##*:}; \
	  echo "cross: linux/$$arch$${arm:+ GOARM=$$arm}"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch GOARM=$$arm $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/linux-$$arch/ $(CMDS) || exit 1; \
	done

## bench-decode: decode throughput per driver and dialect
bench-decode:
	$(GO) test -run '^$$' -bench . -benchmem ./drivers/...

## bench-ingest: devices → real broker → gateway → SQLite, end to end
bench-ingest:
	$(GO) run ./gateway/cmd/ingestbench
