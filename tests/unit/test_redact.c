/* redact: a table of what must be masked and what must stay, in English and
 * Spanish, then hostile input: cut output, invalid UTF-8, very long text,
 * nothing but digits, empty. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "redact.h"
#include "util.h"

void test_redact(void);   /* registered in test_main.c */

static const struct {
	const char *in, *want;
} cases[] = {
	/* e-mail */
	{ "write to jane.doe@example.com please", "write to [email] please" },
	{ "mi correo es juan_perez+citas@correo.com.mx.", "mi correo es [email]." },
	{ "<josé@clínica.mx>", "<[email]>" },
	{ "EMAIL:ANA@EXAMPLE.ORG", "EMAIL:[email]" },
	/* phone */
	{ "call me at (555) 010-2400", "call me at [phone]" },
	{ "call me at 555-010-2400 or 555.010.2400", "call me at [phone] or [phone]" },
	{ "my cell is +1 555 010 2400", "my cell is [phone]" },
	{ "+1 (555) 010-2400, +15550102400", "[phone], [phone]" },
	{ "text 5550102400 tonight", "text [phone] tonight" },
	{ "1-800-555-0100 or 15550102400", "[phone] or [phone]" },
	{ "the clinic line is 010-2400", "the clinic line is [phone]" },
	{ "555-010-2400/555-010-2401", "[phone]/[phone]" },
	{ "{\"text\":\"call\\n555-010-2400\"}", "{\"text\":\"call\\n[phone]\"}" },
	{ "mi teléfono es el 555 010 2400", "mi teléfono es el [phone]" },
	/* SSN */
	{ "SSN 123-45-6789", "SSN [ssn]" },
	{ "it's 123 45 6789", "it's [ssn]" },
	{ "my ssn is 123456789", "my ssn is [ssn]" },
	{ "social security number: 123456789", "social security number: [ssn]" },
	{ "número de seguro social 123456789", "número de seguro social [ssn]" },
	/* dates */
	{ "DOB 1/2/1980", "DOB [date]" },
	{ "born 01-02-1980 in Austin", "born [date] in Austin" },
	{ "date of birth: 1980-01-02.", "date of birth: [date]." },
	{ "born March 3, 1980", "born [date]" },
	{ "I was born on Mar. 3rd 1980", "I was born on [date]" },
	{ "born 3/4/80", "born [date]" },
	{ "born 3/4 at home", "born [date] at home" },
	{ "birthday: March 3", "birthday: [date]" },
	{ "on 3rd of March, 1980 I", "on [date] I" },
	{ "31.12.1999", "[date]" },
	{ "nací el 3 de marzo de 1980", "nací el [date]" },
	{ "fecha de nacimiento: 3 de marzo", "fecha de nacimiento: [date]" },
	{ "nací el 15/08/75", "nací el [date]" },
	/* record numbers */
	{ "MRN 1234567", "[record]" },
	{ "medical record number: 12345", "[record]" },
	{ "my record #12345 is wrong", "my [record] is wrong" },
	{ "patient id 12345", "[record]" },
	{ "Member ID ABC123456.", "[record]." },
	{ "my chart number is 98765", "my [record]" },
	{ "expediente 12345", "[record]" },
	{ "mi número de expediente es 12345", "mi número de [record]" },
	{ "póliza no. AB-77881", "[record]" },
	/* long digit runs */
	{ "insurance card 4111 1111 1111 1111", "insurance card [number]" },
	{ "card 4111-1111-1111-1111 exp", "card [number] exp" },
	{ "my number is W123456789", "my number is [number]" },
	{ "tarjeta 12345678", "tarjeta [number]" },
	{ "9876543210123", "[number]" },
	{ "ref 123456789", "ref [number]" },
	/* must stay */
	{ "we open at 8:00 am", "we open at 8:00 am" },
	{ "a visit is $25, or $250000 for the wing", "a visit is $25, or $250000 for the wing" },
	{ "I have 2 kids, room 12", "I have 2 kids, room 12" },
	{ "in 2024 we moved; 2023-2024 season", "in 2024 we moved; 2023-2024 season" },
	{ "open 9-5, 24/7, take 1/2 tablet", "open 9-5, 24/7, take 1/2 tablet" },
	{ "my appointment is March 3 at 10:30", "my appointment is March 3 at 10:30" },
	{ "zip 78701, suite 300", "zip 78701, suite 300" },
	{ "I need my records from 2019", "I need my records from 2019" },
	{ "may I come in March 2024?", "may I come in March 2024?" },
	{ "tengo 2 hijos y la cita es a las 8:00", "tengo 2 hijos y la cita es a las 8:00" },
	{ "abrimos el 3 de marzo, cuesta $25", "abrimos el 3 de marzo, cuesta $25" },
	{ "el seguro cubre 80% y el copago es 20", "el seguro cubre 80% y el copago es 20" },
	{ "take 3.5 mg twice; policy 12", "take 3.5 mg twice; policy 12" },
	{ "la cuenta es de 12345 pesos", "la cuenta es de 12345 pesos" },
	{ "I was born in 1980, deductible $500-1000", "I was born in 1980, deductible $500-1000" },
	{ "chat c_0123456789abcdef0123456789abcdef queued 2023-11-14T22:13:20Z",
	  "chat c_0123456789abcdef0123456789abcdef queued 2023-11-14T22:13:20Z" },
	{ "email me, @clinic, a@b", "email me, @clinic, a@b" },
	{ "¿Cuánto cuesta una consulta? ñandú", "¿Cuánto cuesta una consulta? ñandú" },
	{ "", "" },
};

/* 1 when s holds no digit: no part of a number leaked. */
static int no_digits(const char *s)
{
	for (; *s; s++)
		if (*s >= '0' && *s <= '9')
			return 0;
	return 1;
}

static void test_table(void)
{
	CASE_BEGIN("redact: the table of must-mask and must-keep");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[512];
		char *dup = redact_dup(cases[i].in);
		size_t n = redact_text(cases[i].in, strlen(cases[i].in), out, sizeof out);
		CHECKF(strcmp(out, cases[i].want) == 0, "\"%s\" -> \"%s\", want \"%s\"", cases[i].in, out,
		       cases[i].want);
		CHECK(n == strlen(out));
		CHECKF(dup && strcmp(dup, out) == 0, "dup of \"%s\" is \"%s\"", cases[i].in, dup ? dup : "(null)");
		free(dup);
	}
	CHECK(sizeof cases / sizeof cases[0] >= 40);
	CASE_END();
}

static void test_cut(void)
{
	CASE_BEGIN("redact: a cut output keeps tags and characters whole");
	{
		const char *in = "niño 555-010-2400 ñ";
		char out[32];
		size_t n;
		/* "niño " is 6 bytes; "[phone]" would need 7 more */
		n = redact_text(in, strlen(in), out, 12);
		CHECK(n == 6 && strcmp(out, "niño ") == 0);
		CHECK(no_digits(out));
		/* room for "ni" and one byte of "ñ": the ñ is dropped, not cut */
		n = redact_text(in, strlen(in), out, 4);
		CHECK(n == 2 && strcmp(out, "ni") == 0);
		n = redact_text(in, strlen(in), out, 1);
		CHECK(n == 0 && out[0] == '\0');
		CHECK(redact_text(in, strlen(in), out, 0) == 0);
		CHECK(redact_text(in, strlen(in), NULL, 0) == 0);
		/* every size: valid UTF-8, NUL-terminated, never a digit of the phone */
		for (size_t sz = 1; sz <= sizeof out; sz++) {
			memset(out, 'X', sizeof out);
			n = redact_text(in, strlen(in), out, sz);
			CHECK(n < sz && out[n] == '\0' && strlen(out) == n);
			CHECK(util_utf8_valid(out, n));
			CHECK(no_digits(out));
		}
		/* only len bytes are read: the phone past len is not seen */
		n = redact_text("call 555-010-2400", 4, out, sizeof out);
		CHECK(n == 4 && strcmp(out, "call") == 0);
	}
	CASE_END();
}

static void test_hostile(void)
{
	CASE_BEGIN("redact: invalid UTF-8 and NULs become '?', valid text is kept");
	{
		const char bad[] = "a\xC3\x28 \xFF\xED\xA0\x80 \xF0\x9F\x98\x80 \xC0\xAF\x00z \xE2\x82";
		char out[128];
		size_t n = redact_text(bad, sizeof bad - 1, out, sizeof out);
		CHECK(util_utf8_valid(out, n));
		CHECKF(strcmp(out, "a?( ???? \xF0\x9F\x98\x80 ???z ??") == 0, "got \"%s\"", out);
		/* a phone number right after garbage is still masked */
		n = redact_text("\xFF 555-010-2400", 14, out, sizeof out);
		CHECK(strcmp(out, "? [phone]") == 0);
	}
	CASE_END();

	CASE_BEGIN("redact: empty and NULL input");
	{
		char out[8] = "junk";
		CHECK(redact_text("", 0, out, sizeof out) == 0 && out[0] == '\0');
		strcpy(out, "junk");
		CHECK(redact_text(NULL, 0, out, sizeof out) == 0 && out[0] == '\0');
		CHECK(redact_dup(NULL) == NULL);
	}
	CASE_END();

	CASE_BEGIN("redact: all digits, and digits with separators");
	{
		static char big[100001];
		char out[64];
		char *dup;
		memset(big, '7', sizeof big - 1);
		dup = redact_dup(big);
		CHECK(dup && strcmp(dup, "[number]") == 0);
		free(dup);
		for (size_t i = 1; i < sizeof big - 1; i += 2)
			big[i] = '-';              /* 7-7-7-7...: no date, phone or number */
		dup = redact_dup(big);
		CHECK(dup && strcmp(dup, big) == 0);
		free(dup);
		for (size_t i = 0; i < sizeof big - 1; i++)
			big[i] = i % 4 == 3 ? ' ' : '1';   /* 111 111 111 ...: card-like groups */
		dup = redact_dup(big);
		CHECK(dup && no_digits(dup));
		free(dup);
		CHECK(redact_text("0123456789", 10, out, sizeof out) == 7 && strcmp(out, "[phone]") == 0);
	}
	CASE_END();

	CASE_BEGIN("redact: a megabyte of mixed text, linear and complete");
	{
		static const char unit[] = "hi jane.doe@example.com (555) 010-2400 born 3/4/80 "
					   "MRN 1234567 at 8:00 am, a.a.a.a.a.a.a.a.a.a.a.a.a ";
		size_t ul = sizeof unit - 1, reps = (1u << 20) / ul, len = reps * ul;
		char *big = malloc(len + 1), *dup;
		size_t count = 0;
		CHECK(big != NULL);
		if (big) {
			for (size_t r = 0; r < reps; r++)
				memcpy(big + r * ul, unit, ul);
			big[len] = '\0';
			dup = redact_dup(big);
			CHECK(dup != NULL);
			if (dup) {
				CHECK(strstr(dup, "example") == NULL && strstr(dup, "010") == NULL &&
				      strstr(dup, "1234567") == NULL && strstr(dup, "3/4") == NULL);
				for (const char *p = dup; (p = strstr(p, "[phone]")); p++)
					count++;
				CHECK(count == reps);
				CHECK(strstr(dup, "8:00 am") != NULL);
			}
			free(dup);
			/* an e-mail-looking run without an '@' */
			memset(big, 'a', len);
			for (size_t i = 1; i < len; i += 2)
				big[i] = '.';
			dup = redact_dup(big);
			CHECK(dup && strcmp(dup, big) == 0);
			free(dup);
		}
		free(big);
	}
	CASE_END();
}

void test_redact(void)
{
	test_table();
	test_cut();
	test_hostile();
}
