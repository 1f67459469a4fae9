#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "kbfile.h"
#include "store.h"

static char *write_tmp(const char *content)
{
	static char path[64];
	FILE *f;
	int fd;
	snprintf(path, sizeof path, "/tmp/frontdesk-kbtest-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	f = fdopen(fd, "w");
	fputs(content, f);
	fclose(f);
	return path;
}

/* Parses content; returns the bad-line count and the report in rep. */
static int parse(const char *content, kb_list *l, char *rep, size_t repsz)
{
	char err[256];
	char *path = write_tmp(content);
	FILE *r = fmemopen(rep, repsz, "w");
	int bad = kb_parse_file(path, l, r, err, sizeof err);
	fclose(r);
	unlink(path);
	return bad;
}

void test_kbfile(void)
{
	kb_list l = { 0 };
	char rep[2048];

	CASE_BEGIN("kbfile: a good file parses with defaults");
	CHECK(parse("{\"id\":\"a\",\"question\":\"Q?\",\"alternates\":[\"q1\",\"q2\"],\"answer\":\"A.\"}\n\n"
		    "{\"id\":\"b\",\"question\":\"Q2?\",\"answer\":\"B.\",\"category\":\"x\",\"lang\":\"es\"}\n",
		    &l, rep, sizeof rep) == 0);
	CHECK(l.n == 2);
	CHECK(l.n == 2 && l.v[0].n_alternates == 2 && strcmp(l.v[0].category, "general") == 0 &&
	      strcmp(l.v[0].lang, "en") == 0 && strcmp(l.v[1].lang, "es") == 0);
	kb_list_free(&l);
	CASE_END();

	static const struct { const char *line, *reason; } bad[] = {
		{ "{oops", "invalid JSON" },
		{ "[1,2]", "not a JSON object" },
		{ "{\"question\":\"q\",\"answer\":\"a\"}", "missing \"id\"" },
		{ "{\"id\":\"\",\"question\":\"q\",\"answer\":\"a\"}", "\"id\" is empty" },
		{ "{\"id\":\"a b\",\"question\":\"q\",\"answer\":\"a\"}", "\"id\" may hold only" },
		{ "{\"id\":\"a\",\"answer\":\"a\"}", "missing \"question\"" },
		{ "{\"id\":\"a\",\"question\":\"q\"}", "missing \"answer\"" },
		{ "{\"id\":\"a\",\"question\":\"q\",\"answer\":7}", "\"answer\" must be a string" },
		{ "{\"id\":\"a\",\"question\":\"q\",\"answer\":\"a\",\"alternates\":\"x\"}", "must be an array" },
		{ "{\"id\":\"a\",\"question\":\"q\",\"answer\":\"a\",\"alternates\":[1]}", "alternate 1" },
		{ "{\"id\":\"a\",\"question\":\"q\",\"answer\":\"a\",\"lang\":\"fr\"}", "\"lang\" must be" },
		{ "{\"id\":\"a\",\"question\":\"q\",\"answer\":\"a\",\"anwser\":\"typo\"}", "unknown field" },
		{ "{\"id\":\"a\",\"id\":\"b\",\"question\":\"q\",\"answer\":\"a\"}", "invalid JSON" },
		{ "{\"id\":\"a\",\"question\":\"q\",\"answer\":\"\xC3\x28\"}", "invalid UTF-8" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char content[512];
		CASE_BEGIN(bad[i].reason);
		snprintf(content, sizeof content,
			 "{\"id\":\"ok\",\"question\":\"q\",\"answer\":\"a\"}\n%s\n", bad[i].line);
		CHECK(parse(content, &l, rep, sizeof rep) == 1);
		CHECKF(strstr(rep, ":2: ") && strstr(rep, bad[i].reason), "report was: %s", rep);
		kb_list_free(&l);
		CASE_END();
	}

	CASE_BEGIN("kbfile: duplicate ids are reported with their line");
	CHECK(parse("{\"id\":\"a\",\"question\":\"q\",\"answer\":\"a\"}\n"
		    "{\"id\":\"b\",\"question\":\"q\",\"answer\":\"a\"}\n"
		    "{\"id\":\"a\",\"question\":\"q\",\"answer\":\"a\"}\n", &l, rep, sizeof rep) == 1);
	CHECK(strstr(rep, ":3: duplicate id \"a\"") != NULL);
	kb_list_free(&l);
	CASE_END();

	CASE_BEGIN("kbfile: the default knowledge base is valid, 60+ entries, 3+ alternates each");
	{
		char err[256];
		FILE *r = fmemopen(rep, sizeof rep, "w");
		int b1 = kb_parse_file("kb/clinic.jsonl", &l, r, err, sizeof err);
		size_t n_en = l.n;
		int b2 = kb_parse_file("kb/clinic-es.jsonl", &l, r, err, sizeof err);
		fclose(r);
		CHECKF(b1 == 0 && b2 == 0, "%s", rep);
		CHECK(n_en >= 60);
		for (size_t i = 0; i < l.n; i++)
			CHECKF(l.v[i].n_alternates >= 3, "%s has %zu alternates", l.v[i].id, l.v[i].n_alternates);
		kb_list_free(&l);
	}
	CASE_END();

	CASE_BEGIN("store: upsert by id replaces, export matches");
	{
		store *st;
		char err[256];
		kb_list back = { 0 };
		CHECK(store_open(":memory:", &st, err, sizeof err) == 0);
		parse("{\"id\":\"a\",\"question\":\"q\",\"answer\":\"old\"}\n", &l, rep, sizeof rep);
		CHECK(store_kb_upsert(st, &l, err, sizeof err) == 0);
		kb_list_free(&l);
		parse("{\"id\":\"a\",\"question\":\"q\",\"answer\":\"new\",\"alternates\":[\"x\"]}\n"
		      "{\"id\":\"b\",\"question\":\"q\",\"answer\":\"b\"}\n", &l, rep, sizeof rep);
		CHECK(store_kb_upsert(st, &l, err, sizeof err) == 0);
		CHECK(store_kb_count(st) == 2);
		CHECK(store_kb_load(st, &back, err, sizeof err) == 0);
		CHECK(back.n == 2 && strcmp(back.v[0].answer, "new") == 0 && back.v[0].n_alternates == 1);
		kb_list_free(&back);
		kb_list_free(&l);
		store_close(st);
	}
	CASE_END();
}
