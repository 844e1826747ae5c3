# Quaver: `make run` runs the bot, `make test` runs every test. See README.md.
GO        ?= go
BIN       := bin/quaver
PKGS      := ./...
TESTFLAGS ?= -count=1 -timeout 18m
export CGO_ENABLED := 1
# libopus (compiled by cgo from layeh.com/gopus) encodes ~20% faster at -O3 than cgo's default -O2.
export CGO_CFLAGS ?= -O3 -g

.PHONY: all build run test test-go test-deps lint vet fmt-check staticcheck bench bench-audio bench-voice test-dave fuzz clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/quaver

## run: the real bot when DISCORD_TOKEN is set, else the same bot against the built-in local Discord.
## (Until the bot lands, the engine demo: generate, transcode and report a demo track.)
run: build
	@if ./$(BIN) help serve >/dev/null 2>&1; then \
		if [ -n "$$DISCORD_TOKEN" ]; then exec ./$(BIN) serve; else exec ./$(BIN) serve --sandbox; fi; \
	else exec ./$(BIN) demo; fi

## test: installs missing test tools, starts missing services, lints, then runs the whole suite.
test: test-deps lint
	@eval "$$(scripts/test-services.sh)" && $(GO) test $(TESTFLAGS) $(PKGS)

test-deps:
	@scripts/test-deps.sh

lint: vet fmt-check staticcheck

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

staticcheck:
	$(GO) tool staticcheck $(PKGS)

## bench: long benchmarks and load runs, kept out of `make test`.
bench: bench-audio bench-voice

bench-audio: test-deps
	$(GO) test -run '^$$' -bench . -benchmem ./audio/...
	$(GO) run ./bench/audiocmp

## bench-voice: the voice load set of issue 3, one JSON line per run
## (pass-through at 1, 100, 1,000 and 3,000 connections, then transcoding).
bench-voice: build
	@for n in 1 100 1000 3000; do ./$(BIN) bench voice --n $$n --duration 10s --mode passthrough --json; done
	@for n in 50 100; do ./$(BIN) bench voice --n $$n --duration 10s --mode transcode --json; done

test-dave: test-deps
	@eval "$$(scripts/test-services.sh)" && $(GO) test -count=1 -v -run 'Vectors|Dave|DAVE|Interop|Captured' ./voice/... 2>&1 | scripts/dave-summary.sh

fuzz:
	@scripts/fuzz-all.sh 20s

clean:
	rm -rf bin .cache
