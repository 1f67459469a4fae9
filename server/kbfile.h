/* kbfile: the knowledge-base entry and its JSONL file format.
 *
 * One entry per line:
 *   {"id":"hours-weekday","question":"...","alternates":["...",...],
 *    "answer":"...","category":"hours","lang":"en"}
 * id, question and answer are required strings; alternates an array of
 * strings (may be empty); category a string (default "general"); lang "en" or
 * "es" (default "en"); a translation of entry X has the id "X-es", and the
 * engine answers a Spanish question with it. Unknown fields are an error, so a typo in a field name
 * is caught at import instead of silently dropped. */
#ifndef FD_KBFILE_H
#define FD_KBFILE_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#define KB_MAX_ID 128
#define KB_MAX_QUESTION 1000
#define KB_MAX_ANSWER 8000
#define KB_MAX_ALTERNATES 1000

typedef struct kb_entry {
	char *id;
	char *question;
	char *answer;
	char *category;
	char *lang;          /* "en" or "es" */
	char **alternates;
	size_t n_alternates;
} kb_entry;

/* Fills e from a parsed JSON object (borrowed); e owns copies of every string.
 * Returns 0, or -1 with the reason in err. On error e is left empty. */
int kb_entry_from_json(const json_t *obj, kb_entry *e, char *err, size_t errsz);

/* New reference: the entry as a JSON object in the file format. */
json_t *kb_entry_to_json(const kb_entry *e);

/* Frees what e owns and zeroes it. */
void kb_entry_clear(kb_entry *e);

/* A growable list of entries; owns them. */
typedef struct kb_list {
	kb_entry *v;
	size_t n, cap;
} kb_list;

void kb_list_free(kb_list *l);

/* Parses a JSONL file into l (appending). Blank lines are skipped. Every bad
 * line is reported as "FILE:LINE: reason" on report (may be NULL), and
 * duplicate ids within l are errors too. Returns the number of bad lines (0
 * means everything parsed), or -1 if the file could not be read (err says why). */
int kb_parse_file(const char *path, kb_list *l, FILE *report, char *err, size_t errsz);

#endif
