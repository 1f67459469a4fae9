/* Unit tests of the modules that decide things, without sockets. Run from
 * the repository root (they read kb/ and tests/data/). */
#include "harness.h"

int harness_passed, harness_failed, harness_case_failed;
const char *harness_case;

int main(void)
{
	test_text();
	test_kbfile();
	test_triage();
	test_engine();
	test_chat();
	test_hours();
	test_model();
	test_auth();
	test_notify();
	test_desk();
	test_api();
	test_redact();
	test_retention();
	test_batch();
	printf("%d passed, %d failed\n", harness_passed, harness_failed);
	return harness_failed ? 1 : 0;
}
