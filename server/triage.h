/* triage: recognises the messages that must never be answered from the
 * knowledge base: emergencies, and requests for a person. Checked before any
 * search. Patterns are short word sequences over folded text (see text.h),
 * matched in order with up to two other words between them, tolerating one
 * typo in longer words ("cant breth", "sucidal", "chokking") unless the word is
 * spelled right (a stop word, a word the knowledge base uses, a common word), in English
 * and Spanish. When in doubt it errs toward the emergency. No I/O. */
#ifndef FD_TRIAGE_H
#define FD_TRIAGE_H

#include <stddef.h>

typedef enum {
	TRIAGE_NONE = 0,
	TRIAGE_PERSON,      /* asks for a human */
	TRIAGE_EMERGENCY,   /* call 911 / 988 first */
} triage_kind;

/* Says whether a folded word is spelled right: a word the knowledge base
 * itself uses, say. Such a word is never taken for a typo of a pattern word
 * ("cooking" is not "choking", "sporting" not "spurting", "arent" not
 * "agent"); stop words of either language always count as spelled right. */
typedef int (*triage_known_fn)(const char *word, void *ctx);

/* Classifies raw patient text (any bytes). known (may be NULL) and ctx are
 * borrowed for the call. If pattern is not NULL it gets the matching pattern
 * (a static string) for logs and tests. Thread-safe. */
triage_kind triage_check(const char *text, size_t len, triage_known_fn known, void *ctx,
			 const char **pattern);

#endif
