#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kbfile.h"
#include "triage.h"

/* Runs every line of a data file through triage; returns the misses. */
static void check_file(const char *path, triage_kind want, int negate)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int lines = 0;
	CHECKF(f != NULL, "cannot open %s", path);
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		size_t len = strcspn(line, "\r\n");
		const char *pat = NULL;
		triage_kind got;
		line[len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		lines++;
		got = triage_check(line, len, &pat);
		if (negate)
			CHECKF(got != want, "wrongly caught (%s): %s", pat ? pat : "-", line);
		else
			CHECKF(got == want, "missed: %s", line);
	}
	fclose(f);
	CHECK(lines > 0);
}

void test_triage(void)
{
	CASE_BEGIN("triage: every message of tests/data/emergencies.txt is an emergency");
	check_file("tests/data/emergencies.txt", TRIAGE_EMERGENCY, 0);
	CASE_END();

	CASE_BEGIN("triage: every request of tests/data/person_requests.txt asks for a person");
	check_file("tests/data/person_requests.txt", TRIAGE_PERSON, 0);
	CASE_END();

	CASE_BEGIN("triage: health questions of tests/data/not_emergencies.txt are not emergencies");
	check_file("tests/data/not_emergencies.txt", TRIAGE_EMERGENCY, 1);
	CASE_END();

	CASE_BEGIN("triage: no question or alternate of the default knowledge base is caught");
	{
		kb_list l = { 0 };
		char err[256];
		kb_parse_file("kb/clinic.jsonl", &l, stderr, err, sizeof err);
		kb_parse_file("kb/clinic-es.jsonl", &l, stderr, err, sizeof err);
		CHECK(l.n > 0);
		for (size_t i = 0; i < l.n; i++) {
			const char *pat = NULL;
			CHECKF(triage_check(l.v[i].question, strlen(l.v[i].question), &pat) == TRIAGE_NONE,
			       "%s question caught by \"%s\"", l.v[i].id, pat);
			for (size_t k = 0; k < l.v[i].n_alternates; k++) {
				const char *a = l.v[i].alternates[k];
				CHECKF(triage_check(a, strlen(a), &pat) == TRIAGE_NONE,
				       "%s alternate \"%s\" caught by \"%s\"", l.v[i].id, a, pat);
			}
		}
		kb_list_free(&l);
	}
	CASE_END();
}
