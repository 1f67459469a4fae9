/* engine: decides what to do with one patient message.
 *
 *   1. triage: an emergency or a request for a person is never searched.
 *   2. analyse (text.h), correct typos against the knowledge base's own words.
 *   3. FTS5 (entry_fts, one row per entry) ranks the entries that share a
 *      term with the question.
 *   4. Every phrasing of each retrieved entry is scored by IDF-weighted cosine
 *      similarity of term and bigram sets; an entry's score is its best
 *      phrasing's. The cosine is in [0,1] and does not grow with length, so
 *      the confidence means the same for 3 words and 30.
 *   4b. the best few are put in order by the classifier's probability and
 *      the entries' BM25 (all of an entry's phrasings as one text).
 *   5. confidence >= threshold: answer; otherwise a handoff with suggestions.
 *   6. "are you open now / on Saturday / on Christmas?" when the best entry is
 *      an opening-hours one: answered from structured hours (hours.h) at the
 *      actual time in the clinic's time zone.
 *
 * The engine keeps the knowledge base in memory (read-only after build) and
 * owns the FTS5 rows in the store's database. No network code here. */
#ifndef FD_ENGINE_H
#define FD_ENGINE_H

#include <stddef.h>

#include "hours.h"
#include "store.h"
#include "text.h"

#define ENGINE_TOP_K 10
#define ENGINE_DEFAULT_THRESHOLD 0.35

typedef struct engine engine;

/* One knowledge-base entry as the engine holds it (borrowed from the engine,
 * valid until engine_free or engine_reload). */
typedef struct engine_entry {
	const char *id;
	const char *question;
	const char *answer;
	const char *category;
	text_lang lang;
} engine_entry;

typedef enum {
	ENGINE_ANSWER = 0,
	ENGINE_HANDOFF,
	ENGINE_EMERGENCY,
} engine_kind;

typedef enum {
	ENGINE_REASON_NONE = 0,
	ENGINE_REASON_LOW_CONFIDENCE,
	ENGINE_REASON_ASKED_FOR_PERSON,
	ENGINE_REASON_EMERGENCY,
	ENGINE_REASON_REVIEW_DUE,        /* the answer's entry is past its review-by date */
} engine_reason;

typedef struct engine_match {
	const engine_entry *entry;   /* borrowed */
	double score;                /* in [0,1] */
} engine_match;
/* matches[] are best first; the best few are ordered again with the entries'
 * BM25 (engine.c, RERANK_*), so their scores need not be descending. The
 * confidence is the best score among them; an answer's entry (matches[0])
 * always has a score of at least the threshold itself. */

typedef struct engine_decision {
	engine_kind kind;
	engine_reason reason;
	text_lang lang;              /* language to reply in */
	double confidence;           /* in [0,1]; 1 for triage decisions */
	const engine_entry *entry;   /* the answer (ENGINE_ANSWER), else NULL */
	size_t n_matches;            /* ranked candidates, best first */
	engine_match matches[ENGINE_TOP_K];
	const char *triage_pattern;  /* which pattern fired, for tests and logs */
	char text[1024];             /* a generated answer (opening hours at the
				      * asked time); "" means entry->answer */
} engine_decision;

#define ENGINE_MAX_SYNONYMS 500

/* Builds the engine from the store's published entries (and the FTS5 index
 * when the knowledge base changed since it was last built). The store is
 * borrowed and must outlive the engine. *out: engine_free. */
int engine_open(store *st, engine **out, char *err, size_t errsz);
void engine_free(engine *e);

/* Rebuilds from the store after the knowledge base changed. On failure the
 * engine keeps its previous contents. The classifier is trained again only
 * when what it learns from changed (the phrasings, the set of entries, the
 * synonyms): a new answer text keeps it. */
int engine_reload(engine *e, char *err, size_t errsz);

/* How many times a classifier was trained since engine_open (for tests). */
unsigned engine_trainings(const engine *e);

/* Opening hours: the store's "hours" config (see hours.h), applied on the
 * next engine_reload/engine_open; and the wall clock (unix seconds) used to
 * answer "are you open now?", injectable for tests (NULL: the real one). */
void engine_set_clock(engine *e, int64_t (*now_unix)(void));

/* Borrowed: the opening hours (NULL when none are configured), valid until
 * the next engine_reload; and the engine's wall clock, unix seconds. */
const hours_config *engine_hours(const engine *e);
int64_t engine_now(const engine *e);

/* The answer threshold in [0,1]. */
void engine_set_threshold(engine *e, double threshold);
double engine_threshold(const engine *e);

/* Number of entries / the entry with this id (NULL if none). */
size_t engine_entry_count(const engine *e);
const engine_entry *engine_find(const engine *e, const char *id);

/* Decides for text (any bytes, any length). lang_hint < 0: detect.
 * Returns 0, or -1 with err set if the database failed (out is then a
 * low-confidence handoff, so a caller that ignores the error is still safe). */
int engine_decide(engine *e, const char *text, size_t len, int lang_hint,
		  engine_decision *out, char *err, size_t errsz);

/* Names for the JSON protocol. */
const char *engine_kind_name(engine_kind k);
const char *engine_reason_name(engine_reason r);

#endif
