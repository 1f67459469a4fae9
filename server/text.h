/* text: turns what a patient typed into the terms the answer engine matches.
 *
 * The same pipeline runs on knowledge-base phrasings at import and on patient
 * text at question time, so both sides always agree:
 *   UTF-8 decode -> lowercase, accents folded to ASCII (é -> e, ñ -> n),
 *   apostrophes joined ("can't" -> "cant") -> split on anything else ->
 *   shorthand expanded ("appt" -> "appointment") -> stop words dropped ->
 *   Snowball stem (English or Spanish, libstemmer).
 * Invalid UTF-8 bytes, emoji and symbols are separators; nothing here fails on
 * any input. Terms are plain [a-z0-9] strings, safe to quote into FTS5. */
#ifndef FD_TEXT_H
#define FD_TEXT_H

#include <stddef.h>

#define TEXT_MAX_WORDS 96     /* words kept from one text; the rest is ignored */
#define TEXT_MAX_WORD 40      /* longer words are cut to this many bytes */

typedef enum { TEXT_LANG_EN = 0, TEXT_LANG_ES = 1 } text_lang;

/* One analysed text. Owned by the caller (usually on the stack); the strings
 * point into its own storage, valid until it is reused. */
typedef struct text_terms {
	size_t n;                          /* number of terms */
	const char *term[TEXT_MAX_WORDS];  /* stemmed terms, in text order */
	const char *word[TEXT_MAX_WORDS];  /* the folded word each came from */
	text_lang lang;                    /* detected (or given) language */
	char store[TEXT_MAX_WORDS * (TEXT_MAX_WORD + 1) * 2];
} text_terms;

typedef struct text_analyzer text_analyzer;

/* New analyzer (owns two Snowball stemmers); NULL on out of memory.
 * Not thread-safe: one per thread. */
text_analyzer *text_analyzer_new(void);
void text_analyzer_free(text_analyzer *ta);

/* A clinic's own synonyms, replacing any set before: each from[i] (one
 * word) is read as to[i] (one or more words) before stemming, in English
 * and Spanish ("appt" -> "appointment", "pap" -> "pap smear"). Strings are
 * copied. Returns 0, or -1 on out of memory (then none are set). */
int text_set_synonyms(text_analyzer *ta, const char *const *from, const char *const *to, size_t n);

/* Splits and folds s into words without stemming or stop-word removal.
 * words[] point into buf. Returns the number of words (<= max). */
size_t text_words(const char *s, size_t len, char *buf, size_t bufsize,
		  const char **words, size_t max);

/* Guesses English or Spanish from folded words and the raw text (ñ, ¿, ¡,
 * accented vowels count for Spanish). English when unsure. */
text_lang text_detect_lang(const char *raw, size_t rawlen,
			   const char *const *words, size_t n);

/* Full pipeline into out. lang < 0 means detect. Stop words are kept when the
 * text has nothing else, so "where?" still means something. */
void text_analyze(text_analyzer *ta, const char *s, size_t len, int lang,
		  text_terms *out);

/* The same pipeline keeping stop words: "what is my" and "how do i" tell
 * intents apart even though they say nothing about the topic. */
void text_analyze_all(text_analyzer *ta, const char *s, size_t len, int lang,
		      text_terms *out);

/* 1 if a[0..la) and b[0..lb) are at most one edit apart (insertion,
 * deletion, substitution or swap of neighbours), in time linear in length. */
int text_edit1(const char *a, size_t la, const char *b, size_t lb);

/* 1 if the folded word is a stop word in lang. */
int text_is_stopword(const char *word, text_lang lang);

#endif
