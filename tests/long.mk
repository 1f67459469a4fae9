# Long tests (issue 7), included by the top-level Makefile (`include tests/long.mk`).
#
#   make check-long   runs tests/long/ (tests that take a minute or more each: connections whose
#                     peer stopped answering reaped by the ping policy, and a soak of every hostile
#                     client at once) against the release and the ASan+UBSan builds of the server;
#                     under valgrind, the unit tests and the server under every integration test
#                     and the long tests (FRONTDESK_SLOW=20; the soak skips itself there); and
#                     every libFuzzer target for 5,000 runs from a fixed seed: about 26 minutes in
#                     all on the 2-core CI machine. CI runs it after `make test`. Logs in
#                     build/test-logs/; the last line is "N passed, N failed".

.PHONY: check-long
check-long:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory $(B)/frontdesk $(A)/frontdesk $(B)/unit-tests
	@tests/run-long.sh
