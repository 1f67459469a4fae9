#!/bin/bash
# Runs every suite and ends with one line: "N passed, N failed".
#  1. unit tests (C, no sockets), release and ASan+UBSan builds
#  2. integration tests: the real server over real WebSockets (node:test + ws)
#  3. the same integration tests against the ASan+UBSan server
#  4. browser tests: Debian's chromium driven by playwright-core
#  5. every libFuzzer target once over its committed corpus (crash regressions)
# Each suite's output is kept in build/test-logs/.
cd "$(dirname "$0")/.." || exit 1
. tests/suite.sh

suite fuzz-regress fuzz make --no-print-directory fuzz-regress
suite unit c ./build/unit-tests
suite unit-asan c ./build-asan/unit-tests
suite integration node node --test --test-reporter=tap --test-concurrency=1 tests/integration/
suite integration-asan node env FRONTDESK_BIN="$PWD/build-asan/frontdesk" \
	node --test --test-reporter=tap --test-concurrency=1 tests/integration/
suite browser node node --test --test-reporter=tap --test-concurrency=1 tests/browser/

suite_total
