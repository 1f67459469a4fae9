#!/bin/bash
# The long tests (tests/long/, minutes each): the real server, release and ASan+UBSan builds;
# the unit tests, every integration test and the long tests under valgrind; the fuzzers.
# `make check-long` runs this; CI runs it after `make test`. Ends with "N passed, N failed".
cd "$(dirname "$0")/.." || exit 1
. tests/suite.sh

suite long node node --test --test-reporter=tap --test-concurrency=1 tests/long/
suite long-asan node env FRONTDESK_BIN="$PWD/build-asan/frontdesk" \
	node --test --test-reporter=tap --test-concurrency=1 tests/long/
# valgrind: the unit tests, and the server under every integration test (tests/integration/, as in
# `make test`) and the long tests. Any memory error or leak makes valgrind exit 99: the unit run
# fails, and so does the tests' clean-stop check (exit 0 after SIGTERM), which the CLI tests make
# of the CLI too. The server is ~20x slower under valgrind: FRONTDESK_SLOW=20 multiplies the
# bounds the tests wait within (start-up, a reply, a close; tests/lib/server.mjs), never what they
# assert; only the soak (a load test) skips itself, with the reason. Two files at a time, one per
# core: 15 min 25 s on the 2-core CI machine (2026-11-23, docs/reliability.md; admin.test.mjs, the longest file, was
# 16 min alone on a busy machine). --test-timeout bounds each file (40 min), for a run that hangs.
suite valgrind-unit c valgrind --quiet --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite,indirect ./build/unit-tests
suite valgrind-server node env FRONTDESK_BIN="$PWD/tests/valgrind-frontdesk.sh" FRONTDESK_SLOW=20 \
	node --test --test-reporter=tap --test-concurrency=2 --test-timeout=2400000 \
	tests/integration/ tests/long/
# libFuzzer: every target from its committed corpus, a fixed seed and a fixed number of runs,
# so a CI run is reproducible (open-ended fuzzing: make fuzz FUZZ_SECONDS=N).
suite fuzz fuzz make --no-print-directory fuzz FUZZ_SECONDS=300 FUZZ_FLAGS="-seed=1 -runs=${FUZZ_RUNS:-5000}"

suite_total
