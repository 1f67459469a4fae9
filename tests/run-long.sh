#!/bin/bash
# The long tests (tests/long/, minutes each): the real server, release and ASan+UBSan builds.
# `make check-long` runs this; CI runs it after `make test`. Ends with "N passed, N failed".
cd "$(dirname "$0")/.." || exit 1
. tests/suite.sh

suite long node node --test --test-reporter=tap --test-concurrency=1 tests/long/
suite long-asan node env FRONTDESK_BIN="$PWD/build-asan/frontdesk" \
	node --test --test-reporter=tap --test-concurrency=1 tests/long/
# valgrind: the unit tests, and the server under the main integration tests (slow: the
# server takes ~20x longer to start, so the start timeout is raised). Any memory error or
# leak makes valgrind exit 99: the unit run fails, and the server's clean-stop check fails.
suite valgrind-unit c valgrind --quiet --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite,indirect ./build/unit-tests
suite valgrind-integration node env FRONTDESK_BIN="$PWD/tests/valgrind-frontdesk.sh" \
	FRONTDESK_START_TIMEOUT_MS=180000 node --test --test-reporter=tap --test-concurrency=1 \
	--test-timeout=900000 tests/integration/conversation.test.mjs tests/integration/staff.test.mjs \
	tests/integration/admin-review.test.mjs tests/integration/webhook.test.mjs
# libFuzzer: every target from its committed corpus, a fixed seed and a fixed number of runs,
# so a CI run is reproducible (open-ended fuzzing: make fuzz FUZZ_SECONDS=N).
suite fuzz fuzz make --no-print-directory fuzz FUZZ_SECONDS=300 FUZZ_FLAGS="-seed=1 -runs=${FUZZ_RUNS:-5000}"

suite_total
