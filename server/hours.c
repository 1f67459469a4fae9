/* hours: see hours.h.
 *
 * Time zones. The C library converts a time to local time only in the
 * process's own zone, named by the TZ environment variable, so local_time()
 * sets TZ to the clinic's zone, calls tzset() and localtime_r(), and puts the
 * old TZ back. That environment variable and the C library's zone state are
 * the only process-wide state this module touches; it has no globals of its
 * own. It is not thread-safe (another thread calling localtime() or getenv()
 * meanwhile would see the clinic's zone, or race setenv), which is fine
 * because the server is single-threaded: one lws event loop does everything.
 * glibc re-reads the zone file whenever TZ changes, so an answer costs two
 * small file reads: nothing next to the SQLite commit every message gets.
 * Everything after that one conversion is arithmetic on local dates (days
 * since 1970-01-01) and minutes since local midnight, so DST needs no care
 * beyond what localtime_r already does. */
#include "hours.h"

#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define NAME_MAX_BYTES 64
#define CLOSED (-1)

typedef struct span {
	int open, close;        /* minutes since local midnight; open == CLOSED: closed */
} span;

/* A date rule: a fixed date (mday > 0) or the nth weekday of a month
 * (nth 1..4, or -1 for the last one). */
typedef struct rule {
	int month;              /* 1..12 */
	int mday;
	int nth;
	int wday;               /* 0 = Sunday */
} rule;

typedef struct holiday {
	char *name, *name_es;
	rule r;
	int until;              /* CLOSED: closed all day; else latest closing minute */
} holiday;

typedef struct location {
	char *name;
	span week[7];           /* indexed by wday, 0 = Sunday */
} location;

struct hours_config {
	char *tz, *tz_label, *tz_label_es, *phone, *nurse_line;
	char *entries[HOURS_MAX_ENTRIES];
	size_t n_entries;
	location loc[HOURS_MAX_LOCATIONS];
	size_t n_loc;
	holiday hol[HOURS_MAX_HOLIDAYS];
	size_t n_hol;
};

static const char *const wday_key[7] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
static const char *const month_key[12] = {
	"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
};
static const char *const nth_key[5] = { "last", "first", "second", "third", "fourth" };

/* ---- calendar arithmetic (proleptic Gregorian, no time zone) ---- */

static int is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Days since 1970-01-01 of y-m-d (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int y, int m, int d)
{
	int64_t yy = (int64_t)y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;
	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int weekday_of(int64_t days)
{
	int64_t w = (days + 4) % 7; /* 1970-01-01 was a Thursday */
	return (int)(w < 0 ? w + 7 : w);
}

static int rule_matches(const rule *r, int64_t day)
{
	int y, m, d;
	civil_from_days(day, &y, &m, &d);
	if (m != r->month)
		return 0;
	if (r->mday > 0)
		return d == r->mday;
	if (weekday_of(day) != r->wday)
		return 0;
	return r->nth > 0 ? (d - 1) / 7 + 1 == r->nth : d + 7 > days_in_month(y, m);
}

/* ---- config parsing ---- */

/* The value of two ASCII digits at s, or -1. */
static int two_digits(const char *s)
{
	if (!(s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9'))
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

static int parse_hhmm(const char *s, int *minutes)
{
	int h = two_digits(s), m = h < 0 || s[2] != ':' ? -1 : two_digits(s + 3);
	if (h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0))
		return -1;
	*minutes = h * 60 + m;
	return 0;
}

/* "closed" or "HH:MM-HH:MM". */
static int parse_span(const char *s, span *out, const char *path, char *err, size_t errsz)
{
	if (strcmp(s, "closed") == 0) {
		out->open = out->close = CLOSED;
		return 0;
	}
	if (strlen(s) != 11 || s[5] != '-' || parse_hhmm(s, &out->open) ||
	    parse_hhmm(s + 6, &out->close)) {
		snprintf(err, errsz, "%s: bad time \"%.40s\" (use \"HH:MM-HH:MM\", 24-hour, or \"closed\")",
			 path, s);
		return -1;
	}
	if (out->open >= out->close) {
		snprintf(err, errsz, "%s: \"%s\" opens at or after it closes", path, s);
		return -1;
	}
	return 0;
}

static int key_index(const char *s, const char *const *keys, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, keys[i]) == 0)
			return i;
	return -1;
}

/* "MM-DD" or "<first|second|third|fourth|last> <weekday> of <month>". */
static int parse_rule(const char *s, rule *r)
{
	char a[16], b[16], of[16], c[16], extra;
	memset(r, 0, sizeof *r);
	if (strlen(s) == 5 && s[2] == '-') {
		int mm = two_digits(s), dd = two_digits(s + 3);
		/* 2001 is not a leap year: 02-29 would skip three years in four. */
		if (mm < 1 || mm > 12 || dd < 1 || dd > days_in_month(2001, mm))
			return -1;
		r->month = mm;
		r->mday = dd;
		return 0;
	}
	if (sscanf(s, "%15s %15s %15s %15s %c", a, b, of, c, &extra) != 4 || strcmp(of, "of") != 0)
		return -1;
	r->nth = key_index(a, nth_key, 5);
	r->wday = key_index(b, wday_key, 7);
	r->month = key_index(c, month_key, 12) + 1;
	if (r->nth < 0 || r->wday < 0 || r->month < 1)
		return -1;
	if (r->nth == 0)
		r->nth = -1;
	return 0;
}

/* Fails naming the first key of o not in known (NULL-terminated). The cast
 * only drops const for Jansson's iterator, which does not modify o. */
static int check_keys(const json_t *o, const char *const *known, const char *path,
		      char *err, size_t errsz)
{
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)o, key, val) {
		int ok = 0;
		(void)val;
		for (size_t i = 0; known[i]; i++)
			ok |= strcmp(key, known[i]) == 0;
		if (!ok) {
			snprintf(err, errsz, "%s: unknown field \"%.40s\"", path, key);
			return -1;
		}
	}
	return 0;
}

/* Copies string field key of o into *out (NULL when absent and optional). */
static int get_str(const json_t *o, const char *key, int required, size_t max, char **out,
		   const char *path, char *err, size_t errsz)
{
	const json_t *v = json_object_get(o, key);
	*out = NULL;
	if (!v) {
		if (required)
			snprintf(err, errsz, "%s: missing \"%s\"", path, key);
		return required ? -1 : 0;
	}
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(err, errsz, "%s: \"%s\" must be a non-empty string of at most %zu bytes",
			 path, key, max);
		return -1;
	}
	if (!(*out = strdup(json_string_value(v)))) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	return 0;
}

/* 1 if tz names a zone file under TZDIR (default /usr/share/zoneinfo). glibc
 * silently falls back to UTC for an unknown zone, so a typo must fail here. */
static int tz_exists(const char *tz)
{
	const char *dir = getenv("TZDIR");
	char path[512];
	struct stat st;
	int n;
	if (tz[0] == '/' || strstr(tz, ".."))
		return 0;
	for (const char *p = tz; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '/' || *p == '_' || *p == '-' || *p == '+'))
			return 0;
	n = snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", tz);
	if (n < 0 || (size_t)n >= sizeof path)
		return 0;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int parse_location(const json_t *o, location *l, const char *path, char *err, size_t errsz)
{
	static const char *const known[] = { "name", "week", NULL };
	const json_t *week;
	const char *key;
	json_t *val;
	char sub[64];

	for (int d = 0; d < 7; d++)
		l->week[d].open = l->week[d].close = CLOSED;
	if (!json_is_object(o)) {
		snprintf(err, errsz, "%s: must be an object", path);
		return -1;
	}
	if (check_keys(o, known, path, err, errsz) ||
	    get_str(o, "name", 1, NAME_MAX_BYTES, &l->name, path, err, errsz))
		return -1;
	week = json_object_get(o, "week");
	if (!json_is_object(week)) {
		snprintf(err, errsz, "%s: \"week\" must be an object like {\"mon\": \"08:00-18:00\"}", path);
		return -1;
	}
	json_object_foreach((json_t *)week, key, val) {
		int d = key_index(key, wday_key, 7);
		if (d < 0) {
			snprintf(err, errsz, "%s.week: unknown weekday \"%.20s\" (use mon tue wed thu fri sat sun)",
				 path, key);
			return -1;
		}
		snprintf(sub, sizeof sub, "%s.week.%s", path, key);
		if (!json_is_string(val)) {
			snprintf(err, errsz, "%s: must be a string", sub);
			return -1;
		}
		if (parse_span(json_string_value(val), &l->week[d], sub, err, errsz))
			return -1;
	}
	return 0;
}

static int parse_holiday(const json_t *o, holiday *h, const char *path, char *err, size_t errsz)
{
	static const char *const known[] = { "name", "name_es", "rule", "hours", NULL };
	char *rule_s = NULL, *hours_s = NULL;
	int rc = -1;

	if (!json_is_object(o)) {
		snprintf(err, errsz, "%s: must be an object", path);
		return -1;
	}
	if (check_keys(o, known, path, err, errsz) ||
	    get_str(o, "name", 1, NAME_MAX_BYTES, &h->name, path, err, errsz) ||
	    get_str(o, "name_es", 0, NAME_MAX_BYTES, &h->name_es, path, err, errsz) ||
	    get_str(o, "rule", 1, 64, &rule_s, path, err, errsz) ||
	    get_str(o, "hours", 1, 64, &hours_s, path, err, errsz))
		goto out;
	if (!h->name_es && !(h->name_es = strdup(h->name))) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	if (parse_rule(rule_s, &h->r)) {
		snprintf(err, errsz, "%s: unknown rule \"%.40s\" (use \"MM-DD\" or e.g. \"last mon of may\", "
			 "\"fourth thu of nov\")", path, rule_s);
		goto out;
	}
	if (strcmp(hours_s, "closed") == 0) {
		h->until = CLOSED;
	} else if (strncmp(hours_s, "until ", 6) != 0 || strlen(hours_s) != 11 ||
		   parse_hhmm(hours_s + 6, &h->until)) {
		snprintf(err, errsz, "%s: bad hours \"%.40s\" (use \"closed\" or \"until HH:MM\")",
			 path, hours_s);
		goto out;
	}
	rc = 0;
out:
	free(rule_s);
	free(hours_s);
	return rc;
}

hours_config *hours_config_parse(const json_t *j, char *err, size_t errsz)
{
	static const char *const known[] = {
		"timezone", "timezone_label", "timezone_label_es", "phone", "nurse_line",
		"entries", "locations", "holidays", NULL,
	};
	hours_config *c = NULL;
	const json_t *arr;
	char path[48];

	if (!json_is_object(j)) {
		snprintf(err, errsz, "hours config must be a JSON object");
		return NULL;
	}
	if (!(c = calloc(1, sizeof *c))) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	if (check_keys(j, known, "hours", err, errsz) ||
	    get_str(j, "timezone", 1, 64, &c->tz, "hours", err, errsz) ||
	    get_str(j, "timezone_label", 0, NAME_MAX_BYTES, &c->tz_label, "hours", err, errsz) ||
	    get_str(j, "timezone_label_es", 0, NAME_MAX_BYTES, &c->tz_label_es, "hours", err, errsz) ||
	    get_str(j, "phone", 0, NAME_MAX_BYTES, &c->phone, "hours", err, errsz) ||
	    get_str(j, "nurse_line", 0, NAME_MAX_BYTES, &c->nurse_line, "hours", err, errsz))
		goto fail;
	if (!tz_exists(c->tz)) {
		snprintf(err, errsz, "hours: unknown time zone \"%.64s\" (use a name like \"America/Chicago\")",
			 c->tz);
		goto fail;
	}

	arr = json_object_get(j, "entries");
	if (arr && (!json_is_array(arr) || json_array_size(arr) > HOURS_MAX_ENTRIES)) {
		snprintf(err, errsz, "hours: \"entries\" must be an array of at most %d entry ids",
			 HOURS_MAX_ENTRIES);
		goto fail;
	}
	for (size_t i = 0; arr && i < json_array_size(arr); i++) {
		const json_t *e = json_array_get(arr, i);
		if (!json_is_string(e) || json_string_length(e) == 0 || json_string_length(e) > 128 ||
		    strlen(json_string_value(e)) != json_string_length(e)) {
			snprintf(err, errsz, "hours: entries[%zu] must be a non-empty entry id", i);
			goto fail;
		}
		if (!(c->entries[i] = strdup(json_string_value(e)))) {
			snprintf(err, errsz, "out of memory");
			goto fail;
		}
		c->n_entries++;
	}

	arr = json_object_get(j, "locations");
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > HOURS_MAX_LOCATIONS) {
		snprintf(err, errsz, "hours: \"locations\" must be an array of 1 to %d locations",
			 HOURS_MAX_LOCATIONS);
		goto fail;
	}
	for (size_t i = 0; i < json_array_size(arr); i++) {
		snprintf(path, sizeof path, "locations[%zu]", i);
		c->n_loc++; /* counted first so hours_config_free frees a half-parsed one */
		if (parse_location(json_array_get(arr, i), &c->loc[i], path, err, errsz))
			goto fail;
	}

	arr = json_object_get(j, "holidays");
	if (arr && (!json_is_array(arr) || json_array_size(arr) > HOURS_MAX_HOLIDAYS)) {
		snprintf(err, errsz, "hours: \"holidays\" must be an array of at most %d holidays",
			 HOURS_MAX_HOLIDAYS);
		goto fail;
	}
	for (size_t i = 0; arr && i < json_array_size(arr); i++) {
		snprintf(path, sizeof path, "holidays[%zu]", i);
		c->n_hol++;
		if (parse_holiday(json_array_get(arr, i), &c->hol[i], path, err, errsz))
			goto fail;
	}
	return c;
fail:
	hours_config_free(c);
	return NULL;
}

void hours_config_free(hours_config *c)
{
	if (!c)
		return;
	free(c->tz);
	free(c->tz_label);
	free(c->tz_label_es);
	free(c->phone);
	free(c->nurse_line);
	for (size_t i = 0; i < c->n_entries; i++)
		free(c->entries[i]);
	for (size_t i = 0; i < c->n_loc; i++)
		free(c->loc[i].name);
	for (size_t i = 0; i < c->n_hol; i++) {
		free(c->hol[i].name);
		free(c->hol[i].name_es);
	}
	free(c);
}

int hours_config_covers(const hours_config *c, const char *entry_id)
{
	size_t len = strlen(entry_id);
	for (size_t i = 0; i < c->n_entries; i++) {
		size_t el = strlen(c->entries[i]);
		if (strcmp(entry_id, c->entries[i]) == 0)
			return 1;
		if (len == el + 3 && strncmp(entry_id, c->entries[i], el) == 0 &&
		    strcmp(entry_id + el, "-es") == 0)
			return 1;
	}
	return 0;
}

/* ---- question parsing ---- */

/* Holidays a patient can name, with their US dates. */
static const struct {
	const char *name, *name_es, *rule;
} builtin_holiday[HOURS_N_HOLIDAYS] = {
	[HOURS_NEW_YEARS_DAY] = { "New Year's Day", "Año Nuevo", "01-01" },
	[HOURS_MEMORIAL_DAY] = { "Memorial Day", "Memorial Day", "last mon of may" },
	[HOURS_INDEPENDENCE_DAY] = { "Independence Day", "el Día de la Independencia", "07-04" },
	[HOURS_LABOR_DAY] = { "Labor Day", "el Día del Trabajo", "first mon of sep" },
	[HOURS_THANKSGIVING] = { "Thanksgiving Day", "el Día de Acción de Gracias", "fourth thu of nov" },
	[HOURS_CHRISTMAS_EVE] = { "Christmas Eve", "Nochebuena", "12-24" },
	[HOURS_CHRISTMAS] = { "Christmas Day", "Navidad", "12-25" },
	[HOURS_NEW_YEARS_EVE] = { "New Year's Eve", "Nochevieja", "12-31" },
};

static const char *const open_words[] = {
	"open", "opens", "opened", "opening", "close", "closes", "closed", "closing", "hours",
	"abierto", "abiertos", "abierta", "abiertas", "abre", "abren", "cierra", "cierran",
	"cerrado", "cerrados", "cerrada", "cerradas", "horario", "horarios", "atiende", "atienden",
	NULL,
};

/* Things with hours of their own (KB entries hours-lab, hours-phone...):
 * "does the lab open saturday" must not get the clinic's hours. */
static const char *const other_service[] = {
	"lab", "labs", "laboratory", "laboratorio", "bloodwork", "blood", "draw", "draws",
	"phone", "phones", "telephone", "telefono", "pharmacy", "farmacia", "portal", "xray",
	"imaging", "radiology", "results", "resultados", NULL,
};

static const char *const now_words[] = {
	"now", "currently", "still", "moment", "momento", "ahora", "ahorita", "todavia",
	"siguen", "sigue", NULL,
};
static const char *const today_words[] = { "today", "todays", "tonight", "tonite", "hoy", NULL };
static const char *const tomorrow_words[] = { "tomorrow", "tomorrows", "tmrw", NULL };

static const struct {
	const char *word;
	int wday;
} weekday_words[] = {
	{ "sunday", 0 }, { "sundays", 0 }, { "sun", 0 }, { "domingo", 0 }, { "domingos", 0 },
	{ "monday", 1 }, { "mondays", 1 }, { "mon", 1 }, { "lunes", 1 },
	{ "tuesday", 2 }, { "tuesdays", 2 }, { "tue", 2 }, { "tues", 2 }, { "martes", 2 },
	{ "wednesday", 3 }, { "wednesdays", 3 }, { "wed", 3 }, { "miercoles", 3 },
	{ "thursday", 4 }, { "thursdays", 4 }, { "thu", 4 }, { "thur", 4 }, { "thurs", 4 },
	{ "jueves", 4 },
	{ "friday", 5 }, { "fridays", 5 }, { "fri", 5 }, { "viernes", 5 },
	{ "saturday", 6 }, { "saturdays", 6 }, { "sat", 6 }, { "sabado", 6 }, { "sabados", 6 },
};

static int eq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static int in_list(const char *w, const char *const *list)
{
	for (; *list; list++)
		if (eq(w, *list))
			return 1;
	return 0;
}

/* The holiday named by the words starting at w[i], or -1. */
static int holiday_at(const char *const *w, size_t n, size_t i)
{
	const char *a = w[i], *b = i + 1 < n ? w[i + 1] : "", *c = i + 2 < n ? w[i + 2] : "";
	const char *d = i + 3 < n ? w[i + 3] : "";
	int after_vispera = i >= 2 && eq(w[i - 2], "vispera") && eq(w[i - 1], "de");

	if (eq(a, "christmas") || eq(a, "xmas"))
		return eq(b, "eve") ? HOURS_CHRISTMAS_EVE : HOURS_CHRISTMAS;
	if (eq(a, "navidad"))
		return after_vispera ? HOURS_CHRISTMAS_EVE : HOURS_CHRISTMAS;
	if (eq(a, "nochebuena") || (eq(a, "noche") && eq(b, "buena")))
		return HOURS_CHRISTMAS_EVE;
	if (eq(a, "thanksgiving") || (eq(a, "accion") && eq(b, "de") && eq(c, "gracias")))
		return HOURS_THANKSGIVING;
	if (eq(a, "new") && (eq(b, "year") || eq(b, "years")))
		return eq(c, "eve") ? HOURS_NEW_YEARS_EVE : HOURS_NEW_YEARS_DAY;
	if (eq(a, "nye") || eq(a, "nochevieja") || (eq(a, "noche") && eq(b, "vieja")))
		return HOURS_NEW_YEARS_EVE;
	if (eq(a, "ano") && eq(b, "nuevo"))
		return after_vispera ? HOURS_NEW_YEARS_EVE : HOURS_NEW_YEARS_DAY;
	if (eq(a, "fin") && eq(b, "de") && eq(c, "ano") && !eq(d, "nuevo"))
		return HOURS_NEW_YEARS_EVE;
	if ((eq(a, "july") || eq(a, "jul")) && (eq(b, "4") || eq(b, "4th") || eq(b, "fourth")))
		return HOURS_INDEPENDENCE_DAY;
	if ((eq(a, "4") || eq(a, "4th") || eq(a, "fourth")) && eq(b, "of") && eq(c, "july"))
		return HOURS_INDEPENDENCE_DAY;
	if (eq(a, "4") && eq(b, "de") && eq(c, "julio"))
		return HOURS_INDEPENDENCE_DAY;
	if (eq(a, "independence") || eq(a, "independencia"))
		return HOURS_INDEPENDENCE_DAY;
	if ((eq(a, "labor") || eq(a, "labour")) && eq(b, "day"))
		return HOURS_LABOR_DAY;
	if (eq(a, "dia") && eq(b, "del") && (eq(c, "trabajo") || eq(c, "trabajador")))
		return HOURS_LABOR_DAY;
	if (eq(a, "memorial"))
		return HOURS_MEMORIAL_DAY;
	return -1;
}

int hours_parse_question(const char *const *w, size_t n, hours_query *q)
{
	int open_word = 0, now = 0, today = 0, tomorrow = 0, weekend = 0, wday = -1, hol = -1;

	for (size_t i = 0; i < n; i++) {
		const char *a = w[i], *prev = i ? w[i - 1] : "";
		int h;
		if (in_list(a, other_service))
			return 0;
		open_word |= in_list(a, open_words);
		now |= in_list(a, now_words);
		today |= in_list(a, today_words) || (eq(a, "noche") && eq(prev, "esta"));
		/* "en la manana" is "in the morning", "pasado manana" two days away. */
		tomorrow |= in_list(a, tomorrow_words) ||
			    (eq(a, "manana") && !eq(prev, "la") && !eq(prev, "pasado"));
		weekend |= eq(a, "weekend") || eq(a, "weekends") || eq(a, "finde") ||
			   (eq(a, "semana") && i >= 2 && eq(prev, "de") &&
			    (eq(w[i - 2], "fin") || eq(w[i - 2], "fines")));
		for (size_t k = 0; wday < 0 && k < sizeof weekday_words / sizeof weekday_words[0]; k++)
			if (eq(a, weekday_words[k].word))
				wday = weekday_words[k].wday;
		if (hol < 0 && (h = holiday_at(w, n, i)) >= 0)
			hol = h;
	}
	if (!open_word)
		return 0;
	/* When a question names two times, the more specific one wins:
	 * "happy new year, open tomorrow?" is about tomorrow, "open on
	 * thanksgiving thursday?" about Thanksgiving, "still open on
	 * christmas eve?" about Christmas Eve. */
	if (tomorrow)
		q->when = HOURS_TOMORROW;
	else if (today)
		q->when = HOURS_TODAY;
	else if (hol >= 0) {
		q->when = HOURS_HOLIDAY;
		q->holiday = (hours_holiday)hol;
	} else if (wday >= 0) {
		q->when = HOURS_WEEKDAY;
		q->weekday = wday;
	} else if (weekend)
		q->when = HOURS_WEEKEND;
	else if (now)
		q->when = HOURS_NOW;
	else
		return 0;
	return 1;
}

/* ---- answering ---- */

/* The answer being written: out is always NUL-terminated; once something
 * does not fit, cut is set and nothing more is added. */
typedef struct sbuf {
	char *p;
	size_t cap, len;
	int cut;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_add(sbuf *b, const char *fmt, ...)
{
	va_list ap;
	size_t end, i;
	int n;
	if (b->cut)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < b->cap - b->len) {
		b->len += (size_t)n;
		return;
	}
	/* vsnprintf filled the buffer; drop a last character it cut in half, so
	 * the widget never gets broken UTF-8. */
	b->cut = 1;
	end = i = b->cap - 1;
	while (i > 0 && ((unsigned char)b->p[i - 1] & 0xC0) == 0x80)
		i--;
	if (i > 0 && (unsigned char)b->p[i - 1] >= 0xC0) {
		unsigned char lead = (unsigned char)b->p[i - 1];
		size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
		if (end - (i - 1) < need)
			end = i - 1;
	}
	b->p[end] = '\0';
	b->len = end;
}

/* What one question needs: the config, the language and "now" as a local
 * date (days since 1970-01-01) and minute of that day. */
typedef struct ctx {
	const hours_config *c;
	int es;
	int64_t today;
	int now_min;
	char zone[64];          /* label for local times, e.g. "Central Time" */
} ctx;

/* One location's hours on one local date, holidays applied. */
typedef struct dayhours {
	int open, close;        /* open == CLOSED: closed all day */
	const holiday *hol;     /* the clinic's holiday that day, or NULL */
	int early;              /* closes early because of hol */
} dayhours;

static const char *const day_en[7] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
};
static const char *const day_es[7] = {
	"domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado",
};
static const char *const month_en[12] = {
	"January", "February", "March", "April", "May", "June", "July", "August",
	"September", "October", "November", "December",
};
static const char *const month_es[12] = {
	"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
	"septiembre", "octubre", "noviembre", "diciembre",
};

static void day_hours(const hours_config *c, size_t li, int64_t day, dayhours *dh)
{
	span s = c->loc[li].week[weekday_of(day)];
	dh->open = s.open;
	dh->close = s.close;
	dh->hol = NULL;
	dh->early = 0;
	for (size_t i = 0; i < c->n_hol && !dh->hol; i++)
		if (rule_matches(&c->hol[i].r, day))
			dh->hol = &c->hol[i];
	if (!dh->hol || dh->open == CLOSED || dh->hol->until >= dh->close)
		return;
	if (dh->hol->until == CLOSED || dh->hol->until <= dh->open) {
		dh->open = dh->close = CLOSED;
		return;
	}
	dh->close = dh->hol->until;
	dh->early = 1;
}

/* "8:00 am" / "8:00 a. m."; 24:00 is midnight at the end of the day. */
static void fmt_time(int es, int minutes, char *out, size_t outsz)
{
	int h = minutes / 60 % 24, m = minutes % 60, h12 = h % 12 ? h % 12 : 12;
	snprintf(out, outsz, "%d:%02d %s", h12, m,
		 es ? (h < 12 ? "a. m." : "p. m.") : (h < 12 ? "am" : "pm"));
}

/* Spanish says "a la 1:00" but "a las 8:00". */
static const char *es_art(int minutes)
{
	int h = minutes / 60 % 24;
	return h % 12 == 1 ? "la" : "las";
}

/* "Saturday, March 14[, 2026]" / "sábado 14 de marzo[ de 2026]". */
static void fmt_date(int es, int64_t day, int with_year, char *out, size_t outsz)
{
	int y, m, d, wd = weekday_of(day);
	civil_from_days(day, &y, &m, &d);
	if (es)
		snprintf(out, outsz, "%s %d de %s", day_es[wd], d, month_es[m - 1]);
	else
		snprintf(out, outsz, "%s, %s %d", day_en[wd], month_en[m - 1], d);
	if (with_year) {
		size_t len = strlen(out);
		snprintf(out + len, outsz - len, es ? " de %d" : ", %d", y);
	}
}

/* When a location opens again, k days from today: "tomorrow", "Monday",
 * "Monday, March 23" / "mañana", "el lunes", "el lunes 23 de marzo". */
static void fmt_rel_day(const ctx *x, int k, char *out, size_t outsz)
{
	int64_t day = x->today + k;
	char date[64];
	if (k == 1) {
		snprintf(out, outsz, "%s", x->es ? "mañana" : "tomorrow");
	} else if (k < 7) {
		snprintf(out, outsz, "%s%s", x->es ? "el " : "",
			 x->es ? day_es[weekday_of(day)] : day_en[weekday_of(day)]);
	} else {
		fmt_date(x->es, day, 0, date, sizeof date);
		snprintf(out, outsz, "%s%s", x->es ? "el " : "", date);
	}
}

/* Subject of a sentence: one location (li) or, with li < 0, all of them. */
static void fmt_subject(const ctx *x, int li, int capital, char *out, size_t outsz)
{
	const char *s;
	if (li >= 0) {
		snprintf(out, outsz, x->es ? "%ca oficina %s" : "%cur %s office",
			 x->es ? (capital ? 'L' : 'l') : (capital ? 'O' : 'o'), x->c->loc[li].name);
		return;
	}
	if (x->c->n_loc == 2)
		s = x->es ? "las dos oficinas" : "both our offices";
	else
		s = x->es ? "todas nuestras oficinas" : "all our offices";
	snprintf(out, outsz, "%c%s", capital ? s[0] - 'a' + 'A' : s[0], s + 1);
}

/* The predicate for location li now, singular or plural ("are" for "both
 * our offices"). Returns 1 if it is open now, 2 if it opens later today,
 * 0 if it is closed for the rest of today. */
static int now_pred(const ctx *x, size_t li, int plural, char *out, size_t outsz)
{
	const hours_config *c = x->c;
	dayhours t, nd = { 0 };
	char at[32], until[32], rel[80], early[112] = "", reason[80] = "";
	int k;

	day_hours(c, li, x->today, &t);
	if (t.open != CLOSED && x->now_min >= t.open && x->now_min < t.close) {
		fmt_time(x->es, t.close, until, sizeof until);
		if (t.early)
			snprintf(early, sizeof early, x->es ? " (cierra%s temprano por %s)" : "%s (closing early for %s)",
				 x->es && plural ? "n" : "", x->es ? t.hol->name_es : t.hol->name);
		if (x->es)
			snprintf(out, outsz, "%s abierta%s ahora hasta %s %s%s", plural ? "están" : "está",
				 plural ? "s" : "", es_art(t.close), until, early);
		else
			snprintf(out, outsz, "%s open now until %s%s", plural ? "are" : "is", until, early);
		return 1;
	}
	if (t.open != CLOSED && x->now_min < t.open) {
		fmt_time(x->es, t.open, at, sizeof at);
		fmt_time(x->es, t.close, until, sizeof until);
		if (t.early && x->es)
			snprintf(early, sizeof early, " y cierra%s temprano, a %s %s, por %s",
				 plural ? "n" : "", es_art(t.close), until, t.hol->name_es);
		else if (t.early)
			snprintf(early, sizeof early, " and close%s early at %s for %s",
				 plural ? "" : "s", until, t.hol->name);
		if (x->es)
			snprintf(out, outsz, "abre%s hoy a %s %s%s", plural ? "n" : "", es_art(t.open), at, early);
		else
			snprintf(out, outsz, "open%s today at %s%s", plural ? "" : "s", at, early);
		return 2;
	}
	for (k = 1; k <= 14; k++) {
		day_hours(c, li, x->today + k, &nd);
		if (nd.open != CLOSED)
			break;
	}
	if (t.hol && (t.open == CLOSED || t.early))
		snprintf(reason, sizeof reason, x->es ? " por %s" : " for %s",
			 x->es ? t.hol->name_es : t.hol->name);
	if (x->es)
		snprintf(out, outsz, "%s cerrada%s %s%s", plural ? "están" : "está", plural ? "s" : "",
			 t.open == CLOSED ? "hoy" : "ahora", reason);
	else
		snprintf(out, outsz, "%s closed %s%s", plural ? "are" : "is",
			 t.open == CLOSED ? "today" : "now", reason);
	if (k <= 14) {
		size_t len = strlen(out);
		fmt_rel_day(x, k, rel, sizeof rel);
		fmt_time(x->es, nd.open, at, sizeof at);
		if (x->es)
			snprintf(out + len, outsz - len, " y vuelve%s a abrir %s a %s %s", plural ? "n" : "",
				 rel, es_art(nd.open), at);
		else
			snprintf(out + len, outsz - len, " and open%s again %s at %s", plural ? "" : "s", rel, at);
	}
	return 0;
}

/* The predicate for location li on a day. with_reason adds the holiday's
 * name (left out when the sentence already starts with it). Returns 1 if
 * the location is open at all that day. */
static int day_pred(const ctx *x, size_t li, int64_t day, int plural, int with_reason,
		    char *out, size_t outsz)
{
	dayhours dh;
	char open[32], close[32], reason[80] = "";

	day_hours(x->c, li, day, &dh);
	if (with_reason && dh.hol)
		snprintf(reason, sizeof reason, x->es ? " por %s" : " for %s",
			 x->es ? dh.hol->name_es : dh.hol->name);
	if (dh.open == CLOSED) {
		if (x->es)
			snprintf(out, outsz, "%s cerrada%s%s", plural ? "están" : "está", plural ? "s" : "",
				 reason);
		else
			snprintf(out, outsz, "%s closed%s", plural ? "are" : "is", reason);
		return 0;
	}
	fmt_time(x->es, dh.open, open, sizeof open);
	fmt_time(x->es, dh.close, close, sizeof close);
	if (dh.early && x->es)
		snprintf(out, outsz, "abre%s a %s %s y cierra%s temprano, a %s %s%s%s",
			 plural ? "n" : "", es_art(dh.open), open, plural ? "n" : "", es_art(dh.close),
			 close, reason[0] ? "," : "", reason);
	else if (dh.early)
		snprintf(out, outsz, "open%s at %s and close%s early at %s%s", plural ? "" : "s", open,
			 plural ? "" : "s", close, reason);
	else if (x->es)
		snprintf(out, outsz, "abre%s de %s a %s", plural ? "n" : "", open, close);
	else
		snprintf(out, outsz, "%s open %s to %s", plural ? "are" : "is", open, close);
	return 1;
}

#define PRED_SZ 320

/* The full stop after s, unless s already ends with one ("1:00 p. m."). */
static const char *stop_after(const char *s)
{
	size_t len = strlen(s);
	return len && s[len - 1] == '.' ? "" : ".";
}

/* "It's Saturday 10:15 am here (Central Time)." */
static void say_clock(const ctx *x, sbuf *b)
{
	char t[32];
	int wd = weekday_of(x->today);
	fmt_time(x->es, x->now_min, t, sizeof t);
	if (x->es)
		sb_add(b, "%s %s %s del %s aquí (%s).", x->now_min / 60 % 12 == 1 ? "Es" : "Son",
		       es_art(x->now_min), t, day_es[wd], x->zone);
	else
		sb_add(b, "It's %s %s here (%s).", day_en[wd], t, x->zone);
}

/* One sentence per location, or one for all when they say the same thing.
 * Returns how many locations are open now (or, with later_today, open now
 * or later today). */
static int say_now(const ctx *x, sbuf *b, int later_today)
{
	char pred[HOURS_MAX_LOCATIONS][PRED_SZ], subj[96];
	int n_open = 0, same = x->c->n_loc > 1;
	for (size_t i = 0; i < x->c->n_loc; i++) {
		int st = now_pred(x, i, 0, pred[i], PRED_SZ);
		n_open += st == 1 || (later_today && st == 2);
		same = same && strcmp(pred[i], pred[0]) == 0;
	}
	if (same) {
		now_pred(x, 0, 1, pred[0], PRED_SZ);
		fmt_subject(x, -1, 1, subj, sizeof subj);
		sb_add(b, " %s %s%s", subj, pred[0], stop_after(pred[0]));
		return n_open;
	}
	for (size_t i = 0; i < x->c->n_loc; i++) {
		fmt_subject(x, (int)i, 1, subj, sizeof subj);
		sb_add(b, " %s %s%s", subj, pred[i], stop_after(pred[i]));
	}
	return n_open;
}

/* "<label>: our Downtown office is closed; our Northgate office is open
 * 9:00 am to 1:00 pm." Returns how many locations are open that day. */
static int say_day(const ctx *x, sbuf *b, const char *label, int64_t day, int with_reason)
{
	char pred[HOURS_MAX_LOCATIONS][PRED_SZ], subj[96];
	int n_open = 0, same = x->c->n_loc > 1;
	for (size_t i = 0; i < x->c->n_loc; i++) {
		n_open += day_pred(x, i, day, 0, with_reason, pred[i], PRED_SZ);
		same = same && strcmp(pred[i], pred[0]) == 0;
	}
	sb_add(b, " %s:", label);
	if (same) {
		day_pred(x, 0, day, 1, with_reason, pred[0], PRED_SZ);
		fmt_subject(x, -1, 0, subj, sizeof subj);
		sb_add(b, " %s %s%s", subj, pred[0], stop_after(pred[0]));
		return n_open;
	}
	for (size_t i = 0; i < x->c->n_loc; i++) {
		fmt_subject(x, (int)i, 0, subj, sizeof subj);
		sb_add(b, " %s %s%s", subj, pred[i], i + 1 < x->c->n_loc ? ";" : stop_after(pred[i]));
	}
	return n_open;
}

/* "Tomorrow, Saturday, March 14" / "El sábado 14 de marzo". */
static void day_label(const ctx *x, int64_t day, char *out, size_t outsz)
{
	char date[64];
	int64_t k = day - x->today;
	fmt_date(x->es, day, 0, date, sizeof date);
	if (k == 0)
		snprintf(out, outsz, x->es ? "Hoy, %s" : "Today, %s", date);
	else if (k == 1)
		snprintf(out, outsz, x->es ? "Mañana, %s" : "Tomorrow, %s", date);
	else
		snprintf(out, outsz, x->es ? "El %s" : "%s", date);
}

/* The next day (today or later) that is holiday h. */
static int64_t next_holiday(const ctx *x, hours_holiday h)
{
	rule r;
	int64_t day = x->today;
	/* The built-in rules are constants checked by the tests. */
	if (parse_rule(builtin_holiday[h].rule, &r) != 0)
		return x->today;
	for (int k = 0; k <= 366; k++, day++)
		if (rule_matches(&r, day))
			return day;
	return x->today;
}

/* Local time of t in zone tz (see the comment at the top of this file):
 * sets TZ, converts, restores the old TZ. Returns 0 or -1. */
static int local_time(const char *tz, int64_t t, struct tm *out, char *abbr, size_t abbrsz)
{
	const char *cur = getenv("TZ");
	char *old = NULL;
	time_t tt = (time_t)t;
	int rc = -1;

	if ((int64_t)tt != t)
		return -1;
	if (cur && !(old = strdup(cur)))
		return -1;
	if (setenv("TZ", tz, 1) != 0)
		goto out;
	tzset(); /* localtime_r need not re-read TZ by itself */
	if (!localtime_r(&tt, out))
		goto out;
	/* tm_zone points into the C library's zone state: copy it before the
	 * old zone replaces it. */
	snprintf(abbr, abbrsz, "%s", out->tm_zone ? out->tm_zone : "");
	rc = 0;
out:
	if (old)
		setenv("TZ", old, 1);
	else
		unsetenv("TZ");
	tzset();
	free(old);
	return rc;
}

int hours_answer(const hours_config *c, const hours_query *q, int64_t now_unix,
		 int lang, char *out, size_t outsz)
{
	sbuf b = { out, outsz, 0, 0 };
	ctx x = { 0 };
	struct tm tm;
	char abbr[16], label[160];
	const char *zone;
	int closed = 0;

	assert(c && q && out);
	if (outsz == 0)
		return -1;
	out[0] = '\0';
	if (local_time(c->tz, now_unix, &tm, abbr, sizeof abbr) != 0)
		return -1;
	x.c = c;
	x.es = lang == 1;
	x.today = days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	x.now_min = tm.tm_hour * 60 + tm.tm_min;
	zone = x.es && c->tz_label_es ? c->tz_label_es : c->tz_label ? c->tz_label : abbr;
	snprintf(x.zone, sizeof x.zone, "%s", zone);

	switch (q->when) {
	case HOURS_WEEKDAY: {
		int k = ((q->weekday % 7 + 7) % 7 - weekday_of(x.today) + 7) % 7;
		/* Asked on that very weekday: what matters is now. */
		if (k == 0)
			goto today;
		day_label(&x, x.today + k, label, sizeof label);
		closed = say_day(&x, &b, label, x.today + k, 1) == 0;
		break;
	}
	case HOURS_TOMORROW:
		day_label(&x, x.today + 1, label, sizeof label);
		closed = say_day(&x, &b, label, x.today + 1, 1) == 0;
		break;
	case HOURS_WEEKEND: {
		int ksat = (6 - weekday_of(x.today) + 7) % 7, ksun = (7 - weekday_of(x.today)) % 7;
		int first = ksat < ksun ? ksat : ksun, second = ksat < ksun ? ksun : ksat;
		day_label(&x, x.today + first, label, sizeof label);
		closed = say_day(&x, &b, label, x.today + first, 1) == 0;
		day_label(&x, x.today + second, label, sizeof label);
		closed |= say_day(&x, &b, label, x.today + second, 1) == 0;
		break;
	}
	case HOURS_HOLIDAY: {
		hours_holiday h = (unsigned)q->holiday < HOURS_N_HOLIDAYS ? q->holiday : HOURS_CHRISTMAS;
		int64_t day = next_holiday(&x, h);
		dayhours dh;
		char date[64];
		const char *name;
		day_hours(c, 0, day, &dh);
		/* The clinic's own name for it when it keeps it, else ours. */
		if (dh.hol)
			name = x.es ? dh.hol->name_es : dh.hol->name;
		else
			name = x.es ? builtin_holiday[h].name_es : builtin_holiday[h].name;
		fmt_date(x.es, day, 1, date, sizeof date);
		if (day == x.today)
			snprintf(label, sizeof label, x.es ? "Hoy es %s (%s)" : "Today is %s (%s)", name, date);
		else
			snprintf(label, sizeof label, x.es ? "%s es el %s" : "%s is %s", name, date);
		if (label[0] >= 'a' && label[0] <= 'z')
			label[0] = (char)(label[0] - 'a' + 'A'); /* "el Día del Trabajo" */
		closed = say_day(&x, &b, label, day, 0) == 0;
		break;
	}
	case HOURS_NOW:
		say_clock(&x, &b);
		closed = say_now(&x, &b, 0) == 0;
		break;
	case HOURS_TODAY:
	default:
	today:
		say_clock(&x, &b);
		closed = say_now(&x, &b, 1) == 0;
		break;
	}

	if (closed && c->nurse_line)
		sb_add(&b, x.es ? " Cuando estamos cerrados, la línea de enfermería al %s le puede ayudar; "
			  "en una emergencia, llame al 911." :
			  " When we're closed, our nurse line at %s can help; for an emergency, call 911.",
		       c->nurse_line);
	else if (closed)
		sb_add(&b, "%s", x.es ? " En una emergencia, llame al 911." : " For an emergency, call 911.");
	else if (c->phone)
		sb_add(&b, x.es ? " Puede llamarnos al %s." : " You can call us at %s.", c->phone);

	/* Sentences after the first are written with a leading space. */
	if (out[0] == ' ')
		memmove(out, out + 1, strlen(out));
	return b.cut ? -1 : 0;
}

int hours_open_now(const hours_config *c, int64_t now_unix)
{
	struct tm tm;
	char abbr[16];
	int64_t today;
	int now_min;

	if (!c)
		return -1;
	if (local_time(c->tz, now_unix, &tm, abbr, sizeof abbr) != 0)
		return -1;
	today = days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	now_min = tm.tm_hour * 60 + tm.tm_min;
	for (size_t i = 0; i < c->n_loc; i++) {
		dayhours dh;
		day_hours(c, i, today, &dh);
		if (dh.open != CLOSED && now_min >= dh.open && now_min < dh.close)
			return 1;
	}
	return 0;
}
