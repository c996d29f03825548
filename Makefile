# A thin front for meson. `make` builds into build/, `make check` runs every
# test (plain build, then ASan+UBSan build), `make demo` runs the demo.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
PREFIX ?= /usr/local
DESTDIR ?=
FUZZ_SECONDS ?= 60

MESON_TEST = meson test --print-errorlogs --num-processes 2

.PHONY: all deps check check-plain check-asan demo bench fuzz fuzz-run install clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	scripts/install-deps build
	meson setup $(BUILD) --prefix=$(PREFIX)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false

deps:
	scripts/install-deps build check

check:
	scripts/install-deps check
	$(MAKE) --no-print-directory check-plain check-asan
	scripts/test-summary $(BUILD) $(ASAN_BUILD)

check-plain: $(BUILD)/build.ninja
	ninja -C $(BUILD)
	$(MESON_TEST) -C $(BUILD) || true

# UBSan findings abort the test instead of only printing.
check-asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	$(MESON_TEST) -C $(ASAN_BUILD) || true

# The VM demo; scripts/demo-local is the same tour without a VM.
demo:
	scripts/install-deps demo
	$(MAKE) --no-print-directory all
	scripts/demo $(BUILD)

bench:
	scripts/install-deps bench
	$(MAKE) --no-print-directory all
	ninja -C $(BUILD) bench/bench-local bench/bench-copy tests/e2e/e2e-peer \
		src/cli/hvsock src/session/hvsock-sessiond
	scripts/bench-report $(BUILD)

fuzz:
	scripts/install-deps fuzz
	$(MAKE) --no-print-directory fuzz-run

fuzz-run: $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	scripts/run-fuzzers $(FUZZ_BUILD) $(FUZZ_SECONDS)

install: all
	meson configure $(BUILD) --prefix=$(PREFIX)
	ninja -C $(BUILD)
	DESTDIR=$(DESTDIR) meson install -C $(BUILD) --no-rebuild

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
