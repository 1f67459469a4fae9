/* fuzz_kb: the knowledge-base importer. The bytes are a JSONL file for
 * kb_parse_file (which only reads paths: the bytes go to a memfd, read back
 * through /proc/self/fd/N); the file is then parsed a second time into the
 * same list (every id a duplicate "in an earlier file"); what parsed is
 * upserted into an in-memory store. When the input's length is a multiple
 * of 4, an engine is also built over it (text analysis, vocabulary, FTS5
 * index, classifier training) and asked the first entry's question: the
 * training costs ~4 ms even for two entries, so only a quarter of the
 * inputs pay it, decided by the input itself so that a crash reproduces.
 * The store starts empty for every input (outer transaction, rolled back).
 *
 * Checked besides the sanitizers: every entry the parser accepted obeys
 * kbfile.h (required fields, limits, lang en/es, unique ids). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

static store *st;
static int fd = -1;
static char path[64];
static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];
	(void)argc, (void)argv;
	if (store_open(":memory:", &st, err, sizeof err) < 0) {
		fprintf(stderr, "fuzz_kb: %s\n", err);
		exit(1);
	}
	fd = memfd_create("fuzz-kb", 0);
	devnull = fopen("/dev/null", "w");
	if (fd < 0 || !devnull) {
		perror("fuzz_kb: memfd_create or /dev/null");
		exit(1);
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	return 0;
}

static void check(const kb_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const kb_entry *e = &l->v[i];
		if (!e->id || !e->question || !e->answer || !e->category || !e->lang)
			fuzz_fail("kb: entry %zu lacks a field", i);
		if (!e->id[0] || strlen(e->id) > KB_MAX_ID || strlen(e->question) > KB_MAX_QUESTION ||
		    strlen(e->answer) > KB_MAX_ANSWER || e->n_alternates > KB_MAX_ALTERNATES)
			fuzz_fail("kb: entry %zu over a limit", i);
		if (strcmp(e->lang, "en") != 0 && strcmp(e->lang, "es") != 0)
			fuzz_fail("kb: entry %zu lang \"%s\"", i, e->lang);
		for (size_t k = 0; k < e->n_alternates; k++)
			if (!e->alternates[k] || !e->alternates[k][0])
				fuzz_fail("kb: entry %zu alternate %zu empty", i, k);
		for (size_t j = 0; j < i; j++)
			if (strcmp(l->v[j].id, e->id) == 0)
				fuzz_fail("kb: id \"%s\" twice", e->id);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kb_list l = { 0 };
	engine *eng = NULL;
	engine_decision d;
	char err[256];
	size_t n;
	int bad;

	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	bad = kb_parse_file(path, &l, devnull, err, sizeof err);
	if (bad < 0)
		fuzz_fail("kb_parse_file could not read its file: %s", err);
	check(&l);
	n = l.n;
	/* Again: nothing new may be added, every entry is a duplicate now. */
	if (kb_parse_file(path, &l, devnull, err, sizeof err) < 0 || l.n != n)
		fuzz_fail("kb: a second parse of the same file added %zu entries", l.n - n);

	if (l.n > 0) {
		char err2[256];
		if (store_begin(st, err, sizeof err) < 0)
			abort();
		if (store_kb_upsert(st, &l, err, sizeof err) == 0 && size % 4 == 0 &&
		    engine_open(st, &eng, err, sizeof err) == 0) {
			if (engine_entry_count(eng) != l.n)
				fuzz_fail("kb: %zu entries parsed, the engine holds %zu", l.n,
					  engine_entry_count(eng));
			engine_decide(eng, l.v[0].question, strlen(l.v[0].question), -1, &d, err2,
				      sizeof err2);
			engine_free(eng);
		}
		store_rollback(st);
	}
	kb_list_free(&l);
	return 0;
}
