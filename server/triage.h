/* triage: recognises the messages that must never be answered from the
 * knowledge base: emergencies, and requests for a person. Checked before any
 * search. Patterns are short word sequences over folded text (see text.h),
 * matched in order with up to two other words between them, tolerating one
 * typo in longer words ("chest pian", "cant breath", "sucidal"), in English
 * and Spanish. When in doubt it errs toward the emergency. No I/O. */
#ifndef FD_TRIAGE_H
#define FD_TRIAGE_H

#include <stddef.h>

typedef enum {
	TRIAGE_NONE = 0,
	TRIAGE_PERSON,      /* asks for a human */
	TRIAGE_EMERGENCY,   /* call 911 / 988 first */
} triage_kind;

/* Classifies raw patient text (any bytes). If pattern is not NULL it gets the
 * matching pattern (a static string) for logs and tests. */
triage_kind triage_check(const char *text, size_t len, const char **pattern);

#endif
