# Community edge gateway. `make demo` runs the whole system; `make test` runs every test.
GO      ?= go
BIN     ?= bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
CMDS    := ./gateway/cmd/gateway ./cloud/cmd/cloud ./firmware-sim/cmd/fwsim ./firmware-sim/cmd/camsim
TARGETS ?= amd64: arm64: arm:7

.PHONY: demo test deps vet cross build package bench-ingest bench-decode

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
	@for t in $(TARGETS); do \
	  arch=$${t%%:*}; arm=$${t##*:}; \
	  echo "cross: linux/$$arch$${arm:+ GOARM=$$arm}"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch GOARM=$$arm $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/linux-$$arch/ $(CMDS) || exit 1; \
	done

## package: .deb packages community-gateway and community-cloud for every target (arm:7 is armhf)
## under $(PKG)/, built with nfpm (make deps installs it); specs and scripts in configs/packaging
PKG         ?= $(BIN)/packages
DEB_VERSION ?= $(shell sh configs/packaging/deb-version)
NFPM        ?= $(shell command -v nfpm || echo "$$($(GO) env GOPATH)/bin/nfpm")
package:
	@[ -x "$(NFPM)" ] || { echo "package: nfpm not found: run make deps"; exit 1; }
	@rm -rf $(PKG)/build && mkdir -p $(PKG)/build/etc
	$(MAKE) --no-print-directory cross BIN=$(PKG)/build VERSION=$(DEB_VERSION) CMDS="./gateway/cmd/gateway ./cloud/cmd/cloud"
	$(GO) run ./gateway/cmd/debconfig gateway configs/gateway.example.yaml $(PKG)/build/etc/gateway.yaml
	$(GO) run ./gateway/cmd/debconfig cloud configs/cloud.example.yaml $(PKG)/build/etc/cloud.yaml
	@for t in $(TARGETS); do \
	  arch=$${t%%:*}; arm=$${t##*:}; \
	  for p in community-gateway community-cloud; do \
	    GOARCH=$$arch DEB_ARCH=$$arch$$arm DEB_VERSION=$(DEB_VERSION) BUILD=$(PKG)/build \
	      $(NFPM) package --config configs/packaging/$$p.yaml --packager deb --target $(PKG)/ || exit 1; \
	  done; \
	done

## bench-decode: decode throughput per driver and dialect
bench-decode:
	$(GO) test -run '^$$' -bench . -benchmem ./drivers/...

## bench-ingest: devices → real broker → gateway → SQLite, end to end
bench-ingest:
	$(GO) run ./gateway/cmd/ingestbench
