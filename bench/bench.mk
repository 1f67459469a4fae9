# The performance benchmark of issue 6, included by the top-level Makefile
# (`include bench/bench.mk`). Separate from `make test`: it prints numbers, it asserts nothing.
#
#   make bench        builds build/frontdesk and the tools in build/bench/, runs bench/run.sh
#                     (every scenario, under 10 minutes, a table at the end)
#   make bench-tools  only builds the tools
#
# Scenario 5b needs Node.js and the npm packages ws and @nlpjs/* (package.json: npm ci);
# without them that row says skipped.

BENCH_B      = build/bench
BENCH_CC    ?= $(CC)
BENCH_WARN   = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
               -Wmissing-prototypes -Wformat=2 -Wvla
ifeq ($(CI),true)
BENCH_WARN  += -Werror
endif
# -DNDEBUG: lws_config.h turns on lws's _DEBUG logging without it
BENCH_CFLAGS = -O2 -g -DNDEBUG $(BENCH_WARN)
BENCH_LWS_CFLAGS := $(shell pkg-config --cflags libwebsockets jansson 2>/dev/null)
BENCH_LWS_LIBS   := $(shell pkg-config --libs libwebsockets jansson 2>/dev/null)

.PHONY: bench bench-tools

bench-tools: $(BENCH_B)/loadgen $(BENCH_B)/echo $(BENCH_B)/genkb

bench: build/frontdesk bench-tools
	@bench/run.sh

$(BENCH_B):
	mkdir -p $@

$(BENCH_B)/loadgen: bench/loadgen.c | $(BENCH_B)
	$(BENCH_CC) $(BENCH_CFLAGS) $(BENCH_LWS_CFLAGS) -o $@ $< $(BENCH_LWS_LIBS) -lev

$(BENCH_B)/echo: bench/echo.c | $(BENCH_B)
	$(BENCH_CC) $(BENCH_CFLAGS) $(BENCH_LWS_CFLAGS) -o $@ $< $(BENCH_LWS_LIBS) -lev

$(BENCH_B)/genkb: bench/genkb.c | $(BENCH_B)
	$(BENCH_CC) $(BENCH_CFLAGS) -o $@ $<
