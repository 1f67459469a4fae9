#include <string.h>

#include "harness.h"
#include "text.h"
#include "util.h"

void test_text(void)
{
	text_analyzer *ta = text_analyzer_new();
	text_terms t;
	char buf[512];
	const char *w[16];
	size_t n;

	CASE_BEGIN("text: folds case, accents and apostrophes");
	{
		const char *in = "Can't ÉSTÁ Niño's  x-ray";
		n = text_words(in, strlen(in), buf, sizeof buf, w, 16);
	}
	CHECK(n == 5);
	CHECK(n == 5 && strcmp(w[0], "cant") == 0 && strcmp(w[1], "esta") == 0 &&
	      strcmp(w[2], "ninos") == 0 && strcmp(w[3], "x") == 0 && strcmp(w[4], "ray") == 0);
	CASE_END();

	CASE_BEGIN("text: invalid UTF-8, emoji and FTS5 syntax are separators");
	{
		const char bad[] = "\xC3\x28 hours\xF0\x9F\x98\x80\"*NEAR(open) - AND \xFF";
		n = text_words(bad, sizeof bad - 1, buf, sizeof buf, w, 16);
		CHECK(n == 4); /* hours, near, open, and */
		for (size_t i = 0; i < n; i++)
			for (const char *p = w[i]; *p; p++)
				CHECK((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'));
	}
	CASE_END();

	CASE_BEGIN("text: shorthand expands and stems like the full word");
	{
		text_terms a, b;
		text_analyze(ta, "appt", 4, TEXT_LANG_EN, &a);
		text_analyze(ta, "appointments", 12, TEXT_LANG_EN, &b);
		CHECK(a.n == 1 && b.n == 1 && strcmp(a.term[0], b.term[0]) == 0);
		text_analyze(ta, "rx refill", 9, TEXT_LANG_EN, &a);
		text_analyze(ta, "prescription refills", 20, TEXT_LANG_EN, &b);
		CHECK(a.n == 2 && b.n == 2 && strcmp(a.term[0], b.term[0]) == 0 &&
		      strcmp(a.term[1], b.term[1]) == 0);
	}
	CASE_END();

	CASE_BEGIN("text: stop words dropped, kept when nothing else is left");
	text_analyze(ta, "what are the hours of the clinic", 32, TEXT_LANG_EN, &t);
	CHECK(t.n == 3);
	text_analyze(ta, "where is it", 11, TEXT_LANG_EN, &t);
	CHECK(t.n >= 1);
	CASE_END();

	CASE_BEGIN("text: detects Spanish, defaults to English");
	text_analyze(ta, "¿Cuánto cuesta una consulta?", strlen("¿Cuánto cuesta una consulta?"), -1, &t);
	CHECK(t.lang == TEXT_LANG_ES);
	text_analyze(ta, "how much is a visit", 19, -1, &t);
	CHECK(t.lang == TEXT_LANG_EN);
	text_analyze(ta, "", 0, -1, &t);
	CHECK(t.lang == TEXT_LANG_EN && t.n == 0);
	CASE_END();

	CASE_BEGIN("text: a 5 KB text of one long word is cut, not overflowed");
	{
		static char big[5000];
		memset(big, 'a', sizeof big);
		text_analyze(ta, big, sizeof big, -1, &t);
		CHECK(t.n == 1 && strlen(t.word[0]) == TEXT_MAX_WORD);
		for (size_t i = 0; i < sizeof big; i += 2)
			big[i] = ' ';
		text_analyze(ta, big, sizeof big, -1, &t);
		CHECK(t.n <= TEXT_MAX_WORDS);
	}
	CASE_END();

	CASE_BEGIN("util: UTF-8 validation");
	CHECK(util_utf8_valid("plain", 5));
	CHECK(util_utf8_valid("ni\xC3\xB1o", 5));
	CHECK(!util_utf8_valid("\xC3\x28", 2));
	CHECK(!util_utf8_valid("\xC3", 1));
	CHECK(!util_utf8_valid("\xED\xA0\x80", 3));     /* surrogate */
	CHECK(!util_utf8_valid("\xC0\xAF", 2));         /* overlong */
	CASE_END();

	text_analyzer_free(ta);
}
