/* kbfile: see kbfile.h. */
#include "kbfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"
#include "util.h"

void kb_entry_clear(kb_entry *e)
{
	free(e->id);
	free(e->question);
	free(e->answer);
	free(e->category);
	free(e->lang);
	for (size_t i = 0; i < e->n_alternates; i++)
		free(e->alternates[i]);
	free(e->alternates);
	memset(e, 0, sizeof *e);
}

void kb_list_free(kb_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		kb_entry_clear(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* Copies a required or optional string field, checking type, UTF-8 and size.
 * Returns 0 (out set, or NULL when absent and optional) or -1. */
static int get_string(const json_t *obj, const char *key, int required, size_t max,
		      char **out, char *err, size_t errsz)
{
	const json_t *v = json_object_get(obj, key);
	const char *s;
	size_t len;
	*out = NULL;
	if (!v) {
		if (required) {
			snprintf(err, errsz, "missing \"%s\"", key);
			return -1;
		}
		return 0;
	}
	if (!json_is_string(v)) {
		snprintf(err, errsz, "\"%s\" must be a string", key);
		return -1;
	}
	s = json_string_value(v);
	len = json_string_length(v);
	if (strlen(s) != len) {
		snprintf(err, errsz, "\"%s\" contains a NUL character", key);
		return -1;
	}
	if (required && strspn(s, " \t\r\n") == len) {
		snprintf(err, errsz, "\"%s\" is empty", key);
		return -1;
	}
	if (len > max) {
		snprintf(err, errsz, "\"%s\" is longer than %zu bytes", key, max);
		return -1;
	}
	*out = strdup(s);
	if (!*out) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	return 0;
}

static int valid_id(const char *id)
{
	for (const char *p = id; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':'))
			return 0;
	}
	return 1;
}

int kb_entry_from_json(const json_t *obj, kb_entry *e, char *err, size_t errsz)
{
	static const char *const known[] = {
		"id", "question", "alternates", "answer", "category", "lang", NULL,
	};
	const char *key;
	const json_t *val, *alts;

	memset(e, 0, sizeof *e);
	if (!json_is_object(obj)) {
		snprintf(err, errsz, "not a JSON object");
		return -1;
	}
	json_object_foreach((json_t *)obj, key, val) {
		int ok = 0;
		for (size_t i = 0; known[i]; i++)
			ok |= strcmp(key, known[i]) == 0;
		if (!ok) {
			snprintf(err, errsz, "unknown field \"%.40s\"", key);
			return -1;
		}
	}
	if (get_string(obj, "id", 1, KB_MAX_ID, &e->id, err, errsz) ||
	    get_string(obj, "question", 1, KB_MAX_QUESTION, &e->question, err, errsz) ||
	    get_string(obj, "answer", 1, KB_MAX_ANSWER, &e->answer, err, errsz) ||
	    get_string(obj, "category", 0, 300, &e->category, err, errsz) ||
	    get_string(obj, "lang", 0, 8, &e->lang, err, errsz))
		goto fail;
	if (!valid_id(e->id)) {
		snprintf(err, errsz, "\"id\" may hold only letters, digits and - _ . :");
		goto fail;
	}
	if (!e->category && !(e->category = strdup("general")))
		goto oom;
	if (!e->lang && !(e->lang = strdup("en")))
		goto oom;
	if (strcmp(e->lang, "en") != 0 && strcmp(e->lang, "es") != 0) {
		snprintf(err, errsz, "\"lang\" must be \"en\" or \"es\"");
		goto fail;
	}
	alts = json_object_get(obj, "alternates");
	if (alts && !json_is_array(alts)) {
		snprintf(err, errsz, "\"alternates\" must be an array of strings");
		goto fail;
	}
	if (alts && json_array_size(alts) > KB_MAX_ALTERNATES) {
		snprintf(err, errsz, "more than %d alternates", KB_MAX_ALTERNATES);
		goto fail;
	}
	if (alts && json_array_size(alts) > 0) {
		size_t n = json_array_size(alts);
		e->alternates = calloc(n, sizeof *e->alternates);
		if (!e->alternates)
			goto oom;
		for (size_t i = 0; i < n; i++) {
			const json_t *a = json_array_get(alts, i);
			if (!json_is_string(a) || json_string_length(a) == 0 ||
			    json_string_length(a) > KB_MAX_QUESTION ||
			    strlen(json_string_value(a)) != json_string_length(a)) {
				snprintf(err, errsz, "alternate %zu must be a non-empty string of at most %d bytes",
					 i + 1, KB_MAX_QUESTION);
				goto fail;
			}
			if (!(e->alternates[i] = strdup(json_string_value(a))))
				goto oom;
			e->n_alternates++;
		}
	}
	return 0;
oom:
	snprintf(err, errsz, "out of memory");
fail:
	kb_entry_clear(e);
	return -1;
}

json_t *kb_entry_to_json(const kb_entry *e)
{
	json_t *alts = json_array();
	for (size_t i = 0; i < e->n_alternates; i++)
		json_array_append_new(alts, json_string(e->alternates[i]));
	return json_pack("{s:s, s:s, s:o, s:s, s:s, s:s}", "id", e->id,
			 "question", e->question, "alternates", alts,
			 "answer", e->answer, "category", e->category, "lang", e->lang);
}

static int list_push(kb_list *l, kb_entry *e)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		kb_entry *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *e;
	memset(e, 0, sizeof *e);
	return 0;
}

int kb_parse_file(const char *path, kb_list *l, FILE *report, char *err, size_t errsz)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, lineno = 0, first_new = l->n;
	ssize_t len;
	int bad = 0;
	strmap *ids;

	if (!f) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!(ids = strmap_new())) {
		fclose(f);
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < l->n; i++)
		if (strmap_put(ids, l->v[i].id, (int)i) < 0)
			bad++;
	while ((len = getline(&line, &cap, f)) >= 0) {
		char why[200];
		json_error_t jerr;
		json_t *obj;
		kb_entry e;

		lineno++;
		if (strspn(line, " \t\r\n") == (size_t)len)
			continue;
		if (!util_utf8_valid(line, (size_t)len)) {
			snprintf(why, sizeof why, "invalid UTF-8");
			goto bad_line;
		}
		obj = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
		if (!obj) {
			snprintf(why, sizeof why, "invalid JSON: %s (column %d)", jerr.text, jerr.column);
			goto bad_line;
		}
		if (kb_entry_from_json(obj, &e, why, sizeof why) < 0) {
			json_decref(obj);
			goto bad_line;
		}
		json_decref(obj);
		int seen = strmap_get(ids, e.id, -1);
		if (seen >= 0) {
			snprintf(why, sizeof why, "duplicate id \"%.100s\"%s", e.id,
				 (size_t)seen >= first_new ? " (earlier in this file)" : " (in an earlier file)");
			kb_entry_clear(&e);
			goto bad_line;
		}
		if (strmap_put(ids, e.id, (int)l->n) < 0 || list_push(l, &e) < 0) {
			kb_entry_clear(&e);
			snprintf(why, sizeof why, "out of memory");
			goto bad_line;
		}
		continue;
bad_line:
		bad++;
		if (report)
			fprintf(report, "%s:%zu: %s\n", path, lineno, why);
	}
	free(line);
	fclose(f);
	strmap_free(ids);
	return bad;
}
