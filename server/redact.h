/* redact: masks what identifies a patient in text bound for logs, analytics,
 * the unanswered inbox and webhook bodies. The conversation itself keeps the
 * original: staff must read it. Pure functions, no state, no I/O.
 *
 * Each match is replaced, whole, by a tag:
 *   [email]   jane.doe@example.com, josé@correo.mx
 *   [phone]   (555) 010-2400, 555-010-2400, 555.010.2400, 555 010 2400,
 *             +1 555 010 2400, 1-800-555-0100, 5550102400, 010-2400
 *   [ssn]     123-45-6789, 123 45 6789; 123456789 within a few words after
 *             "ssn", "social security", "seguro social" (the keyword stays)
 *   [date]    1/2/1980, 01-02-1980, 1.2.80, 1980-01-02, March 3, 1980,
 *             3rd of March 1980, 3 de marzo de 1980; after "born", "DOB",
 *             "date of birth", "nací", "fecha de nacimiento"... also a date
 *             without a year (3/4, March 3, 3 de marzo) (the keyword stays)
 *   [record]  the keyword and the number together: "MRN 1234567",
 *             "medical record number: 12345", "record #12345",
 *             "patient id 12345", "member id ABC123456", "expediente 12345"
 *             (the number: 5 to 32 letters/digits with at least 4 digits)
 *   [number]  any other word with a run of 6 or more digits (insurance and
 *             card numbers), and digit groups like 4111 1111 1111 1111
 * Kept: times (8:00 am), amounts ($25, $250000), short numbers (2 kids,
 * room 12, zip 78701), years alone (in 2024), dates without a year outside a
 * birth context (3/4, March 3), ranges (9-5, 2023-2024), ISO timestamps
 * (2023-11-14T22:13:20Z) and words joined by '_' (machine ids such as the
 * conversation id c_<hex>, so a redacted webhook body keeps its links).
 *
 * Output is always valid UTF-8: an invalid byte (or NUL) becomes '?'. A
 * "\n", "\t" or "\r" escape ends a word, so JSON-encoded text (a logged
 * body) is masked like plain text; better still, redact values before
 * encoding them. Known misses and over-masks: obfuscated addresses ("jane at example dot
 * com"), non-US phone layouts (55 1234 5678), and a 3-4 digit range such as
 * 100-2000 reads as a local phone number. */
#ifndef FD_REDACT_H
#define FD_REDACT_H

#include <stddef.h>

/* Writes the masked form of in[0..len) into out (borrowed, outsz bytes) and
 * returns its length. Always NUL-terminates when outsz > 0; output that does
 * not fit is cut before the first tag or character that would not fit whole,
 * so no multi-byte sequence or tag is ever cut and no unmasked part of a
 * match is ever written. in may be NULL when len is 0. */
size_t redact_text(const char *in, size_t len, char *out, size_t outsz);

/* New string (caller frees): the masked form of the NUL-terminated in,
 * never cut. NULL when in is NULL or memory runs out. */
char *redact_dup(const char *in);

#endif
