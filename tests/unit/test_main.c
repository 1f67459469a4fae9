/* Unit tests of the modules that decide things, without sockets. Run from
 * the repository root (they read kb/ and tests/data/). */
#include "harness.h"

int harness_passed, harness_failed, harness_case_failed;
const char *harness_case;

void frames_collect(void *user, const char *frame, size_t len)
{
	frames *f = user;
	if (f->n < 16)
		f->v[f->n++] = json_loadb(frame, len, JSON_REJECT_DUPLICATES, NULL);
}

void frames_clear(frames *f)
{
	for (size_t i = 0; i < f->n; i++)
		json_decref(f->v[i]);
	f->n = 0;
}

const char *frames_type(const frames *f, size_t i)
{
	const char *t = i < f->n ? json_string_value(json_object_get(f->v[i], "type")) : NULL;
	return t ? t : "";
}

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
