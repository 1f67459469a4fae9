/* hours: answers "are you open now / on Saturday / on Christmas?" from the
 * clinic's structured opening hours, at the actual time in the clinic's time
 * zone, instead of from a static knowledge-base paragraph. No sockets; the
 * only I/O is the C library's: the zone file under /usr/share/zoneinfo.
 *
 * The config (kb/hours.json for the default clinic):
 *
 *   {
 *     "timezone": "America/Chicago",          required, an IANA zone name
 *     "timezone_label": "Central Time",       optional, shown after local times
 *     "timezone_label_es": "hora del centro", optional (default: the label)
 *     "phone": "(555) 010-2400",              optional, said when open
 *     "nurse_line": "(555) 010-2411",         optional, said when closed
 *     "entries": ["hours-weekday", ...],      optional, KB entries this replaces
 *     "locations": [                          required, 1 to 8
 *       {"name": "Downtown",
 *        "week": {"mon": "08:00-18:00", "tue": "08:00-19:00", ...,
 *                 "sat": "closed"}}
 *     ],
 *     "holidays": [                           optional, up to 64
 *       {"name": "Thanksgiving Day", "name_es": "el Día de Acción de Gracias",
 *        "rule": "fourth thu of nov", "hours": "closed"},
 *       {"name": "Christmas Eve", "name_es": "Nochebuena",
 *        "rule": "12-24", "hours": "until 14:00"}
 *     ]
 *   }
 *
 * Week keys are mon tue wed thu fri sat sun; a day that is missing is closed.
 * A day is "closed" or one span "HH:MM-HH:MM" (24-hour, 00:00 to 24:00, open
 * before close; no lunch breaks). A holiday rule is a fixed date "MM-DD" or
 * "<first|second|third|fourth|last> <weekday> of <jan..dec>"; it applies on
 * that date itself (no "observed" shifting to a Friday or Monday). Holiday
 * hours are "closed" (every location) or "until HH:MM" (each location opens
 * as usual and closes at that time at the latest). Unknown fields are errors,
 * as in the KB format, so a typo is caught at load instead of ignored.
 * "name_es" (default: "name") carries its article when Spanish needs one,
 * because answers say "cerrada por el Día del Trabajo" but "por Navidad".
 *
 * Times are compared as local wall-clock times on local dates, so answers are
 * right across DST changes; only the conversion of "now" to local time uses
 * the time zone (see hours.c). */
#ifndef FD_HOURS_H
#define FD_HOURS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define HOURS_MAX_LOCATIONS 8
#define HOURS_MAX_HOLIDAYS 64
#define HOURS_MAX_ENTRIES 32

typedef struct hours_config hours_config;

/* Parses a config from j (borrowed). Returns a new config the caller frees
 * with hours_config_free, or NULL with the reason in err ("locations[0].week
 * .mon: bad time \"25:00\" ..."). */
hours_config *hours_config_parse(const json_t *j, char *err, size_t errsz);

/* Frees c and everything it owns; NULL is fine. */
void hours_config_free(hours_config *c);

/* 1 if entry_id (or, for a Spanish translation "X-es", X) is listed in
 * "entries": the questions of those KB entries are answered by this module
 * when hours_parse_question recognises them. 0 otherwise. */
int hours_config_covers(const hours_config *c, const char *entry_id);

/* The holidays a patient can ask about by name. Their dates are built in
 * (US rules); what the clinic does on each comes from the config's
 * "holidays", matched by date, so a holiday the clinic keeps open is
 * answered with that day's regular hours. */
typedef enum {
	HOURS_NEW_YEARS_DAY = 0,
	HOURS_MEMORIAL_DAY,
	HOURS_INDEPENDENCE_DAY,
	HOURS_LABOR_DAY,
	HOURS_THANKSGIVING,
	HOURS_CHRISTMAS_EVE,
	HOURS_CHRISTMAS,
	HOURS_NEW_YEARS_EVE,
	HOURS_N_HOLIDAYS
} hours_holiday;

typedef enum {
	HOURS_NOW = 0,      /* now, right now, currently, still open, ahora */
	HOURS_TODAY,        /* today, tonight, hoy, esta noche */
	HOURS_TOMORROW,     /* tomorrow, manana */
	HOURS_WEEKDAY,      /* next such weekday, today included: see weekday */
	HOURS_WEEKEND,      /* the coming Saturday and Sunday */
	HOURS_HOLIDAY,      /* the holiday's next occurrence: see holiday */
} hours_when;

/* What a question asks about. Plain data; fill it with hours_parse_question
 * or by hand (tests do). */
typedef struct hours_query {
	hours_when when;
	int weekday;            /* HOURS_WEEKDAY: 0 = Sunday ... 6 = Saturday */
	hours_holiday holiday;  /* HOURS_HOLIDAY */
} hours_query;

/* words: folded words as text_words() makes them (borrowed). Returns 1 and
 * fills q when they ask whether the clinic is open/closed (or its hours) at a
 * specific time; 0 (q untouched) when there is no time word, no open/close/
 * hours word, or the question is about something with hours of its own (the
 * lab, the phone lines, the pharmacy, the portal). */
int hours_parse_question(const char *const *words, size_t n, hours_query *q);

/* Writes the answer to q at now_unix (seconds since the epoch) into out, in
 * English (lang 0) or Spanish (lang 1; anything else is English), always
 * NUL-terminated. Ends with the nurse line when the clinic is closed at the
 * asked time. Returns 0, or -1 if out was too small (the text is cut) or the
 * time could not be converted. Not thread-safe: see hours.c. */
int hours_answer(const hours_config *c, const hours_query *q, int64_t now_unix,
		 int lang, char *out, size_t outsz);

/* 1 if at least one location is open at now_unix, 0 if all are closed
 * (holidays included), -1 if c is NULL or the time could not be converted.
 * Not thread-safe, like hours_answer. */
int hours_open_now(const hours_config *c, int64_t now_unix);

#endif
