# Fuzzing (issue 7), included by the top-level Makefile (`include tests/fuzz/fuzz.mk`).
#
#   make fuzz           builds the libFuzzer targets into build-fuzz/ and fuzzes each, one after
#                       the other, for FUZZ_SECONDS (default 60) from a copy of its committed
#                       corpus (build-fuzz/corpus-TARGET); one line per target; fails if a target
#                       crashed (the input is kept in build-fuzz/artifacts/TARGET/)
#   make fuzz-regress   runs each target once over its committed corpus (tests/fuzz/corpus/), no
#                       fuzzing, a few seconds: what `make test` can include
#   make fuzz-build     only builds;   make fuzz-clean   removes build-fuzz/
#   FUZZ_TARGETS="chat api" limits any of these to some targets; FUZZ_FLAGS="-detect_leaks=0"
#   adds libFuzzer flags.
#
# Needs clang with libFuzzer (Debian 12: clang, libclang-rt-14-dev). The server's core sources
# are compiled again here (ASan, UBSan, coverage), apart from build/ and build-asan/.

FUZZ_CC      ?= clang
FUZZ_B        = build-fuzz
FUZZ_TARGETS ?= chat query kb api desk
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   ?=
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS   = -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) $(WARN) $(PKG_CFLAGS)
FUZZ_CORE_OBJ = $(CORE_SRC:server/%.c=$(FUZZ_B)/obj/%.o)
FUZZ_BIN      = $(FUZZ_TARGETS:%=$(FUZZ_B)/fuzz_%)

.PHONY: fuzz fuzz-build fuzz-regress fuzz-clean fuzz-deps

fuzz: fuzz-deps
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_FLAGS="$(FUZZ_FLAGS)" tests/fuzz/run.sh fuzz $(FUZZ_TARGETS)

fuzz-regress: fuzz-deps
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_FLAGS="$(FUZZ_FLAGS)" tests/fuzz/run.sh regress $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_BIN)

# clang is a test tool (scripts/deps.sh test); only asked for when missing.
fuzz-deps:
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || scripts/deps.sh test

$(FUZZ_B)/obj:
	mkdir -p $@

# Coverage instrumentation without libFuzzer's main: only the targets link it.
$(FUZZ_B)/obj/%.o: server/%.c server/*.h tests/fuzz/fuzz.mk | $(FUZZ_B)/obj
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

# The classifier (model.c) keeps ASan and UBSan but no coverage: its training and scoring loops
# compare floats and counters that no input steers, and their tracing took 70% of the kb
# target's time.
$(FUZZ_B)/obj/model.o: server/model.c server/*.h tests/fuzz/fuzz.mk | $(FUZZ_B)/obj
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

# FUZZ_ROOT: where the fixture finds kb/ (or FRONTDESK_ROOT at run time).
$(FUZZ_B)/obj/fuzz_common.o: tests/fuzz/fuzz_common.c tests/fuzz/fuzz.h server/*.h tests/fuzz/fuzz.mk | $(FUZZ_B)/obj
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -Iserver -DFUZZ_ROOT='"$(CURDIR)"' \
		-c $< -o $@

$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_B)/obj/fuzz_common.o $(FUZZ_CORE_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Iserver -o $@ $< \
		$(FUZZ_B)/obj/fuzz_common.o $(FUZZ_CORE_OBJ) $(LIBS)

# Pattern-built objects are intermediate to make: keep them between builds.
.SECONDARY: $(FUZZ_CORE_OBJ) $(FUZZ_B)/obj/fuzz_common.o

fuzz-clean:
	rm -rf $(FUZZ_B)
