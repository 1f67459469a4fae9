/* eval: see eval.h. */
#include "eval.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine.h"
#include "kbfile.h"
#include "store.h"
#include "util.h"

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* One query line into text and expect (NULL: out of scope). Returns 1 for a
 * query, 0 for a line to skip, -1 for a bad line. *holder owns the strings. */
static int parse_query(const char *line, size_t len, int tsv, json_t **holder,
		       const char **text, const char **expect)
{
	*holder = NULL;
	if (tsv) {
		const char *tab = memchr(line, '\t', len);
		size_t elen;
		if (line[0] == '#' || !tab)
			return line[0] == '#' || strspn(line, " \t\r\n") == len ? 0 : -1;
		elen = strcspn(tab + 1, "\r\n");
		*holder = json_pack("{s:s%, s:s%}", "q", line, (size_t)(tab - line), "e", tab + 1, elen);
		if (!*holder)
			return -1;
		*text = json_string_value(json_object_get(*holder, "q"));
		*expect = json_string_value(json_object_get(*holder, "e"));
		if (strcmp(*expect, "person") == 0 || strcmp(*expect, "emergency") == 0)
			return 0;
		if (strcmp(*expect, "handoff") == 0)
			*expect = NULL;
		return 1;
	}
	*holder = json_loadb(line, len, 0, NULL);
	*text = json_string_value(json_object_get(*holder, "q"));
	if (!*text || !json_object_get(*holder, "expect"))
		return -1;
	*expect = json_string_value(json_object_get(*holder, "expect"));
	return 1;
}

int eval_run(const char *const *kb_paths, int n_kb, const char *queries_path, double threshold,
	     int verbose, FILE *out)
{
	store *st = NULL;
	engine *eng = NULL;
	kb_list kb = { 0 };
	FILE *qf = NULL;
	char err[512], *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t len;
	int64_t *lat = NULL;
	size_t nlat = 0, caplat = 0;
	size_t n_in = 0, n_oos = 0, top1 = 0, in_ok = 0, oos_ok = 0, handoffs = 0;
	size_t in_handoff = 0, in_wrong_answer = 0;
	double mrr = 0;
	int rc = 1;

	size_t qlen = strlen(queries_path);
	int tsv = qlen > 4 && strcmp(queries_path + qlen - 4, ".tsv") == 0;
	err[0] = '\0';
	for (int i = 0; i < n_kb; i++) {
		if (kb_parse_file(kb_paths[i], &kb, stderr, err, sizeof err) != 0) {
			fprintf(stderr, "%s\n", err[0] ? err : "the knowledge base has errors");
			goto out;
		}
	}
	if (store_open(":memory:", &st, err, sizeof err) < 0 ||
	    store_kb_upsert(st, &kb, err, sizeof err) < 0 ||
	    engine_open(st, &eng, err, sizeof err) < 0) {
		fprintf(stderr, "eval: %s\n", err);
		goto out;
	}
	if (threshold >= 0)
		engine_set_threshold(eng, threshold);
	if (!(qf = fopen(queries_path, "r"))) {
		perror(queries_path);
		goto out;
	}
	if (verbose)
		fprintf(out, "%-8s %-28s %-28s %6s  %s\n", "result", "expected", "got", "conf", "question");
	while ((len = getline(&line, &cap, qf)) >= 0) {
		json_t *q;
		const char *text, *expect;
		engine_decision d;
		int64_t t0, t1;
		int rank = 0, kind;

		lineno++;
		if (strspn(line, " \t\r\n") == (size_t)len)
			continue;
		kind = parse_query(line, (size_t)len, tsv, &q, &text, &expect);
		if (kind < 0) {
			fprintf(stderr, "%s:%zu: need %s\n", queries_path, lineno,
				tsv ? "question<TAB>expected" : "{\"q\": string, \"expect\": id or null}");
			json_decref(q);
			goto out;
		}
		if (kind == 0) {
			json_decref(q);
			continue;
		}
		t0 = util_mono_us();
		engine_decide(eng, text, strlen(text), -1, &d, err, sizeof err);
		t1 = util_mono_us();
		if (nlat == caplat) {
			caplat = caplat ? caplat * 2 : 1024;
			int64_t *p = realloc(lat, caplat * sizeof *lat);
			if (!p) {
				json_decref(q);
				goto out;
			}
			lat = p;
		}
		lat[nlat++] = t1 - t0;
		if (d.kind != ENGINE_ANSWER)
			handoffs++;
		if (expect) {
			n_in++;
			for (size_t i = 0; i < d.n_matches; i++)
				if (strcmp(d.matches[i].entry->id, expect) == 0) {
					rank = (int)i + 1;
					break;
				}
			if (rank == 1)
				top1++;
			if (rank > 0)
				mrr += 1.0 / rank;
			if (d.kind == ENGINE_ANSWER && strcmp(d.entry->id, expect) == 0)
				in_ok++;
			else if (d.kind == ENGINE_ANSWER)
				in_wrong_answer++;
			else
				in_handoff++;
		} else {
			n_oos++;
			if (d.kind != ENGINE_ANSWER)
				oos_ok++;
		}
		if (verbose) {
			int ok = expect ? (d.kind == ENGINE_ANSWER && strcmp(d.entry->id, expect) == 0)
					: d.kind != ENGINE_ANSWER;
			if (!ok)
				fprintf(out, "%-8s %-28.28s %-28.28s %6.3f  %.80s\n",
					d.kind == ENGINE_ANSWER ? "wrong" : "handoff",
					expect ? expect : "(out of scope)",
					d.n_matches ? d.matches[0].entry->id : "-", d.confidence, text);
		}
		json_decref(q);
	}
	qsort(lat, nlat, sizeof *lat, cmp_i64);
	{
		double p_at_1 = n_in ? (double)top1 / n_in : 0;
		double acc = n_in ? (double)in_ok / n_in : 0;
		double oosr = n_oos ? (double)oos_ok / n_oos : 0;
		double hr = nlat ? (double)handoffs / nlat : 0;
		int64_t p50 = nlat ? lat[nlat / 2] : 0;
		int64_t p99 = nlat ? lat[(nlat * 99) / 100 < nlat ? (nlat * 99) / 100 : nlat - 1] : 0;
		fprintf(out, "\nfrontdesk eval: %s%s (%zu entries) x %s\n", kb_paths[0],
			n_kb > 1 ? " and more" : "", kb.n, queries_path);
		fprintf(out, "  %-34s %8zu\n", "queries", nlat);
		fprintf(out, "  %-34s %8zu\n", "in scope", n_in);
		fprintf(out, "  %-34s %8zu\n", "out of scope", n_oos);
		fprintf(out, "  %-34s %8.4f\n", "threshold", engine_threshold(eng));
		fprintf(out, "  %-34s %8.4f\n", "precision at 1 (top entry right)", p_at_1);
		fprintf(out, "  %-34s %8.4f\n", "MRR at 10", n_in ? mrr / n_in : 0);
		fprintf(out, "  %-34s %8.4f\n", "in-scope accuracy (answered right)", acc);
		fprintf(out, "  %-34s %8zu\n", "  in scope, answered wrong", in_wrong_answer);
		fprintf(out, "  %-34s %8zu\n", "  in scope, handed off", in_handoff);
		fprintf(out, "  %-34s %8.4f\n", "out-of-scope recall (handed off)", oosr);
		fprintf(out, "  %-34s %8.4f\n", "handoff rate", hr);
		fprintf(out, "  %-34s %8lld\n", "latency p50 (us)", (long long)p50);
		fprintf(out, "  %-34s %8lld\n", "latency p99 (us)", (long long)p99);
		fprintf(out, "{\"queries\":%zu,\"in_scope\":%zu,\"out_of_scope\":%zu,\"threshold\":%.4f,"
			"\"p_at_1\":%.4f,\"mrr_at_10\":%.4f,\"in_scope_accuracy\":%.4f,"
			"\"oos_recall\":%.4f,\"handoff_rate\":%.4f,\"p50_us\":%lld,\"p99_us\":%lld}\n",
			nlat, n_in, n_oos, engine_threshold(eng), p_at_1, n_in ? mrr / n_in : 0, acc,
			oosr, hr, (long long)p50, (long long)p99);
	}
	rc = 0;
out:
	free(line);
	free(lat);
	if (qf)
		fclose(qf);
	engine_free(eng);
	store_close(st);
	kb_list_free(&kb);
	return rc;
}
