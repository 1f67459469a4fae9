#!/bin/sh
# The server under valgrind, for FRONTDESK_BIN (make check-long): any memory
# error or leak makes it exit 99, which the tests' clean-stop check reports.
exec valgrind --quiet --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
	"$(dirname "$0")/../build/frontdesk" "$@"
