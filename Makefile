# x64wasm: two commands on a fresh Debian machine.
#   make run   builds the binary and transpiles its own demo callbacks to wasm
#   make test  runs every test (differential, corpus, golden, robustness)
# Both install what they need first (apt packages as root or through sudo).

CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := build-essential pkg-config
APT := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900

.PHONY: run test deps bench lint clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; $(APT) update && $(APT) install -y $$missing; fi
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust with rustup (https://rustup.rs)"; exit 1; }

run: deps
	$(CARGO) build --release
	./target/release/x64wasm transpile --binary target/release/x64wasm \
		--export 'increment_counter(ptr)->void' \
		--export 'decrement_counter(ptr)->void' \
		--export 'reset_counter(ptr)->void' \
		--export 'add_step_clamped(ptr,i32,i32)->i64' \
		-o target/demo.wasm
	./target/release/x64wasm transpile --binary target/release/x64wasm \
		--export 'add_step_clamped(ptr,i32,i32)->i64' --wat | head -40
	@echo "wrote target/demo.wasm (see x64wasm --help)"

test: deps
	$(CARGO) test --all-targets -- --test-threads=2

bench: deps
	$(CARGO) bench --bench transpile
	bash benches/code_quality.sh

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

clean:
	$(CARGO) clean
