# x64wasm: two commands on a fresh Debian machine.
#   make run    builds the demo and runs it: a desktop window plus a web server
#               on http://127.0.0.1:8080/ (headless when there is no display;
#               pass options with ARGS, e.g. make run ARGS="--headless --port 0")
#   make test   runs every test: transpiler (differential, corpus, golden,
#               robustness; the corpus again built for x86-64-v3), HTTP,
#               headless Chromium, desktop window under Xvfb
# Both install what they need first (apt packages as root or through sudo,
# npm packages under crates/cli/tests/browser).

CARGO ?= cargo
ARGS ?=
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Building: a C toolchain, and WebKitGTK (with GTK 3 and libsoup 3) for the window.
APT_PACKAGES := build-essential pkg-config libwebkit2gtk-4.1-dev
# Testing: a display server, X tools, Debian's Chromium, Node.js for playwright-core,
# JavaScriptCore (WebKitGTK's engine) for Python, which the engines test runs,
# and redis-server and haproxy, which the --redis tests start on free ports.
TEST_APT_PACKAGES := xvfb xauth xdotool imagemagick chromium python3 binutils \
	python3-gi gir1.2-javascriptcoregtk-4.1 redis-server haproxy
# The browser tests' node scripts and their npm packages.
BROWSER_TESTS := crates/cli/tests/browser
APT := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900

.PHONY: run test deps test-deps install-node bench lint screenshots clean

# Installs the Debian packages in $(1) that are missing.
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; $(APT) update && $(APT) install -y $$missing; fi
endef

deps:
	$(call apt_install,$(APT_PACKAGES))
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust with rustup (https://rustup.rs)"; exit 1; }

test-deps: deps
	$(call apt_install,$(TEST_APT_PACKAGES))
	@command -v npm >/dev/null || $(MAKE) --no-print-directory install-node
	@if [ ! -d $(BROWSER_TESTS)/node_modules/playwright-core ] || [ $(BROWSER_TESTS)/package-lock.json -nt $(BROWSER_TESTS)/node_modules/.package-lock.json ]; then \
		echo "installing playwright-core (drives Debian's Chromium; downloads no browser)"; \
		npm ci --prefix $(BROWSER_TESTS) --no-audit --no-fund; fi

install-node:
	$(call apt_install,nodejs npm)

run: deps
	$(CARGO) build --release -p x64wasm-cli
	./target/release/x64wasm $(ARGS)

# (x64wasm-axum-baseline, the axum bench's server, is left out: axum would
# change features the app's dependencies share, and every example and
# user-crate build would compile them again; its Cargo.toml says more)
test: test-deps
	$(CARGO) test --workspace --exclude x64wasm-axum-baseline --all-targets -- --test-threads=2
	$(CARGO) test --workspace --exclude x64wasm-axum-baseline --doc
	@echo "the transpiler's own-code tests again, built for x86-64-v3 (AVX2, BMI2, FMA: docs/abi.md)"
	RUSTFLAGS="-C target-cpu=x86-64-v3" CARGO_TARGET_DIR=target/x86-64-v3 \
		$(CARGO) test -p x64wasm-transpile --test corpus --test engines --test libm --test c_data
	@echo "the release demo and TodoMVC built for x86-64-v3: every callback and the view as wasm"
	RUSTFLAGS="-C target-cpu=x86-64-v3" CARGO_TARGET_DIR=target/x86-64-v3 \
		$(CARGO) build --release --no-default-features -p x64wasm-cli --bin x64wasm -p x64wasm --example todomvc
	bash crates/cli/tests/target_cpu.sh target/x86-64-v3

# Copies the screenshots the browser and desktop tests took into docs/ (README).
screenshots:
	mkdir -p docs
	cp target/screenshots/browser.png target/screenshots/desktop.png docs/

# (test-deps: the TodoMVC bench drives Chromium; wrk loads the axum bench)
bench: test-deps
	$(call apt_install,wrk)
	$(CARGO) bench -p x64wasm-transpile --features internals --bench transpile
	bash crates/transpile/benches/code_quality.sh
	$(CARGO) bench -p x64wasm-cli --bench sync
	$(CARGO) bench -p x64wasm-cli --bench attack
	$(CARGO) bench -p x64wasm-cli --bench scale
	$(CARGO) bench -p x64wasm-cli --bench todomvc
	$(CARGO) bench -p x64wasm-cli --bench rows
	$(CARGO) bench -p x64wasm-cli --bench axum
	$(CARGO) bench -p x64wasm-cli --bench first_load

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

clean:
	$(CARGO) clean
