/* redact: see redact.h.
 *
 * A hand-rolled scanner, not POSIX <regex.h>: the rules need context a regex
 * says badly (a keyword a few words back turns nine digits into an SSN or
 * "3/4" into a birth date), checks on the numbers (a month is 1..12), UTF-8
 * aware word edges, and a bound on the work per byte on hostile input.
 *
 * The scan walks the text once. At the start of each word (the byte before
 * is not a letter, digit, '_' or non-ASCII byte, or ends a \n \t \r escape)
 * it tries the matchers in order; the first that matches replaces the whole
 * match with its tag and the scan resumes after it. Otherwise one character is copied. Every
 * matcher looks a bounded distance ahead, except the digit-run rule, which
 * reads one word and is tried only at that word's start, so the scan is
 * linear in the input. */
#include "redact.h"

#include <stdlib.h>
#include <string.h>

typedef unsigned char uchar;

#define WINDOW 40        /* bytes after "ssn"/"born" that are in their context */
#define MAX_BLANKS 8     /* blanks between the words of one pattern */
#define MAX_LOCAL 64     /* e-mail local part (RFC 5321) */
#define MAX_DOMAIN 253
#define MAX_RECORD 32    /* letters and digits of a record number */
#define MAX_GROUPS 8     /* digit groups of one card-like number */

/* Where the output goes. Pieces (a tag, one character) are written whole or
 * not at all; after the first that does not fit nothing more is written, so
 * the output is always a prefix of the full result. */
typedef struct sink {
	char *out;
	size_t cap;              /* bytes for text (the NUL excluded) */
	size_t used;
	size_t need;             /* length of the full result */
	int full;
} sink;

static void put(sink *k, const char *p, size_t n)
{
	k->need += n;
	if (k->full)
		return;
	if (n > k->cap - k->used) {
		k->full = 1;
		return;
	}
	memcpy(k->out + k->used, p, n);
	k->used += n;
}

/* ---- characters */

static int is_digit(uchar c) { return c >= '0' && c <= '9'; }
static int is_alpha(uchar c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_alnum(uchar c) { return is_digit(c) || is_alpha(c); }
/* Part of a word: ASCII letters and digits, '_', and any non-ASCII byte
 * (letters such as ñ or é; an invalid byte counts too, erring on "inside"). */
static int is_word(uchar c) { return is_alnum(c) || c == '_' || c >= 0x80; }
static int is_blank(uchar c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static uchar lower(uchar c) { return c >= 'A' && c <= 'Z' ? (uchar)(c + ('a' - 'A')) : c; }

/* Length of the valid UTF-8 sequence at s[i] (no overlongs, surrogates or
 * code points past U+10FFFF), or 0. */
static size_t utf8_len(const uchar *s, size_t n, size_t i)
{
	uchar c = s[i], lo = 0x80, hi = 0xBF;
	size_t len;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		lo = c == 0xE0 ? 0xA0 : 0x80;
		hi = c == 0xED ? 0x9F : 0xBF;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		lo = c == 0xF0 ? 0x90 : 0x80;
		hi = c == 0xF4 ? 0x8F : 0xBF;
	} else {
		return 0;
	}
	if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
		return 0;
	for (size_t k = 2; k < len; k++)
		if (s[i + k] < 0x80 || s[i + k] > 0xBF)
			return 0;
	return len;
}

/* The number of digits at s[i], counting at most max + 1 (so "== max" means
 * exactly max). */
static size_t ndigits(const uchar *s, size_t n, size_t i, size_t max)
{
	size_t k = 0;
	while (i + k < n && k <= max && is_digit(s[i + k]))
		k++;
	return k;
}

static int value(const uchar *s, size_t i, size_t len)
{
	int v = 0;
	while (len--)
		v = v * 10 + (s[i++] - '0');
	return v;
}

/* 1 if a match may end at e: what follows does not continue a word. */
static int ends(const uchar *s, size_t n, size_t e)
{
	return e >= n || !is_word(s[e]);
}

static size_t skip_blanks(const uchar *s, size_t n, size_t i)
{
	for (size_t k = 0; i < n && k < MAX_BLANKS && is_blank(s[i]); k++)
		i++;
	return i;
}

/* Blanks and the punctuation between a keyword and its number. */
static size_t skip_seps(const uchar *s, size_t n, size_t i)
{
	for (size_t k = 0; i < n && k < MAX_BLANKS &&
	     (is_blank(s[i]) || (s[i] && strchr(":#=-.", s[i]))); k++)
		i++;
	return i;
}

/* ---- keywords */

/* End of phrase (lower case; a space matches 1..MAX_BLANKS blanks) at s[i],
 * or 0. A phrase that ends in a word byte must end a word there. Non-ASCII
 * letters compare as bytes: "nací" matches, "NACÍ" does not. */
static size_t phrase_at(const uchar *s, size_t n, size_t i, const char *phrase)
{
	const uchar *q = (const uchar *)phrase;
	for (; *q; q++) {
		if (*q == ' ') {
			size_t j = skip_blanks(s, n, i);
			if (j == i)
				return 0;
			i = j;
		} else if (i < n && lower(s[i]) == *q) {
			i++;
		} else {
			return 0;
		}
	}
	if (is_word(q[-1]) && !ends(s, n, i))
		return 0;
	return i;
}

/* End of the longest phrase of list (NULL-terminated) at s[i], or 0. */
static size_t list_at(const uchar *s, size_t n, size_t i, const char *const *list)
{
	size_t best = 0, e;
	for (; *list; list++)
		if ((e = phrase_at(s, n, i, *list)) > best)
			best = e;
	return best;
}

/* They open a birth-date context: a date without a year after them is masked. */
static const char *const dob_words[] = {
	"born", "dob", "d.o.b", "date of birth", "birth date", "birthdate", "birthday", "bday",
	"b-day", "nací", "naci", "nació", "nacio", "nacido", "nacida", "nacimiento",
	"cumpleaños", "cumpleanos", NULL
};

/* They open an SSN context: nine digits in a row after them are an SSN. */
static const char *const ssn_words[] = {
	"ssn", "ss", "social security", "seguro social", NULL
};

/* Record keywords; the whole "keyword [fillers] number" is masked. */
static const char *const record_words[] = {
	"mrn", "medical record", "record", "chart", "patient", "member", "subscriber",
	"policy", "insurance", "account", "acct", "expediente", "historia clinica",
	"historia clínica", "paciente", "afiliado", "afiliacion", "afiliación", "poliza",
	"póliza", "folio", "registro", NULL
};

/* Words between a record keyword and its number: "patient id is 12345". */
static const char *const fillers[] = {
	"id", "number", "num", "no", "nro", "is", "was", "es", "era", "de", "del", "numero",
	"número", "medico", "médico", NULL
};

static const char *const months[] = {
	"january", "february", "march", "april", "may", "june", "july", "august", "september",
	"october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
	"sep", "sept", "oct", "nov", "dec",
	"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
	"setiembre", "octubre", "noviembre", "diciembre", "ene", "abr", "ago", "dic", NULL
};

/* Between a day and its month or year: "3rd of March", "3 de marzo de 1980". */
static const char *const of_words[] = { "of ", "de ", "del ", NULL };

/* ---- matchers: each returns the end of its match at s[i], or 0 */

static int is_local(uchar c)
{
	return is_alnum(c) || c >= 0x80 || c == '.' || c == '_' || c == '%' || c == '+' ||
	       c == '-';
}

static int is_domain(uchar c)
{
	return is_alnum(c) || c >= 0x80 || c == '.' || c == '-';
}

/* local@domain.tld, the TLD two or more letters. A trailing full stop or
 * dash is left to the sentence. */
static size_t email_at(const uchar *s, size_t n, size_t i)
{
	size_t p = i, at, dot = 0;
	if (!is_alnum(s[i]) && s[i] < 0x80)
		return 0;
	while (p < n && p - i <= MAX_LOCAL && is_local(s[p]))
		p++;
	if (p >= n || s[p] != '@' || p - i > MAX_LOCAL)
		return 0;
	at = p++;
	while (p < n && p - at <= MAX_DOMAIN && is_domain(s[p]))
		p++;
	while (p > at + 1 && (s[p - 1] == '.' || s[p - 1] == '-'))
		p--;
	for (size_t e = p; e > at + 1; e--)
		if (s[e - 1] == '.') {
			dot = e - 1;
			break;
		}
	if (dot <= at + 1 || p - dot - 1 < 2)
		return 0;
	for (size_t t = dot + 1; t < p; t++)
		if (!is_alpha(s[t]) && s[t] < 0x80)
			return 0;
	return p;
}

/* keyword [separators and fillers] number: "MRN 1234567",
 * "medical record number: 12345", "member id ABC123456". The number has
 * 5..MAX_RECORD letters and digits (inner dashes allowed), 4+ of them
 * digits, so "record 2024" and "policy 12" stay. */
static size_t record_at(const uchar *s, size_t n, size_t i)
{
	size_t p = list_at(s, n, i, record_words), q, len = 0, dig = 0;
	if (!p)
		return 0;
	for (int k = 0; k < 4; k++) {
		p = skip_seps(s, n, p);
		if (!(q = list_at(s, n, p, fillers)))
			break;
		p = q;
	}
	for (q = p; q < n && len <= MAX_RECORD; q++) {
		if (is_alnum(s[q])) {
			len++;
			dig += is_digit(s[q]);
		} else if (!(s[q] == '-' && q > p && q + 1 < n && is_alnum(s[q + 1]))) {
			break;
		}
	}
	if (len < 5 || len > MAX_RECORD || dig < 4 || !ends(s, n, q))
		return 0;
	return q;
}

static size_t month_at(const uchar *s, size_t n, size_t i)
{
	size_t e = list_at(s, n, i, months);
	if (e && e < n && s[e] == '.')
		e++;
	return e;
}

/* A day 1..31 with an optional ordinal: 3, 03, 3rd, 21st, 3º. */
static size_t day_at(const uchar *s, size_t n, size_t i)
{
	size_t d = ndigits(s, n, i, 2), p;
	int v;
	if (d < 1 || d > 2)
		return 0;
	v = value(s, i, d);
	if (v < 1 || v > 31)
		return 0;
	p = i + d;
	if (p + 1 < n) {
		uchar a = lower(s[p]), b = lower(s[p + 1]);
		if ((a == 's' && b == 't') || (a == 'n' && b == 'd') || (a == 'r' && b == 'd') ||
		    (a == 't' && b == 'h') || (s[p] == 0xC2 && (s[p + 1] == 0xBA || s[p + 1] == 0xB0)))
			p += 2;
	}
	return ends(s, n, p) ? p : 0;
}

static size_t year_at(const uchar *s, size_t n, size_t i)
{
	return ndigits(s, n, i, 4) == 4 && ends(s, n, i + 4) ? i + 4 : 0;
}

/* After a date's day and month ending at p: ", 1980", " of 1980", " de 1980".
 * The end of the year; without one, p in a birth context ("March 3"), else 0. */
static size_t year_after(const uchar *s, size_t n, size_t p, int dob)
{
	size_t q, y, end = p;
	if (p < n && s[p] == ',')
		p++;
	p = skip_blanks(s, n, p);
	if ((q = list_at(s, n, p, of_words)))
		p = q;
	if ((y = year_at(s, n, p)))
		return y;
	return dob ? end : 0;
}

/* At a month name: "March 3, 1980", "Mar. 3rd 1980", "marzo 3 de 1980"; in
 * a birth context also "March 3" and "March 1980". */
static size_t mdate_at(const uchar *s, size_t n, size_t i, int dob)
{
	size_t m = month_at(s, n, i), p, d;
	if (!m)
		return 0;
	p = skip_blanks(s, n, m);
	if ((d = day_at(s, n, p)))
		return year_after(s, n, d, dob);
	return dob ? year_at(s, n, p) : 0;
}

/* At a day: "3 March 1980", "3rd of March, 1980", "3 de marzo de 1980"; in
 * a birth context also "3 March", "3 de marzo". */
static size_t ddate_at(const uchar *s, size_t n, size_t i, int dob)
{
	size_t d = day_at(s, n, i), p, m, q;
	if (!d)
		return 0;
	p = skip_blanks(s, n, d);
	if ((q = list_at(s, n, p, of_words)))
		p = q;
	if (!(m = month_at(s, n, p)))
		return 0;
	return year_after(s, n, m, dob);
}

static int dm_ok(int a, int b)
{
	return a >= 1 && b >= 1 && a <= 31 && b <= 31 && (a <= 12 || b <= 12);
}

static int is_dsep(uchar c)
{
	return c == '/' || c == '-' || c == '.';
}

/* Numeric dates, the same separator (/ - .) twice: 1980-01-02, 1/2/1980,
 * 01-02-80 (day and month either way round); in a birth context also 3/4
 * or 3-4 without a year. */
static size_t numdate_at(const uchar *s, size_t n, size_t i, int dob)
{
	size_t a = ndigits(s, n, i, 4), b, c, p;
	uchar sep;
	if (a == 4) {
		int mo, dy;
		p = i + 4;
		if (p >= n || !is_dsep(sep = s[p]))
			return 0;
		b = ndigits(s, n, ++p, 2);
		if (b < 1 || b > 2 || p + b >= n || s[p + b] != sep)
			return 0;
		c = ndigits(s, n, p + b + 1, 2);
		if (c < 1 || c > 2 || !ends(s, n, p + b + 1 + c))
			return 0;
		mo = value(s, p, b);
		dy = value(s, p + b + 1, c);
		return mo >= 1 && mo <= 12 && dy >= 1 && dy <= 31 ? p + b + 1 + c : 0;
	}
	if (a < 1 || a > 2)
		return 0;
	p = i + a;
	if (p >= n || !is_dsep(sep = s[p]))
		return 0;
	b = ndigits(s, n, ++p, 2);
	if (b < 1 || b > 2 || !dm_ok(value(s, i, a), value(s, p, b)))
		return 0;
	p += b;
	if (p + 1 < n && s[p] == sep && is_digit(s[p + 1])) {
		c = ndigits(s, n, p + 1, 4);
		return (c == 2 || c == 4) && ends(s, n, p + 1 + c) ? p + 1 + c : 0;
	}
	return dob && sep != '.' && ends(s, n, p) ? p : 0;
}

/* 123-45-6789, 123 45 6789; in an SSN context also 123456789. */
static size_t ssn_at(const uchar *s, size_t n, size_t i, int ctx)
{
	if (ndigits(s, n, i, 3) == 3 && i + 3 < n && (s[i + 3] == '-' || s[i + 3] == ' ') &&
	    ndigits(s, n, i + 4, 2) == 2 && i + 6 < n && s[i + 6] == s[i + 3] &&
	    ndigits(s, n, i + 7, 4) == 4 && ends(s, n, i + 11))
		return i + 11;
	if (ctx && ndigits(s, n, i, 9) == 9 && ends(s, n, i + 9))
		return i + 9;
	return 0;
}

static int is_psep(uchar c)
{
	return c == ' ' || c == '-' || c == '.';
}

/* A ten-digit North American number at s[p]: (555) 010-2400,
 * (555)010-2400, 555-010-2400, 555.010.2400, 555 010 2400, 5550102400. */
static size_t nanp_at(const uchar *s, size_t n, size_t p)
{
	size_t q;
	if (p < n && s[p] == '(') {
		if (ndigits(s, n, p + 1, 3) != 3 || p + 4 >= n || s[p + 4] != ')')
			return 0;
		q = p + 5;
		if (q < n && is_psep(s[q]))
			q++;
	} else {
		if (ndigits(s, n, p, 10) == 10)
			return ends(s, n, p + 10) ? p + 10 : 0;
		if (ndigits(s, n, p, 3) != 3 || p + 3 >= n || !is_psep(s[p + 3]))
			return 0;
		q = p + 4;
	}
	if (ndigits(s, n, q, 3) != 3 || q + 3 >= n || !is_psep(s[q + 3]))
		return 0;
	q += 4;
	return ndigits(s, n, q, 4) == 4 && ends(s, n, q + 4) ? q + 4 : 0;
}

/* A phone number: the ten-digit forms, with +1 or 1 in front (+1 555 010
 * 2400, +15550102400, 1-800-555-0100, 15550102400), and the seven-digit
 * 010-2400 or 010.2400 (not after '$': "$500-1000" is an amount). */
static size_t phone_at(const uchar *s, size_t n, size_t i)
{
	size_t e;
	if (s[i] == '+') {
		size_t p = i + 2;
		if (i + 1 >= n || s[i + 1] != '1')
			return 0;
		if (p < n && is_psep(s[p]))
			p++;
		return nanp_at(s, n, p);
	}
	if ((e = nanp_at(s, n, i)))
		return e;
	if (s[i] == '1') {
		if (ndigits(s, n, i, 11) == 11 && ends(s, n, i + 11))
			return i + 11;
		if (i + 1 < n && is_psep(s[i + 1]) && (e = nanp_at(s, n, i + 2)))
			return e;
	}
	if ((i == 0 || s[i - 1] != '$') && ndigits(s, n, i, 3) == 3 && i + 3 < n &&
	    (s[i + 3] == '-' || s[i + 3] == '.') && ndigits(s, n, i + 4, 4) == 4 && ends(s, n, i + 8))
		return i + 8;
	return 0;
}

/* Card-like numbers: 3+ groups of 3..6 digits, one kind of separator (space
 * or dash), 12+ digits in all: 4111 1111 1111 1111, 3782-822463-10005. */
static size_t groups_at(const uchar *s, size_t n, size_t i)
{
	size_t p = i, end = 0, total = 0, groups = 0, g;
	uchar sep = 0;
	while (groups < MAX_GROUPS) {
		g = ndigits(s, n, p, 6);
		if (g < 3 || g > 6)
			break;
		total += g;
		groups++;
		p += g;
		end = p;
		if (p + 1 < n && (s[p] == ' ' || s[p] == '-') && (!sep || s[p] == sep) &&
		    is_digit(s[p + 1]))
			sep = s[p++];
		else
			break;
	}
	return groups >= 3 && total >= 12 && ends(s, n, end) ? end : 0;
}

/* A word with a run of 6+ digits (insurance, card, account numbers, with or
 * without letters: 12345678, W123456789). Not an amount ("$250000"), and not
 * a word joined by '_': those are machine ids (c_<hex>), left whole. */
static size_t number_at(const uchar *s, size_t n, size_t i)
{
	size_t p = i, run = 0, best = 0;
	if (i > 0 && s[i - 1] == '$')
		return 0;
	while (p < n && is_word(s[p]) && s[p] != '_') {
		run = is_digit(s[p]) ? run + 1 : 0;
		if (run > best)
			best = run;
		p++;
	}
	if (p < n && s[p] == '_')
		return 0;
	return best >= 6 ? p : 0;
}

/* ---- the scan */

/* Copies the character at s[i] (an invalid byte or a NUL as '?'); returns
 * the bytes it took. */
static size_t copy_char(const uchar *s, size_t n, size_t i, sink *k)
{
	size_t len = utf8_len(s, n, i);
	if (len == 0 || s[i] == '\0') {
		put(k, "?", 1);
		return 1;
	}
	put(k, (const char *)s + i, len);
	return len;
}

/* 1 if a word may start at s[i]: the byte before does not continue one, or
 * it ends a JSON/C escape ("call\\n555..." in a logged JSON string). */
static int word_start(const uchar *s, size_t i)
{
	if (i == 0 || !is_word(s[i - 1]))
		return 1;
	return i >= 2 && s[i - 2] == '\\' && (s[i - 1] == 'n' || s[i - 1] == 't' || s[i - 1] == 'r');
}

static void scan(const uchar *s, size_t n, sink *k)
{
	size_t i = 0, e, dob_until = 0, ssn_until = 0;

	while (i < n) {
		uchar c = s[i];
		const char *tag = NULL;
		if (word_start(s, i)) {
			int dob = i < dob_until, ssn = i < ssn_until;
			e = 0;
			if (is_word(c) && (e = email_at(s, n, i)))
				tag = "[email]";
			else if (is_alpha(c) && (e = record_at(s, n, i)))
				tag = "[record]";
			else if (is_alpha(c) && (e = mdate_at(s, n, i, dob)))
				tag = "[date]";
			else if (is_digit(c) && ((e = numdate_at(s, n, i, dob)) || (e = ddate_at(s, n, i, dob))))
				tag = "[date]";
			else if (is_digit(c) && (e = ssn_at(s, n, i, ssn)))
				tag = "[ssn]";
			else if ((is_digit(c) || c == '(' || c == '+') && (e = phone_at(s, n, i)))
				tag = "[phone]";
			else if (is_digit(c) && (e = groups_at(s, n, i)))
				tag = "[number]";
			else if (is_word(c) && (e = number_at(s, n, i)))
				tag = "[number]";
			if (tag) {
				put(k, tag, strlen(tag));
				i = e;
				continue;
			}
			if (is_alpha(c)) {
				if ((e = list_at(s, n, i, dob_words)))
					dob_until = e + WINDOW;
				if ((e = list_at(s, n, i, ssn_words)))
					ssn_until = e + WINDOW;
			}
		}
		i += copy_char(s, n, i, k);
	}
}

size_t redact_text(const char *in, size_t len, char *out, size_t outsz)
{
	sink k = { out, 0, 0, 0, 0 };
	if (!out || outsz == 0)
		return 0;
	k.cap = outsz - 1;
	if (in)
		scan((const uchar *)in, len, &k);
	out[k.used] = '\0';
	return k.used;
}

char *redact_dup(const char *in)
{
	sink k = { NULL, 0, 0, 0, 0 };
	size_t len, need;
	char *out;

	if (!in)
		return NULL;
	len = strlen(in);
	scan((const uchar *)in, len, &k);      /* measure */
	need = k.need;
	if (!(out = malloc(need + 1)))
		return NULL;
	k = (sink){ out, need, 0, 0, 0 };
	scan((const uchar *)in, len, &k);
	out[k.used] = '\0';
	return out;
}
