# frontdesk: a plain Makefile. `make run` and `make test` are the two commands
# a new user needs; both install what is missing first (scripts/deps.sh).

CC       ?= cc
PKGS      = libwebsockets jansson sqlite3 libcurl
CFLAGS   ?= -O2 -g
WARN      = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wformat=2 -Wvla
ifeq ($(CI),true)
WARN     += -Werror
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# libev: the server's event loop (no pkg-config file in Debian 12)
LIBS      = $(PKG_LIBS) -lev -lstemmer -lcrypto -largon2 -lm -pthread

CORE_SRC  = server/util.c server/strmap.c server/text.c server/kbfile.c server/store.c \
            server/triage.c server/model.c server/engine.c server/chat.c server/eval.c server/hours.c server/notify.c server/desk.c \
            server/auth.c server/api.c server/admin.c server/redact.c server/retention.c \
            server/batch.c
SRV_SRC   = server/server.c server/main.c server/usercli.c
UNIT_SRC  = $(wildcard tests/unit/test_*.c)

# Release objects in build/, sanitizer objects in build-asan/.
B = build
A = build-asan
CORE_OBJ  = $(CORE_SRC:server/%.c=$(B)/%.o)
SRV_OBJ   = $(SRV_SRC:server/%.c=$(B)/%.o)
ACORE_OBJ = $(CORE_SRC:server/%.c=$(A)/%.o)
ASRV_OBJ  = $(SRV_SRC:server/%.c=$(A)/%.o)
ASAN      = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

.PHONY: all run test asan deps clean bench-quality
all: $(B)/frontdesk $(B)/unit-tests

$(B) $(A):
	mkdir -p $@

# The classifier's loops are most of its time: -O3 vectorises the ones whose
# length is known only at run time (the entries), which -O2 leaves scalar.
$(B)/model.o: EXTRA_OPT = -O3

$(B)/%.o: server/%.c server/*.h | $(B)
	$(CC) $(CFLAGS) $(EXTRA_OPT) -DNDEBUG $(WARN) $(PKG_CFLAGS) -c $< -o $@

$(A)/%.o: server/%.c server/*.h | $(A)
	$(CC) $(ASAN) $(WARN) $(PKG_CFLAGS) -c $< -o $@

$(B)/frontdesk: $(CORE_OBJ) $(SRV_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

$(A)/frontdesk: $(ACORE_OBJ) $(ASRV_OBJ)
	$(CC) $(ASAN) -o $@ $^ $(LIBS)

$(B)/unit-tests: $(CORE_OBJ) $(UNIT_SRC) tests/unit/harness.h
	$(CC) $(CFLAGS) $(WARN) $(PKG_CFLAGS) -Iserver -o $@ $(UNIT_SRC) $(CORE_OBJ) $(LIBS)

$(A)/unit-tests: $(ACORE_OBJ) $(UNIT_SRC) tests/unit/harness.h
	$(CC) $(ASAN) $(WARN) $(PKG_CFLAGS) -Iserver -o $@ $(UNIT_SRC) $(ACORE_OBJ) $(LIBS)

asan: $(A)/frontdesk $(A)/unit-tests

deps:
	@scripts/deps.sh

# Start the server on the default database, seeded from kb/ on first start.
run: deps
	@$(MAKE) --no-print-directory all
	@echo "frontdesk: starting; stop it with Ctrl-C"
	./$(B)/frontdesk serve --db data/frontdesk.db --web web --kb-dir kb

# The whole suite, release and sanitizer builds; last line "N passed, N failed".
test:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory all asan
	@tests/run.sh

# Answer quality, frontdesk and NLP.js side by side (a few minutes).
bench-quality: all
	@scripts/deps.sh test
	@bench/quality.sh

clean:
	rm -rf $(B) $(A)
include bench/bench.mk
include tests/fuzz/fuzz.mk
include tests/long.mk
