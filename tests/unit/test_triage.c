#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kbfile.h"
#include "strmap.h"
#include "text.h"
#include "triage.h"

/* The default knowledge base's words, as the engine gives them to triage:
 * a word the knowledge base uses is spelled right, never a typo. Every word
 * of its questions, alternates and answers (a superset of the engine's). */
static strmap *kb_words;

static int kb_known(const char *w, void *ctx)
{
	(void)ctx;
	return kb_words && strmap_get(kb_words, w, -1) >= 0;
}

static void add_words(const char *s)
{
	char buf[8192];
	const char *raw[TEXT_MAX_WORDS];
	size_t n = text_words(s, strlen(s), buf, sizeof buf, raw, TEXT_MAX_WORDS);
	for (size_t i = 0; i < n; i++)
		strmap_put(kb_words, raw[i], 1);
}

static void load_kb_words(void)
{
	kb_list l = { 0 };
	char err[256];
	kb_words = strmap_new();
	kb_parse_file("kb/clinic.jsonl", &l, stderr, err, sizeof err);
	kb_parse_file("kb/clinic-es.jsonl", &l, stderr, err, sizeof err);
	for (size_t i = 0; i < l.n; i++) {
		add_words(l.v[i].question);
		add_words(l.v[i].answer);
		for (size_t k = 0; k < l.v[i].n_alternates; k++)
			add_words(l.v[i].alternates[k]);
	}
	kb_list_free(&l);
}

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
		got = triage_check(line, len, kb_known, NULL, &pat);
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
	load_kb_words();
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
			CHECKF(triage_check(l.v[i].question, strlen(l.v[i].question), kb_known, NULL, &pat) == TRIAGE_NONE,
			       "%s question caught by \"%s\"", l.v[i].id, pat);
			for (size_t k = 0; k < l.v[i].n_alternates; k++) {
				const char *a = l.v[i].alternates[k];
				CHECKF(triage_check(a, strlen(a), kb_known, NULL, &pat) == TRIAGE_NONE,
				       "%s alternate \"%s\" caught by \"%s\"", l.v[i].id, a, pat);
			}
		}
		kb_list_free(&l);
	}
	CASE_END();

	CASE_BEGIN("triage: a word spelled right is never taken for a typo of an emergency word");
	{
		static const char *const fine[] = {
			"what would you recommend for a cough", "are you doing telehealth visits",
			"arent you open on saturday", "how long is the cooking class",
			"do you do sporting physicals", "my fridge stopped working can i keep insulin",
			"is the doctor taking new patients",
		};
		const char *pat = NULL;
		for (size_t i = 0; i < sizeof fine / sizeof *fine; i++)
			CHECKF(triage_check(fine[i], strlen(fine[i]), kb_known, NULL, &pat) == TRIAGE_NONE,
			       "\"%s\" caught by \"%s\"", fine[i], pat);
		/* and a real typo still is one */
		CHECK(triage_check("i cant breth", 12, kb_known, NULL, &pat) == TRIAGE_EMERGENCY);
		CHECK(triage_check("hes chokking", 12, kb_known, NULL, &pat) == TRIAGE_EMERGENCY);
	}
	CASE_END();
	strmap_free(kb_words);
	kb_words = NULL;
}
