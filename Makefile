# tracewire: `make test` runs every test, `make demo` the voice assistant,
# `make bench` the benchmark figures. One cargo target/ is shared by all.

CARGO ?= cargo
FUZZ_SECONDS ?= 60
FUZZ_CI_RUNS ?= 40000
# Every feature of the core but `otlp-tls`, whose TLS stack only adds build time.
FEATURES := --features tracewire/otel,tracewire/tokio-tungstenite,tracewire/otlp

# Each binding directory has its own Makefile with `test` and `bench`
# targets; the root runs every one that exists.
BINDINGS := $(patsubst %/Makefile,%,$(wildcard bindings-*/Makefile))

.PHONY: all build test test-rust test-bindings test-demo lint bench bench-rust bench-demo fuzz fuzz-ci fuzz-corpus demo load w3c clean

all: build

build:
	$(CARGO) build --workspace $(FEATURES)

## test: every language's tests, including the shared vectors, then the
## cross-language test (the voice assistant in both models).
test: test-rust test-bindings test-demo

test-bindings:
	@set -e; for b in $(BINDINGS); do echo "== $$b"; $(MAKE) -C $$b test; done

test-rust:
	$(CARGO) test --workspace $(FEATURES)

test-demo:
	$(MAKE) -C demos test

## lint: formatting, clippy and rustdoc warnings are errors.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets $(FEATURES) -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace $(FEATURES) --no-deps

## bench: criterion benchmarks of the core, with opentelemetry_sdk side by side.
bench: bench-rust
	@set -e; for b in $(BINDINGS); do echo "== $$b"; $(MAKE) -C $$b bench; done
	$(MAKE) bench-demo

bench-demo:
	$(MAKE) -C demos bench

bench-rust:
	$(CARGO) bench -p tracewire $(FEATURES)
	$(CARGO) run --release -p tracewire $(FEATURES) --example ws_throughput

## fuzz: every fuzz target for FUZZ_SECONDS each, inputs up to 1 MiB
## (installs the nightly toolchain and cargo-fuzz when missing).
fuzz:
	.ci/fuzz $(FUZZ_SECONDS)

## fuzz-ci: the short run CI makes: FUZZ_CI_RUNS inputs per target from a
## fixed seed and the committed inputs (a failure prints its input).
fuzz-ci:
	.ci/fuzz --runs $(FUZZ_CI_RUNS)

## fuzz-corpus: rewrite the committed seed corpus from tests/vectors.
fuzz-corpus:
	python3 core/fuzz/seed_corpus.py

## load: SESSIONS (default 1000) voice-assistant sessions at once, tracing on
## and off, then with the OTLP receiver down for 10 s mid-run (see
## demos/voice-assistant/load.py). Minutes, not part of make test.
load:
	$(MAKE) -C demos load

## demo: the voice assistant across four languages; MODEL=message for the
## message model, BACKEND=jaeger to send it to a Jaeger started on loopback.
## Prints the trace.
demo:
	$(MAKE) -C demos run

## w3c: the W3C Trace Context test suite (SUITE=path to a checkout of
## github.com/w3c/trace-context, kept outside this repository) at Level 2,
## through each language's propagator and SDK; not part of `make test`.
w3c:
	@test -n "$(SUITE)" || { echo "usage: make w3c SUITE=path/to/trace-context" >&2; exit 2; }
	tests/w3c/run.sh $(SUITE)

clean:
	$(CARGO) clean
