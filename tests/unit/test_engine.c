#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "harness.h"
#include "kbfile.h"
#include "store.h"

/* Stores kb/hours.json as the opening-hours config. */
static int load_hours_file(store *st, char *err, size_t errsz)
{
	json_t *j = json_load_file("kb/hours.json", 0, NULL);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int rc = text ? store_meta_set(st, "hours", text, err, errsz) : -1;
	free(text);
	json_decref(j);
	return rc;
}

/* The default knowledge base in a fresh in-memory store. */
int test_open_default(store **st, engine **eng);
int test_open_default(store **st, engine **eng)
{
	kb_list l = { 0 };
	char err[256];
	int rc = -1;
	if (kb_parse_file("kb/clinic.jsonl", &l, stderr, err, sizeof err) != 0 ||
	    kb_parse_file("kb/clinic-es.jsonl", &l, stderr, err, sizeof err) != 0 ||
	    store_open(":memory:", st, err, sizeof err) < 0 ||
	    store_kb_upsert(*st, &l, err, sizeof err) < 0 ||
	    load_hours_file(*st, err, sizeof err) < 0 ||
	    engine_open(*st, eng, err, sizeof err) < 0)
		fprintf(stderr, "cannot open the default knowledge base: %s\n", err);
	else
		rc = 0;
	kb_list_free(&l);
	return rc;
}

/* The answers table: emergencies, requests for a person and off-topic
 * questions must be exactly right, every row. An in-scope question must
 * never get a wrong answer: the right entry, or a handoff to a person (the
 * safe failure). And most of them must be answered. */
#define ANSWERED_FLOOR 0.80

static int64_t saturday_morning(void)
{
	return 1795277700; /* 2026-11-21 16:15:00 UTC */
}

static void answers_table(engine *eng)
{
	FILE *f = fopen("tests/data/answers.tsv", "r");
	char line[1024], name[1100], err[256];
	int in_scope = 0, answered = 0;
	CASE_BEGIN("engine: tests/data/answers.tsv is readable");
	CHECK(f != NULL);
	CASE_END();
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		char *tab, *want;
		engine_decision d;
		size_t len = strcspn(line, "\r\n");
		line[len] = '\0';
		if (len == 0 || line[0] == '#' || !(tab = strchr(line, '\t')))
			continue;
		*tab = '\0';
		want = tab + 1;
		snprintf(name, sizeof name, "answers: \"%s\" -> %s", line, want);
		CASE_BEGIN(name);
		CHECK(engine_decide(eng, line, strlen(line), -1, &d, err, sizeof err) == 0);
		CHECK(d.confidence >= 0 && d.confidence <= 1);
		/* a knowledge-base answer's own entry clears the threshold, not
		 * just the best score among the candidates (engine.h: the order is
		 * re-ranked); answers from structured hours (text set) are apart */
		if (d.kind == ENGINE_ANSWER && !d.text[0])
			CHECKF(d.n_matches > 0 && d.matches[0].score >= engine_threshold(eng),
			       "answered by %s at %.3f", d.entry->id,
			       d.n_matches ? d.matches[0].score : -1);
		if (strcmp(want, "emergency") == 0) {
			CHECKF(d.kind == ENGINE_EMERGENCY, "got %s", engine_kind_name(d.kind));
		} else if (strcmp(want, "person") == 0) {
			CHECKF(d.kind == ENGINE_HANDOFF && d.reason == ENGINE_REASON_ASKED_FOR_PERSON,
			       "got %s/%s", engine_kind_name(d.kind), engine_reason_name(d.reason));
		} else if (strcmp(want, "handoff") == 0) {
			CHECKF(d.kind == ENGINE_HANDOFF && d.reason == ENGINE_REASON_LOW_CONFIDENCE,
			       "got %s %s (%.3f)", engine_kind_name(d.kind),
			       d.entry ? d.entry->id : "", d.confidence);
		} else {
			in_scope++;
			if (d.kind == ENGINE_ANSWER && strcmp(d.entry->id, want) == 0)
				answered++;
			CHECKF((d.kind == ENGINE_ANSWER && strcmp(d.entry->id, want) == 0) ||
			       (d.kind == ENGINE_HANDOFF && d.reason == ENGINE_REASON_LOW_CONFIDENCE),
			       "confidently wrong: %s %s (%.3f)", engine_kind_name(d.kind),
			       d.entry ? d.entry->id : "", d.confidence);
		}
		CASE_END();
	}
	fclose(f);
	CASE_BEGIN("engine: most in-scope questions of answers.tsv are answered right");
	CHECKF(in_scope > 0 && answered >= ANSWERED_FLOOR * in_scope, "%d of %d answered", answered, in_scope);
	printf("# answers.tsv: %d of %d in-scope questions answered right, the rest handed off\n",
	       answered, in_scope);
	CASE_END();
}

/* A knowledge base far bigger than the clinic's, where every word of a
 * question is in hundreds or thousands of entries: FTS5 is then asked
 * per rare word rather than for everything (engine.c, fts_candidates),
 * and must still find the one entry that has them all. */
static void big_kb(void)
{
	static const char *const who[] = { "newborn", "senior", "adult", "teen", "family",
		"women", "men", "veteran", "athlete", "student", "prenatal", "pediatric" };
	static const char *const what[] = { "allergy", "cardiology", "dermatology",
		"endocrinology", "gastroenterology", "hearing", "vision", "nutrition", "sleep",
		"asthma", "diabetes", "thyroid", "kidney", "liver", "lung", "rhythm", "cholesterol",
		"spine", "migraine", "memory", "mood", "anxiety", "weight", "smoking", "pregnancy",
		"fertility", "menopause", "prostate", "bladder", "cancer", "mole", "acne",
		"eczema", "psoriasis", "wound", "foot", "knee", "shoulder", "hip", "speech",
		"vaccine", "travel", "sports", "concussion", "arthritis", "osteoporosis",
		"anemia", "immunology", "infection", "lactation", "genetic", "hormone", "vein" };
	static const char *const how[] = { "home", "clinic", "phone", "video", "group" };
	const size_t n = (sizeof who / sizeof *who) * (sizeof what / sizeof *what) *
			 (sizeof how / sizeof *how);
	kb_list l = { 0 };
	store *st = NULL;
	engine *eng = NULL;
	engine_decision d;
	char err[256], want[64];
	const char *q;

	CASE_BEGIN("engine: a knowledge base of thousands of entries sharing their words loads");
	l.v = calloc(n, sizeof *l.v);
	CHECK(l.v != NULL);
	for (size_t i = 0; l.v && i < n; i++) {
		char id[32], text[160];
		const char *a = who[i % 12], *b = what[(i / 12) % (sizeof what / sizeof *what)],
			   *c = how[i / (12 * (sizeof what / sizeof *what))];
		snprintf(id, sizeof id, "visit-%zu", i);
		snprintf(text, sizeof text, "How do I book a %s %s %s visit?", a, b, c);
		l.v[i].id = strdup(id);
		l.v[i].question = strdup(text);
		l.v[i].answer = strdup("Book it in the patient portal or call the front desk.");
		l.v[i].category = strdup("appointments");
		l.v[i].lang = strdup("en");
		l.n++;
		if (strcmp(a, "newborn") == 0 && strcmp(b, "dermatology") == 0 &&
		    strcmp(c, "home") == 0)
			snprintf(want, sizeof want, "%s", id);
	}
	CHECK(store_open(":memory:", &st, err, sizeof err) == 0);
	CHECK(st && store_kb_upsert(st, &l, err, sizeof err) == 0);
	CHECK(st && engine_open(st, &eng, err, sizeof err) == 0);
	CHECK(eng && engine_entry_count(eng) == n);
	CASE_END();
	kb_list_free(&l);

	if (eng) {
		CASE_BEGIN("engine: on a big knowledge base, the entry with all the words ranks first");
		q = "reserve a newborn dermatology home visit slot";
		CHECK(engine_decide(eng, q, strlen(q), -1, &d, err, sizeof err) == 0);
		CHECKF(d.n_matches > 0 && strcmp(d.matches[0].entry->id, want) == 0, "got %s",
		       d.n_matches ? d.matches[0].entry->id : "nothing");
		q = "can I book a dermatology home visit for my newborn";
		CHECK(engine_decide(eng, q, strlen(q), -1, &d, err, sizeof err) == 0);
		CHECKF(d.kind == ENGINE_ANSWER && strcmp(d.entry->id, want) == 0, "got %s %.3f %s",
		       engine_kind_name(d.kind), d.confidence, d.n_matches ? d.matches[0].entry->id : "nothing");
		CASE_END();

		CASE_BEGIN("engine: on a big knowledge base, a word every entry has is handed off");
		q = "visit";
		CHECK(engine_decide(eng, q, strlen(q), -1, &d, err, sizeof err) == 0);
		CHECKF(d.kind == ENGINE_HANDOFF, "got %s %.3f", engine_kind_name(d.kind),
		       d.confidence);
		CASE_END();
	}
	engine_free(eng);
	store_close(st);
}

void test_engine(void)
{
	store *st = NULL;
	engine *eng = NULL;
	engine_decision d;
	char err[256];

	CASE_BEGIN("engine: builds from the default knowledge base");
	CHECK(test_open_default(&st, &eng) == 0);
	CASE_END();
	if (!eng)
		return;

	answers_table(eng);

	CASE_BEGIN("engine: every entry's own question is answered with that entry");
	{
		kb_list l = { 0 };
		store_kb_load(st, &l, err, sizeof err);
		for (size_t i = 0; i < l.n; i++) {
			CHECK(engine_decide(eng, l.v[i].question, strlen(l.v[i].question), -1, &d,
					    err, sizeof err) == 0);
			CHECKF(d.kind == ENGINE_ANSWER && strcmp(d.entry->id, l.v[i].id) == 0,
			       "%s: got %s %s %.3f", l.v[i].id, engine_kind_name(d.kind),
			       d.entry ? d.entry->id : "-", d.confidence);
		}
		kb_list_free(&l);
	}
	CASE_END();

	static const char *const hostile[] = {
		"\"", "\"\"\"", "*", "hours*", "NEAR(hours open, 2)", "- hours", "hours AND OR NOT",
		"^hours", "col:hours", "(((", ")", "{hours}", "'; DROP TABLE entries; --",
		"\xF0\x9F\x98\x80\xF0\x9F\x98\xA1", "\xC3\x28\xFF\xFE", "   ", "", "AND", "OR OR OR",
		"hours\" OR \"x", "\\", "%", "hours NEAR/3 open", "+ - * / : ^",
	};
	CASE_BEGIN("engine: hostile FTS5 syntax never errors");
	for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
		int rc = engine_decide(eng, hostile[i], strlen(hostile[i]), -1, &d, err, sizeof err);
		CHECKF(rc == 0, "\"%s\": %s", hostile[i], err);
		CHECK(d.confidence >= 0 && d.confidence <= 1);
	}
	CASE_END();

	CASE_BEGIN("engine: 5 KB of mixed hostile text is decided without error");
	{
		static char big[5121];
		size_t used = 0;
		while (used + 40 < sizeof big)
			used += (size_t)snprintf(big + used, sizeof big - used,
						 "hours\" NEAR( * - AND \xF0\x9F\x98\x80 open %zu ", used);
		CHECK(engine_decide(eng, big, used, -1, &d, err, sizeof err) == 0);
		CHECK(d.confidence >= 0 && d.confidence <= 1);
	}
	CASE_END();

	CASE_BEGIN("engine: confidence means the same for a short and a long question");
	{
		engine_decision d2, d3;
		const char *q = "what time do you open";
		const char *q2 = "what time do you open what time do you open what time do you open";
		const char *q3 = "hello, good morning, so I was just wondering what time do you open";
		engine_decide(eng, q, strlen(q), -1, &d, err, sizeof err);
		engine_decide(eng, q2, strlen(q2), -1, &d2, err, sizeof err);
		engine_decide(eng, q3, strlen(q3), -1, &d3, err, sizeof err);
		CHECK(d.kind == ENGINE_ANSWER && d2.kind == ENGINE_ANSWER && d3.kind == ENGINE_ANSWER);
		CHECK(d2.confidence <= d.confidence + 0.02); /* repeating words proves nothing */
		CHECK(fabs(d.confidence - d3.confidence) < 0.25);
		CHECK(d.entry == d2.entry && d.entry == d3.entry);
	}
	CASE_END();

	CASE_BEGIN("engine: misspellings find their entries");
	{
		static const char *const typo[][2] = {
			{ "how do i cancel my apointment", "appointment-cancel" },
			{ "perscription refill", "refill-request" },
			{ "what insurence do you take", "insurance-accepted" },
		};
		for (size_t i = 0; i < sizeof typo / sizeof typo[0]; i++) {
			engine_decide(eng, typo[i][0], strlen(typo[i][0]), -1, &d, err, sizeof err);
			CHECKF(d.n_matches && strcmp(d.matches[0].entry->id, typo[i][1]) == 0,
			       "\"%s\": top %s", typo[i][0], d.n_matches ? d.matches[0].entry->id : "-");
		}
	}
	CASE_END();

	CASE_BEGIN("engine: a Spanish question is answered in Spanish");
	{
		const char *q = "¿Cuál es el horario de la clínica?";
		engine_decide(eng, q, strlen(q), -1, &d, err, sizeof err);
		CHECKF(d.kind == ENGINE_ANSWER && d.entry->lang == TEXT_LANG_ES, "got %s %s",
		       engine_kind_name(d.kind), d.entry ? d.entry->id : "-");
		CHECK(d.lang == TEXT_LANG_ES);
	}
	CASE_END();

	CASE_BEGIN("engine: \"are you open now?\" is answered from the hours at the actual time");
	{
		/* Saturday 2026-11-21 10:15 in Chicago (CST, UTC-6) = 16:15 UTC */
		static const struct { const char *q, *lang, *want; } cases[] = {
			{ "are you open now?", "en", "Northgate office is open now until 1:00 pm" },
			{ "are you open on christmas?", "en", "closed" },
			{ "¿están abiertos hoy?", "es", "abierta ahora" },
		};
		engine_set_clock(eng, saturday_morning);
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			engine_decide(eng, cases[i].q, strlen(cases[i].q), -1, &d, err, sizeof err);
			CHECKF(d.kind == ENGINE_ANSWER && d.text[0] && strstr(d.text, cases[i].want),
			       "\"%s\": %s %s \"%s\"", cases[i].q, engine_kind_name(d.kind),
			       d.entry ? d.entry->id : "-", d.text);
			CHECK(d.entry && strncmp(d.entry->id, "hours-", 6) == 0);
			CHECK(d.lang == (strcmp(cases[i].lang, "es") == 0 ? TEXT_LANG_ES : TEXT_LANG_EN));
		}
		/* without a time in the question, the static answer stands */
		engine_decide(eng, "what are your opening hours", 27, -1, &d, err, sizeof err);
		CHECK(d.kind == ENGINE_ANSWER && d.text[0] == '\0');
		engine_set_clock(eng, NULL);
	}
	CASE_END();

	CASE_BEGIN("engine: a new answer text reloads without retraining; a new phrasing retrains");
	{
		kb_list l = { 0 };
		engine_decision before, after;
		const char *q = "how do i cancel my appointment";
		unsigned trained = engine_trainings(eng);
		kb_entry *ent = NULL;
		CHECK(engine_decide(eng, q, strlen(q), -1, &before, err, sizeof err) == 0);
		CHECK(before.kind == ENGINE_ANSWER);
		store_kb_load(st, &l, err, sizeof err);
		for (size_t i = 0; i < l.n && before.entry; i++)
			if (strcmp(l.v[i].id, before.entry->id) == 0)
				ent = &l.v[i];
		CHECK(ent != NULL);
		if (ent) {
			kb_list one = { .v = ent, .n = 1 };
			char *old = ent->answer, *old_q = ent->question;
			ent->answer = (char *)"Call us at (555) 010-2400 to cancel, any time.";
			CHECK(store_kb_upsert(st, &one, err, sizeof err) == 0);
			CHECK(engine_reload(eng, err, sizeof err) == 0);
			CHECK(engine_trainings(eng) == trained);   /* the same classifier */
			CHECK(engine_decide(eng, q, strlen(q), -1, &after, err, sizeof err) == 0);
			CHECK(after.kind == ENGINE_ANSWER && after.entry &&
			      strcmp(after.entry->id, ent->id) == 0);
			CHECK(after.entry && strcmp(after.entry->answer, ent->answer) == 0);
			CHECK(after.confidence == before.confidence);
			/* a phrasing the classifier has not seen: trained again */
			ent->question = (char *)"may i call off my visit";
			CHECK(store_kb_upsert(st, &one, err, sizeof err) == 0);
			CHECK(engine_reload(eng, err, sizeof err) == 0);
			CHECK(engine_trainings(eng) == trained + 1);
			ent->answer = old;
			ent->question = old_q;
		}
		kb_list_free(&l);
	}
	CASE_END();

	engine_free(eng);
	store_close(st);
	big_kb();
}
