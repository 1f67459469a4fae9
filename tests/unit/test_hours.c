/* Tests of server/hours.c against kb/hours.json with the clock injected.
 * Every time below is a unix time for a America/Chicago wall-clock time,
 * computed with `TZ=America/Chicago date -d '2026-03-11 09:00' +%s`; the
 * answers' own "It's Wednesday 9:00 am" checks that the conversion agrees. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hours.h"
#include "kbfile.h"
#include "text.h"
#include "util.h"

#define T_WED_0900      1773237600LL /* 2026-03-11 09:00 CDT */
#define T_WED_2100      1773280800LL /* 2026-03-11 21:00 CDT */
#define T_TUE_1830      1773185400LL /* 2026-03-10 18:30 CDT */
#define T_SAT_1000      1773500400LL /* 2026-03-14 10:00 CDT */
#define T_SUN_1100      1773590400LL /* 2026-03-15 11:00 CDT */
#define T_MON_0830_DST  1773063000LL /* 2026-03-09 08:30 CDT, first weekday of DST (13:30Z) */
#define T_MON_0730_STD  1793626200LL /* 2026-11-02 07:30 CST, first weekday after DST (13:30Z) */
#define T_XMAS_1000     1798214400LL /* 2026-12-25 10:00 CST, Friday */
#define T_XMAS_EVE_1000 1798128000LL /* 2026-12-24 10:00 CST, Thursday */
#define T_XMAS_EVE_1500 1798146000LL /* 2026-12-24 15:00 CST */
#define T_THANKS_0900   1795705200LL /* 2026-11-26 09:00 CST, Thanksgiving */
#define T_OCT_1200      1792083600LL /* 2026-10-15 12:00 CDT, Thursday */

static hours_config *load_default(void)
{
	json_error_t je;
	char err[256];
	json_t *j = json_load_file("kb/hours.json", JSON_REJECT_DUPLICATES, &je);
	hours_config *c;
	if (!j) {
		fprintf(stderr, "  kb/hours.json:%d: %s\n", je.line, je.text);
		return NULL;
	}
	c = hours_config_parse(j, err, sizeof err);
	if (!c)
		fprintf(stderr, "  kb/hours.json: %s\n", err);
	json_decref(j);
	return c;
}

/* Folds text the way the engine does, then parses it. */
static int parse_text(const char *text, hours_query *q)
{
	char buf[1024];
	const char *w[64];
	size_t n = text_words(text, strlen(text), buf, sizeof buf, w, 64);
	return hours_parse_question(w, n, q);
}

static void test_parse(void)
{
	static const struct {
		const char *text;
		int want;               /* hours_parse_question's result */
		hours_when when;
		int arg;                /* weekday or holiday */
	} cases[] = {
		{ "Are you open now?", 1, HOURS_NOW, 0 },
		{ "are you open right now", 1, HOURS_NOW, 0 },
		{ "Are you currently open?", 1, HOURS_NOW, 0 },
		{ "are you still open", 1, HOURS_NOW, 0 },
		{ "is the clinic open at the moment", 1, HOURS_NOW, 0 },
		{ "¿Están abiertos ahora?", 1, HOURS_NOW, 0 },
		{ "ahorita atienden?", 1, HOURS_NOW, 0 },
		{ "¿siguen abiertos?", 1, HOURS_NOW, 0 },
		{ "¿todavía están abiertos?", 1, HOURS_NOW, 0 },
		{ "are you open today", 1, HOURS_TODAY, 0 },
		{ "how late are you open tonight", 1, HOURS_TODAY, 0 },
		{ "what time do you close today", 1, HOURS_TODAY, 0 },
		{ "¿están abiertos hoy?", 1, HOURS_TODAY, 0 },
		{ "¿A qué hora cierran esta noche?", 1, HOURS_TODAY, 0 },
		{ "are you open tomorrow", 1, HOURS_TOMORROW, 0 },
		{ "¿Abren mañana?", 1, HOURS_TOMORROW, 0 },
		{ "happy new year! are you open tomorrow?", 1, HOURS_TOMORROW, 0 },
		{ "open saturday?", 1, HOURS_WEEKDAY, 6 },
		{ "are you open this sat", 1, HOURS_WEEKDAY, 6 },
		{ "what time do you close on tuesdays", 1, HOURS_WEEKDAY, 2 },
		{ "¿abren el sábado?", 1, HOURS_WEEKDAY, 6 },
		{ "horario del miércoles", 1, HOURS_WEEKDAY, 3 },
		{ "sunday hours", 1, HOURS_WEEKDAY, 0 },
		{ "are you open on the weekend", 1, HOURS_WEEKEND, 0 },
		{ "¿abren el fin de semana?", 1, HOURS_WEEKEND, 0 },
		{ "are you open on Christmas?", 1, HOURS_HOLIDAY, HOURS_CHRISTMAS },
		{ "open christmas eve?", 1, HOURS_HOLIDAY, HOURS_CHRISTMAS_EVE },
		{ "do you close early on christmas eve", 1, HOURS_HOLIDAY, HOURS_CHRISTMAS_EVE },
		{ "open on thanksgiving thursday?", 1, HOURS_HOLIDAY, HOURS_THANKSGIVING },
		{ "are you open on new year's day", 1, HOURS_HOLIDAY, HOURS_NEW_YEARS_DAY },
		{ "what are your hours on new years eve", 1, HOURS_HOLIDAY, HOURS_NEW_YEARS_EVE },
		{ "closed for the 4th of july?", 1, HOURS_HOLIDAY, HOURS_INDEPENDENCE_DAY },
		{ "open july 4?", 1, HOURS_HOLIDAY, HOURS_INDEPENDENCE_DAY },
		{ "open on independence day", 1, HOURS_HOLIDAY, HOURS_INDEPENDENCE_DAY },
		{ "are you open labor day", 1, HOURS_HOLIDAY, HOURS_LABOR_DAY },
		{ "open on memorial day", 1, HOURS_HOLIDAY, HOURS_MEMORIAL_DAY },
		{ "are you still open on christmas eve", 1, HOURS_HOLIDAY, HOURS_CHRISTMAS_EVE },
		{ "¿abren en Navidad?", 1, HOURS_HOLIDAY, HOURS_CHRISTMAS },
		{ "¿abren en Nochebuena?", 1, HOURS_HOLIDAY, HOURS_CHRISTMAS_EVE },
		{ "¿están cerrados el día de Año Nuevo?", 1, HOURS_HOLIDAY, HOURS_NEW_YEARS_DAY },
		{ "¿abren el Día de Acción de Gracias?", 1, HOURS_HOLIDAY, HOURS_THANKSGIVING },
		{ "¿atienden el día del trabajo?", 1, HOURS_HOLIDAY, HOURS_LABOR_DAY },
		{ "están abiertos el 4 de julio", 1, HOURS_HOLIDAY, HOURS_INDEPENDENCE_DAY },
		/* Not about being open at a specific time. */
		{ "what's the weather saturday", 0, 0, 0 },
		{ "do you take insurance", 0, 0, 0 },
		{ "are you open", 0, 0, 0 },
		{ "what are your opening hours", 0, 0, 0 },
		{ "what are your holiday hours", 0, 0, 0 },
		{ "¿abren en la mañana?", 0, 0, 0 },
		{ "can i come in tomorrow", 0, 0, 0 },
		/* Other services have their own hours in the KB. */
		{ "what time does the lab open saturday", 0, 0, 0 },
		{ "are your phones open now", 0, 0, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		hours_query q = { HOURS_NOW, -1, HOURS_N_HOLIDAYS };
		int got = parse_text(cases[i].text, &q);
		CASE_BEGIN(cases[i].text);
		CHECKF(got == cases[i].want, "parse \"%s\": got %d, want %d", cases[i].text, got,
		       cases[i].want);
		if (got && cases[i].want) {
			CHECKF(q.when == cases[i].when, "\"%s\": when %d, want %d", cases[i].text,
			       (int)q.when, (int)cases[i].when);
			if (cases[i].when == HOURS_WEEKDAY)
				CHECKF(q.weekday == cases[i].arg, "\"%s\": weekday %d, want %d",
				       cases[i].text, q.weekday, cases[i].arg);
			if (cases[i].when == HOURS_HOLIDAY)
				CHECKF((int)q.holiday == cases[i].arg, "\"%s\": holiday %d, want %d",
				       cases[i].text, (int)q.holiday, cases[i].arg);
		}
		CASE_END();
	}
}

static void test_answers(const hours_config *c)
{
	static const char nurse_en[] = "nurse line at (555) 010-2411";
	static const char nurse_es[] = "línea de enfermería al (555) 010-2411";
	static const struct {
		const char *name, *question;
		int64_t now;
		int lang;
		const char *want[4];    /* substrings the answer must contain */
		const char *not_want;   /* and one it must not (NULL: none) */
	} cases[] = {
		{ "hours: open now on a weekday morning", "Are you open now?", T_WED_0900, 0,
		  { "It's Wednesday 9:00 am here (Central Time).",
		    "Both our offices are open now until 6:00 pm." }, nurse_en },
		{ "hours: closed now at 21:00, opens tomorrow", "are you still open?", T_WED_2100, 0,
		  { "It's Wednesday 9:00 pm", "closed now and open again tomorrow at 8:00 am", nurse_en },
		  "open now" },
		{ "hours: Tuesday 18:30 Downtown open till 19:00, Northgate closed",
		  "are you open right now", T_TUE_1830, 0,
		  { "Our Downtown office is open now until 7:00 pm.",
		    "Our Northgate office is closed now and opens again tomorrow at 8:00 am." },
		  nurse_en },
		{ "hours: Saturday 10:00 Northgate open, Downtown closed", "open now?", T_SAT_1000, 0,
		  { "It's Saturday 10:00 am here (Central Time).",
		    "Our Northgate office is open now until 1:00 pm.",
		    "Our Downtown office is closed today and opens again Monday at 8:00 am." },
		  nurse_en },
		{ "hours: Sunday closed everywhere, next opening Monday", "are you open today?",
		  T_SUN_1100, 0,
		  { "It's Sunday 11:00 am", "Both our offices are closed today and open again tomorrow at 8:00 am.",
		    nurse_en }, "open now" },
		{ "hours: Sunday asked about Monday", "are you open on monday?", T_SUN_1100, 0,
		  { "Tomorrow, Monday, March 16: both our offices are open 8:00 am to 6:00 pm." }, nurse_en },
		{ "hours: DST start, Monday 8:30 CDT is open", "open now?", T_MON_0830_DST, 0,
		  { "It's Monday 8:30 am", "Both our offices are open now until 6:00 pm." }, NULL },
		{ "hours: DST end, Monday 7:30 CST opens at 8:00", "open now?", T_MON_0730_STD, 0,
		  { "It's Monday 7:30 am", "Both our offices open today at 8:00 am." }, "open now" },
		{ "hours: Christmas Day 2026 closed", "are you open today?", T_XMAS_1000, 0,
		  { "It's Friday 10:00 am",
		    "Our Downtown office is closed today for Christmas Day and opens again Monday at 8:00 am.",
		    "Our Northgate office is closed today for Christmas Day and opens again tomorrow at 9:00 am.",
		    nurse_en }, "open now" },
		{ "hours: Christmas Eve closes early", "are you open now?", T_XMAS_EVE_1000, 0,
		  { "Both our offices are open now until 2:00 pm (closing early for Christmas Eve)." },
		  nurse_en },
		{ "hours: Christmas Eve after the early close", "are you still open?", T_XMAS_EVE_1500, 0,
		  { "It's Thursday 3:00 pm", "closed now for Christmas Eve", nurse_en }, "open now" },
		{ "hours: Christmas Eve asked the day before", "are you open tomorrow?",
		  T_XMAS_EVE_1000 - 86400, 0,
		  { "Tomorrow, Thursday, December 24: both our offices open at 8:00 am and close early at 2:00 pm for Christmas Eve." },
		  nurse_en },
		{ "hours: Thanksgiving 2026 closed", "open today?", T_THANKS_0900, 0,
		  { "Both our offices are closed today for Thanksgiving Day and open again tomorrow at 8:00 am.",
		    nurse_en }, NULL },
		{ "hours: Christmas asked in October gives the date", "are you open on christmas?",
		  T_OCT_1200, 0,
		  { "Christmas Day is Friday, December 25, 2026: both our offices are closed.", nurse_en },
		  NULL },
		{ "hours: Thanksgiving asked in October", "are you open on thanksgiving",
		  T_OCT_1200, 0,
		  { "Thanksgiving Day is Thursday, November 26, 2026: both our offices are closed." }, NULL },
		{ "hours: a past holiday gives next year's date", "open on labor day?", T_OCT_1200, 0,
		  { "Labor Day is Monday, September 6, 2027" }, NULL },
		{ "hours: Memorial Day is the last Monday of May", "open memorial day?", T_OCT_1200, 0,
		  { "Memorial Day is Monday, May 31, 2027" }, NULL },
		{ "hours: New Year's Eve closes early", "are you open on new year's eve", T_OCT_1200, 0,
		  { "New Year's Eve is Thursday, December 31, 2026: both our offices open at 8:00 am and close early at 2:00 pm." },
		  nurse_en },
		{ "hours: a holiday asked on the day itself", "are you open on christmas?", T_XMAS_1000, 0,
		  { "Today is Christmas Day (Friday, December 25, 2026)" }, NULL },
		{ "hours: a weekday's hours per location", "open saturday?", T_WED_0900, 0,
		  { "Saturday, March 14: our Downtown office is closed; our Northgate office is open 9:00 am to 1:00 pm." },
		  nurse_en },
		{ "hours: the weekend", "are you open this weekend", T_WED_0900, 0,
		  { "Saturday, March 14:", "Sunday, March 15: both our offices are closed.", nurse_en }, NULL },
		{ "hours: Spanish question, Spanish answer", "¿Están abiertos hoy?", T_SAT_1000, 1,
		  { "Son las 10:00 a. m. del sábado aquí (hora del centro).",
		    "La oficina Northgate está abierta ahora hasta la 1:00 p. m.",
		    "La oficina Downtown está cerrada hoy y vuelve a abrir el lunes a las 8:00 a. m." },
		  "p. m.." },
		{ "hours: Spanish, closed at night", "¿siguen abiertos ahora?", T_WED_2100, 1,
		  { "Las dos oficinas están cerradas ahora y vuelven a abrir mañana a las 8:00 a. m.", nurse_es },
		  "Our" },
		{ "hours: Spanish, Christmas Eve closes early", "¿a qué hora cierran hoy?", T_XMAS_EVE_1000, 1,
		  { "Las dos oficinas están abiertas ahora hasta las 2:00 p. m. (cierran temprano por Nochebuena)." },
		  nurse_es },
		{ "hours: Spanish, Thanksgiving", "¿abren hoy?", T_THANKS_0900, 1,
		  { "Las dos oficinas están cerradas hoy por el Día de Acción de Gracias y vuelven a abrir mañana a las 8:00 a. m.",
		    nurse_es }, NULL },
		{ "hours: Spanish, a weekday", "¿abren el sábado?", T_WED_0900, 1,
		  { "El sábado 14 de marzo: la oficina Downtown está cerrada; la oficina Northgate abre de 9:00 a. m. a 1:00 p. m." },
		  nurse_es },
		{ "hours: Spanish, Christmas", "¿abren en Navidad?", T_OCT_1200, 1,
		  { "Navidad es el viernes 25 de diciembre de 2026: las dos oficinas están cerradas.", nurse_es },
		  NULL },
		{ "hours: Spanish, Labor Day keeps its article", "¿cierran el día del trabajo?", T_OCT_1200, 1,
		  { "El Día del Trabajo es el lunes 6 de septiembre de 2027" }, NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		hours_query q;
		char out[1024];
		CASE_BEGIN(cases[i].name);
		CHECKF(parse_text(cases[i].question, &q) == 1, "\"%s\" not parsed", cases[i].question);
		CHECK(hours_answer(c, &q, cases[i].now, cases[i].lang, out, sizeof out) == 0);
		for (size_t k = 0; k < 4 && cases[i].want[k]; k++)
			CHECKF(strstr(out, cases[i].want[k]) != NULL, "want \"%s\" in \"%s\"",
			       cases[i].want[k], out);
		if (cases[i].not_want)
			CHECKF(strstr(out, cases[i].not_want) == NULL, "unwanted \"%s\" in \"%s\"",
			       cases[i].not_want, out);
		CASE_END();
	}
}

/* A valid config with one field replaced, so each case shows its error. */
static void test_config_errors(void)
{
	static const struct {
		const char *name, *json, *want;
	} cases[] = {
		{ "hours config: a bad time",
		  "{\"timezone\":\"America/Chicago\",\"locations\":[{\"name\":\"A\",\"week\":{\"mon\":\"08:00-25:00\"}}]}",
		  "locations[0].week.mon: bad time \"08:00-25:00\"" },
		{ "hours config: an unknown weekday",
		  "{\"timezone\":\"America/Chicago\",\"locations\":[{\"name\":\"A\",\"week\":{\"tues\":\"08:00-18:00\"}}]}",
		  "locations[0].week: unknown weekday \"tues\"" },
		{ "hours config: an unknown rule",
		  "{\"timezone\":\"America/Chicago\",\"locations\":[{\"name\":\"A\",\"week\":{}}],"
		  "\"holidays\":[{\"name\":\"Easter\",\"rule\":\"easter sunday\",\"hours\":\"closed\"}]}",
		  "holidays[0]: unknown rule \"easter sunday\"" },
		{ "hours config: a fifth weekday is not a rule",
		  "{\"timezone\":\"America/Chicago\",\"locations\":[{\"name\":\"A\",\"week\":{}}],"
		  "\"holidays\":[{\"name\":\"X\",\"rule\":\"fifth mon of may\",\"hours\":\"closed\"}]}",
		  "unknown rule \"fifth mon of may\"" },
		{ "hours config: 02-30 is not a date",
		  "{\"timezone\":\"America/Chicago\",\"locations\":[{\"name\":\"A\",\"week\":{}}],"
		  "\"holidays\":[{\"name\":\"X\",\"rule\":\"02-30\",\"hours\":\"closed\"}]}",
		  "unknown rule \"02-30\"" },
		{ "hours config: bad holiday hours",
		  "{\"timezone\":\"America/Chicago\",\"locations\":[{\"name\":\"A\",\"week\":{}}],"
		  "\"holidays\":[{\"name\":\"X\",\"rule\":\"12-24\",\"hours\":\"until 25:00\"}]}",
		  "holidays[0]: bad hours \"until 25:00\"" },
		{ "hours config: opens after it closes",
		  "{\"timezone\":\"America/Chicago\",\"locations\":[{\"name\":\"A\",\"week\":{\"sat\":\"13:00-09:00\"}}]}",
		  "locations[0].week.sat: \"13:00-09:00\" opens at or after it closes" },
		{ "hours config: an unknown time zone",
		  "{\"timezone\":\"America/Chicagoo\",\"locations\":[{\"name\":\"A\",\"week\":{}}]}",
		  "unknown time zone \"America/Chicagoo\"" },
		{ "hours config: a time zone outside the zone directory",
		  "{\"timezone\":\"../../etc/passwd\",\"locations\":[{\"name\":\"A\",\"week\":{}}]}",
		  "unknown time zone" },
		{ "hours config: an unknown field",
		  "{\"timezone\":\"America/Chicago\",\"location\":[],\"locations\":[{\"name\":\"A\",\"week\":{}}]}",
		  "unknown field \"location\"" },
		{ "hours config: no locations",
		  "{\"timezone\":\"America/Chicago\",\"locations\":[]}",
		  "\"locations\" must be an array of 1 to" },
		{ "hours config: a location without a name",
		  "{\"timezone\":\"America/Chicago\",\"locations\":[{\"week\":{}}]}",
		  "locations[0]: missing \"name\"" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_error_t je;
		char err[256] = "";
		json_t *j = json_loads(cases[i].json, JSON_REJECT_DUPLICATES, &je);
		hours_config *c;
		CASE_BEGIN(cases[i].name);
		CHECKF(j != NULL, "test JSON: %s", je.text);
		c = j ? hours_config_parse(j, err, sizeof err) : NULL;
		CHECK(c == NULL);
		CHECKF(strstr(err, cases[i].want) != NULL, "want \"%s\" in \"%s\"", cases[i].want, err);
		hours_config_free(c);
		json_decref(j);
		CASE_END();
	}
}

void test_hours(void)
{
	hours_config *c = load_default();
	char out[1024];
	hours_query q = { HOURS_NOW, 0, HOURS_CHRISTMAS };

	CASE_BEGIN("hours: kb/hours.json parses");
	CHECK(c != NULL);
	CASE_END();
	if (!c)
		return;

	CASE_BEGIN("hours: covers the KB's hours entries and their translations");
	CHECK(hours_config_covers(c, "hours-weekday"));
	CHECK(hours_config_covers(c, "hours-weekend-es"));
	CHECK(hours_config_covers(c, "hours-holidays"));
	CHECK(!hours_config_covers(c, "hours-lab"));
	CHECK(!hours_config_covers(c, "hours-weekday-e"));
	CHECK(!hours_config_covers(c, "hours"));
	CASE_END();

	CASE_BEGIN("hours: every covered entry exists in kb/clinic.jsonl");
	{
		kb_list l = { 0 };
		char err[256];
		int found = 0;
		CHECK(kb_parse_file("kb/clinic.jsonl", &l, NULL, err, sizeof err) == 0);
		for (size_t i = 0; i < l.n; i++)
			found += hours_config_covers(c, l.v[i].id);
		CHECK(found == 3);
		kb_list_free(&l);
	}
	CASE_END();

	test_parse();
	test_answers(c);
	test_config_errors();

	CASE_BEGIN("hours: the caller's TZ is restored");
	{
		const char *old = getenv("TZ");
		char *saved = old ? strdup(old) : NULL;
		setenv("TZ", "Asia/Tokyo", 1);
		CHECK(hours_answer(c, &q, T_WED_0900, 0, out, sizeof out) == 0);
		CHECK(getenv("TZ") && strcmp(getenv("TZ"), "Asia/Tokyo") == 0);
		unsetenv("TZ");
		CHECK(hours_answer(c, &q, T_WED_0900, 0, out, sizeof out) == 0);
		CHECK(getenv("TZ") == NULL);
		if (saved)
			setenv("TZ", saved, 1);
		free(saved);
	}
	CASE_END();

	CASE_BEGIN("hours: a weekday asked on that day answers for now");
	q.when = HOURS_WEEKDAY;
	q.weekday = 6;
	CHECK(hours_answer(c, &q, T_SAT_1000, 0, out, sizeof out) == 0);
	CHECK(strstr(out, "Our Northgate office is open now until 1:00 pm.") != NULL);
	CASE_END();

	CASE_BEGIN("hours: a small buffer is cut, terminated, and reported");
	q.when = HOURS_TODAY;
	memset(out, 'x', sizeof out);
	CHECK(hours_answer(c, &q, T_SAT_1000, 1, out, 20) == -1);
	CHECK(strlen(out) < 20);
	CHECK(hours_answer(c, &q, T_SAT_1000, 0, out, 0) == -1);
	/* Cut anywhere, the Spanish answer ("sábado", "aquí") is never left
	 * with half a UTF-8 character. */
	{
		char full[1024];
		size_t len;
		CHECK(hours_answer(c, &q, T_SAT_1000, 1, full, sizeof full) == 0);
		len = strlen(full);
		for (size_t sz = 1; sz <= len; sz++) {
			CHECKF(hours_answer(c, &q, T_SAT_1000, 1, out, sz) == -1, "size %zu", sz);
			CHECKF(strlen(out) < sz && util_utf8_valid(out, strlen(out)) &&
			       strncmp(out, full, strlen(out)) == 0, "size %zu: \"%s\"", sz, out);
		}
		CHECK(hours_answer(c, &q, T_SAT_1000, 1, out, len + 1) == 0);
	}
	CASE_END();

	hours_config_free(c);
}
