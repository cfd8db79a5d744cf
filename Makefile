# tracewire: `make test` runs every test, `make demo` the voice assistant,
# `make bench` the benchmark figures. One cargo target/ is shared by all.

CARGO ?= cargo
FUZZ_SECONDS ?= 60

.PHONY: all build test test-rust lint bench fuzz demo clean

all: build

build:
	$(CARGO) build --workspace --all-features

## test: every language's tests, including the shared vectors.
test: test-rust

test-rust:
	$(CARGO) test --workspace --all-features

## lint: formatting, clippy and rustdoc warnings are errors.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --all-features --no-deps

## bench: criterion benchmarks of the core, with opentelemetry_sdk side by side.
bench:
	$(CARGO) bench -p tracewire --all-features

## fuzz: every fuzz target for FUZZ_SECONDS each (needs the nightly toolchain).
fuzz:
	.ci/fuzz $(FUZZ_SECONDS)

demo:
	@echo "The voice-assistant demo is not built yet (see demos/ once it lands)." >&2
	@exit 1

clean:
	$(CARGO) clean
