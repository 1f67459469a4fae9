/* eval: measures the answer engine on a knowledge base and a question file
 * (`frontdesk eval`). Builds an in-memory store, runs every question through
 * the same engine and defaults as the server, prints a readable table and,
 * as the very last line, one JSON object with the numbers. */
#ifndef FD_EVAL_H
#define FD_EVAL_H

#include <stdio.h>

/* Returns the process exit code (0 ok, 1 bad input). kb_paths: n_kb
 * knowledge-base files loaded together. The queries file is JSONL
 * ({"q": text, "expect": id or null}) or, when it ends in .tsv, the answers
 * table of tests/data ("question<TAB>id|handoff"; person and emergency rows
 * are skipped: they are triage's, not the search's). verbose lists every
 * miss. threshold < 0 keeps the engine default. */
int eval_run(const char *const *kb_paths, int n_kb, const char *queries_path, double threshold,
	     int verbose, FILE *out);

#endif
