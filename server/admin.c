/* admin: see admin.h. */
#include "admin.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kbfile.h"
#include "redact.h"
#include "text.h"
#include "util.h"

struct admin {
	store *st;
	engine *eng;
	chat_ctx *chat;            /* for the patient messages; may be NULL */
	text_analyzer *ta;
	text_terms *terms;         /* big: on the heap, reused */
};

static json_t *fail(int *status_out, int status, char *err, size_t errsz, const char *msg)
{
	*status_out = status;
	snprintf(err, errsz, "%s", msg);
	return NULL;
}

static json_t *db_fail(admin *a, int *status_out, char *err, size_t errsz)
{
	*status_out = 500;
	snprintf(err, errsz, "database: %s", sqlite3_errmsg(store_db(a->st)));
	return NULL;
}

int admin_open(store *st, engine *eng, admin **out, char *err, size_t errsz)
{
	admin *a = calloc(1, sizeof *a);
	*out = NULL;
	if (!a) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	a->st = st;
	a->eng = eng;
	a->ta = text_analyzer_new();
	a->terms = malloc(sizeof *a->terms);
	if (!a->ta || !a->terms) {
		admin_close(a);
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	*out = a;
	return 0;
}

engine *admin_engine(admin *a)
{
	return a->eng;
}

void admin_close(admin *a)
{
	if (!a)
		return;
	text_analyzer_free(a->ta);
	free(a->terms);
	free(a);
}

void admin_audit(store *st, const char *actor, const char *action, const char *target,
		 const char *detail, const char *peer)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *q = NULL;
	if (sqlite3_prepare_v2(db, "INSERT INTO audit(at, actor, action, target, detail, peer)"
			       " VALUES(?1, ?2, ?3, ?4, ?5, ?6)", -1, &q, NULL) != SQLITE_OK) {
		util_log("error", "audit: %s", sqlite3_errmsg(db));
		return;
	}
	sqlite3_bind_int64(q, 1, util_now_us() / 1000);
	sqlite3_bind_text(q, 2, actor ? actor : "-", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, target, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, detail, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, peer, -1, SQLITE_STATIC);
	if (sqlite3_step(q) != SQLITE_DONE)
		util_log("error", "audit: %s", sqlite3_errmsg(db));
	sqlite3_finalize(q);
}

/* --- entries -------------------------------------------------------------- */



static int date_ok(const char *d)
{
	return strlen(d) == 10 && isdigit((unsigned char)d[0]) && isdigit((unsigned char)d[1]) &&
	       isdigit((unsigned char)d[2]) && isdigit((unsigned char)d[3]) && d[4] == '-' &&
	       isdigit((unsigned char)d[5]) && isdigit((unsigned char)d[6]) && d[7] == '-' &&
	       isdigit((unsigned char)d[8]) && isdigit((unsigned char)d[9]);
}

json_t *admin_entries(admin *a, const char *q, const char *category, const char *status,
		      int *status_out, char *err, size_t errsz)
{
	sqlite3 *db = store_db(a->st);
	sqlite3_stmt *s = NULL;
	json_t *list;
	int step;
	/* Entries, and drafts of entries that were never published. */
	if (sqlite3_prepare_v2(db,
		"SELECT e.id, e.question, e.category, e.lang, e.status, e.revision, e.updated_at,"
		" e.review_by, e.owner,"
		" (SELECT max(r.revision) FROM entry_revisions r WHERE r.entry_id = e.id"
		"   AND r.status = 'draft' AND r.revision > e.revision)"
		" FROM entries e"
		" WHERE (?1 = '' OR instr(lower(e.id || ' ' || e.question || ' ' || e.alternates || ' ' ||"
		"   e.answer), lower(?1)) > 0)"
		" AND (?2 = '' OR e.category = ?2)"
		" AND (?3 = '' OR e.status = ?3 OR (?3 = 'review_due' AND e.status = 'published'"
		"   AND e.review_by IS NOT NULL AND e.review_by < date('now')))"
		" ORDER BY e.category, e.id", -1, &s, NULL) != SQLITE_OK)
		return db_fail(a, status_out, err, errsz);
	sqlite3_bind_text(s, 1, q ? q : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, category ? category : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, status ? status : "", -1, SQLITE_STATIC);
	list = json_array();
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		char ts[21];
		util_iso8601(sqlite3_column_int64(s, 6) / 1000, ts);
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s?, s:s?, s:o}",
			"id", (const char *)sqlite3_column_text(s, 0),
			"question", (const char *)sqlite3_column_text(s, 1),
			"category", (const char *)sqlite3_column_text(s, 2),
			"lang", (const char *)sqlite3_column_text(s, 3),
			"status", (const char *)sqlite3_column_text(s, 4),
			"revision", (json_int_t)sqlite3_column_int64(s, 5),
			"updated_at", ts,
			"review_by", (const char *)sqlite3_column_text(s, 7),
			"owner", (const char *)sqlite3_column_text(s, 8),
			"draft", sqlite3_column_type(s, 9) == SQLITE_NULL ? json_null()
				 : json_integer(sqlite3_column_int64(s, 9))));
		{
			/* past its review-by date: the bot hands its questions to staff */
			const char *rb = (const char *)sqlite3_column_text(s, 7);
			char today[21];
			util_iso8601(util_now_us() / 1000000, today);
			json_object_set_new(json_array_get(list, json_array_size(list) - 1), "review_due",
					    json_boolean(rb && strncmp(rb, today, 10) < 0));
		}
	}
	sqlite3_finalize(s);
	if (step != SQLITE_DONE) {
		json_decref(list);
		return db_fail(a, status_out, err, errsz);
	}
	return json_pack("{s:o}", "entries", list);
}

json_t *admin_entry_get(admin *a, const char *id, int *status_out, char *err, size_t errsz)
{
	sqlite3 *db = store_db(a->st);
	sqlite3_stmt *s = NULL;
	json_t *entry = NULL, *revs;
	int step;

	if (sqlite3_prepare_v2(db,
		"SELECT json_object('id', id, 'question', question, 'alternates', json(alternates),"
		" 'answer', answer, 'category', category, 'lang', lang, 'status', status,"
		" 'revision', revision, 'review_by', review_by, 'owner', owner) FROM entries WHERE id = ?1",
		-1, &s, NULL) != SQLITE_OK)
		return db_fail(a, status_out, err, errsz);
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		entry = json_loads((const char *)sqlite3_column_text(s, 0), 0, NULL);
	sqlite3_finalize(s);
	if (!entry)
		return fail(status_out, 404, err, errsz, "no such entry");
	if (sqlite3_prepare_v2(db, "SELECT revision, status, author, created_at, doc FROM entry_revisions"
			       " WHERE entry_id = ?1 ORDER BY revision DESC", -1, &s, NULL) != SQLITE_OK) {
		json_decref(entry);
		return db_fail(a, status_out, err, errsz);
	}
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	revs = json_array();
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		char ts[21];
		json_t *doc = json_loads((const char *)sqlite3_column_text(s, 4), 0, NULL);
		util_iso8601(sqlite3_column_int64(s, 3) / 1000, ts);
		json_array_append_new(revs, json_pack("{s:I, s:s, s:s, s:s, s:o}",
			"revision", (json_int_t)sqlite3_column_int64(s, 0),
			"status", (const char *)sqlite3_column_text(s, 1),
			"author", (const char *)sqlite3_column_text(s, 2),
			"created_at", ts, "doc", doc ? doc : json_null()));
	}
	sqlite3_finalize(s);
	return json_pack("{s:o, s:o}", "entry", entry, "revisions", revs);
}

/* The latest revision number of an entry (0: none). */
static int64_t latest_revision(admin *a, const char *id)
{
	sqlite3_stmt *s = NULL;
	int64_t r = 0;
	if (sqlite3_prepare_v2(store_db(a->st), "SELECT coalesce(max(revision), 0) FROM entry_revisions"
			       " WHERE entry_id = ?1", -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			r = sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	return r;
}

/* Validates a body into a kb entry JSON doc (new reference) or NULL with err. */
static json_t *entry_doc(const char *id, const json_t *body, char *err, size_t errsz)
{
	const json_t *alts = json_object_get(body, "alternates");
	const char *question = json_string_value(json_object_get(body, "question"));
	const char *answer = json_string_value(json_object_get(body, "answer"));
	const char *category = json_string_value(json_object_get(body, "category"));
	const char *lang = json_string_value(json_object_get(body, "lang"));
	json_t *doc;
	kb_entry e;
	size_t i;
	const json_t *v;

	if (!question || !answer || strspn(question, " \t\r\n") == strlen(question) ||
	    strspn(answer, " \t\r\n") == strlen(answer)) {
		snprintf(err, errsz, "\"question\" and \"answer\" are required");
		return NULL;
	}
	/* Lengths, the id's characters and the rest: the importer's own rules
	 * (kb_entry_from_json below), so whatever imports can be edited. */
	if (alts && (!json_is_array(alts) || json_array_size(alts) > ADMIN_MAX_ALTERNATES)) {
		snprintf(err, errsz, "\"alternates\" must be a list of at most %d questions", ADMIN_MAX_ALTERNATES);
		return NULL;
	}
	json_array_foreach(alts, i, v) {
		if (!json_is_string(v)) {
			snprintf(err, errsz, "alternate %zu must be a question (a string)", i + 1);
			return NULL;
		}
	}
	/* "o" steals the reference, also when packing fails (an id from the
	 * URL that is not UTF-8): nothing leaks either way. */
	doc = json_pack("{s:s, s:s, s:o, s:s, s:s, s:s}", "id", id, "question", question,
			"alternates", alts ? json_incref((json_t *)alts) : json_array(), "answer", answer,
			"category", category ? category : "general", "lang", lang ? lang : "en");
	if (!doc) {
		snprintf(err, errsz, "the id, category and language must be text (UTF-8)");
		return NULL;
	}
	/* The importer's own checks (empty alternates, languages...). */
	if (kb_entry_from_json(doc, &e, err, errsz) < 0) {
		json_decref(doc);
		return NULL;
	}
	kb_entry_clear(&e);
	return doc;
}

/* Publishes doc as the entry's live version (in the caller's transaction). */
static int publish_doc(admin *a, const json_t *doc, int64_t revision, const char *review_by,
		       const char *owner, char *err, size_t errsz)
{
	sqlite3 *db = store_db(a->st);
	sqlite3_stmt *s = NULL;
	char *alts = json_dumps(json_object_get(doc, "alternates"), JSON_COMPACT);
	int64_t now = util_now_us() / 1000;
	int rc = -1;
	if (!alts) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if (sqlite3_prepare_v2(db,
		"INSERT INTO entries(id, question, alternates, answer, category, lang, status, revision,"
		" review_by, owner, created_at, updated_at)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, 'published', ?7, ?8, ?9, ?10, ?10)"
		" ON CONFLICT(id) DO UPDATE SET question = excluded.question,"
		" alternates = excluded.alternates, answer = excluded.answer, category = excluded.category,"
		" lang = excluded.lang, status = 'published', revision = excluded.revision,"
		" review_by = excluded.review_by, owner = excluded.owner, updated_at = excluded.updated_at",
		-1, &s, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(s, 1, json_string_value(json_object_get(doc, "id")), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, json_string_value(json_object_get(doc, "question")), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, alts, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, json_string_value(json_object_get(doc, "answer")), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, json_string_value(json_object_get(doc, "category")), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, json_string_value(json_object_get(doc, "lang")), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, revision);
	sqlite3_bind_text(s, 8, review_by, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 9, owner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 10, now);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto out;
	if (sqlite3_exec(db, "INSERT INTO meta(key, value) VALUES('kb_version', '1')"
			 " ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
			 NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		snprintf(err, errsz, "database: %s", sqlite3_errmsg(db));
	sqlite3_finalize(s);
	free(alts);
	return rc;
}

static int add_revision(admin *a, const char *id, int64_t revision, const char *status,
			const json_t *doc, const char *actor, char *err, size_t errsz)
{
	sqlite3 *db = store_db(a->st);
	sqlite3_stmt *s = NULL;
	char *text = json_dumps(doc, JSON_COMPACT);
	int rc = -1;
	if (text && sqlite3_prepare_v2(db, "INSERT INTO entry_revisions(entry_id, revision, status, doc,"
				       " author, created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
				       -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, revision);
		sqlite3_bind_text(s, 3, status, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, text, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, actor, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 6, util_now_us() / 1000);
		rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
	}
	if (rc < 0)
		snprintf(err, errsz, "database: %s", sqlite3_errmsg(db));
	sqlite3_finalize(s);
	free(text);
	return rc;
}

/* After a publish: the engine rebuilds from the store now, so the very next
 * patient question sees the change. */
static void reload(admin *a)
{
	char err[256];
	if (engine_reload(a->eng, err, sizeof err) < 0)
		util_log("error", "admin: the engine kept its previous knowledge base: %s", err);
}

json_t *admin_entry_save(admin *a, const char *id, const json_t *body, const char *actor,
			 int *status_out, char *err, size_t errsz)
{
	const json_t *jbase = json_object_get(body, "base_revision");
	const json_t *jreview = json_object_get(body, "review_by");
	const json_t *jowner = json_object_get(body, "owner");
	int publish = json_is_true(json_object_get(body, "publish"));
	int creating = id == NULL;
	const char *review_by = json_string_value(jreview), *owner = json_string_value(jowner);
	int64_t latest, rev;
	json_t *doc;
	char why[256];

	if (!json_is_object(body))
		return fail(status_out, 400, err, errsz, "the body must be a JSON object");
	if (creating)
		id = json_string_value(json_object_get(body, "id"));
	if (review_by && !date_ok(review_by))
		return fail(status_out, 400, err, errsz, "\"review_by\" must be a date, YYYY-MM-DD");
	if (owner && util_utf8_chars(owner, strlen(owner)) > 100)
		return fail(status_out, 400, err, errsz, "\"owner\" is too long");
	if (!(doc = entry_doc(id ? id : "", body, why, sizeof why)))
		return fail(status_out, 400, err, errsz, why);
	latest = latest_revision(a, id);
	if (creating && latest > 0) {
		json_decref(doc);
		return fail(status_out, 409, err, errsz, "an entry with this id exists");
	}
	if (!creating && latest == 0) {
		json_decref(doc);
		return fail(status_out, 404, err, errsz, "no such entry");
	}
	/* Two admins editing one entry: the second save names a revision that
	 * is no longer the latest, and is refused instead of overwriting. */
	if (!creating && (!json_is_integer(jbase) || json_integer_value(jbase) != latest)) {
		json_decref(doc);
		*status_out = 409;
		snprintf(err, errsz, "this entry was changed since you opened it (now revision %lld); "
			 "reload it and apply your edit again", (long long)latest);
		return NULL;
	}
	rev = latest + 1;
	if (review_by)
		json_object_set_new(doc, "review_by", json_string(review_by));
	if (owner)
		json_object_set_new(doc, "owner", json_string(owner));
	if (store_begin(a->st, why, sizeof why) < 0 ||
	    add_revision(a, id, rev, publish ? "published" : "draft", doc, actor, why, sizeof why) < 0 ||
	    (publish && publish_doc(a, doc, rev, review_by, owner, why, sizeof why) < 0) ||
	    (!publish && creating && publish_doc(a, doc, rev, review_by, owner, why, sizeof why) < 0) ||
	    (!publish && creating &&
	     sqlite3_exec(store_db(a->st), "UPDATE entries SET status = 'draft' WHERE rowid = last_insert_rowid()",
			  NULL, NULL, NULL) != SQLITE_OK) ||
	    store_commit(a->st, why, sizeof why) < 0) {
		store_rollback(a->st);
		json_decref(doc);
		return fail(status_out, 500, err, errsz, why);
	}
	admin_audit(a->st, actor, publish ? "entry.publish" : "entry.draft", id, NULL, NULL);
	if (publish)
		reload(a);
	return json_pack("{s:o, s:I, s:b}", "entry", doc, "revision", (json_int_t)rev, "published", publish);
}

json_t *admin_entry_publish(admin *a, const char *id, int64_t rev, const char *actor,
			    int *status_out, char *err, size_t errsz)
{
	sqlite3_stmt *s = NULL;
	json_t *doc = NULL;
	char why[256];
	int64_t next;
	if (sqlite3_prepare_v2(store_db(a->st), "SELECT doc FROM entry_revisions WHERE entry_id = ?1"
			       " AND revision = ?2", -1, &s, NULL) != SQLITE_OK)
		return db_fail(a, status_out, err, errsz);
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, rev);
	if (sqlite3_step(s) == SQLITE_ROW)
		doc = json_loads((const char *)sqlite3_column_text(s, 0), 0, NULL);
	sqlite3_finalize(s);
	if (!doc)
		return fail(status_out, 404, err, errsz, "no such revision");
	next = latest_revision(a, id) + 1;
	if (store_begin(a->st, why, sizeof why) < 0 ||
	    add_revision(a, id, next, "published", doc, actor, why, sizeof why) < 0 ||
	    publish_doc(a, doc, next, json_string_value(json_object_get(doc, "review_by")),
			json_string_value(json_object_get(doc, "owner")), why, sizeof why) < 0 ||
	    store_commit(a->st, why, sizeof why) < 0) {
		store_rollback(a->st);
		json_decref(doc);
		return fail(status_out, 500, err, errsz, why);
	}
	snprintf(why, sizeof why, "revision %lld", (long long)rev);
	admin_audit(a->st, actor, "entry.publish", id, why, NULL);
	reload(a);
	return json_pack("{s:o, s:I, s:b}", "entry", doc, "revision", (json_int_t)next, "published", 1);
}

json_t *admin_entry_archive(admin *a, const char *id, const char *actor,
			    int *status_out, char *err, size_t errsz)
{
	sqlite3_stmt *s = NULL;
	int changed;
	if (sqlite3_prepare_v2(store_db(a->st), "UPDATE entries SET status = 'archived', updated_at = ?2"
			       " WHERE id = ?1 AND status != 'archived'", -1, &s, NULL) != SQLITE_OK)
		return db_fail(a, status_out, err, errsz);
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, util_now_us() / 1000);
	if (sqlite3_step(s) != SQLITE_DONE) {
		sqlite3_finalize(s);
		return db_fail(a, status_out, err, errsz);
	}
	sqlite3_finalize(s);
	changed = sqlite3_changes(store_db(a->st));
	if (!changed)
		return fail(status_out, 404, err, errsz, "no such entry (or already archived)");
	sqlite3_exec(store_db(a->st), "UPDATE meta SET value = CAST(value AS INTEGER) + 1"
		     " WHERE key = 'kb_version'", NULL, NULL, NULL);
	admin_audit(a->st, actor, "entry.archive", id, NULL, NULL);
	reload(a);
	return json_pack("{s:s, s:s}", "id", id, "status", "archived");
}

/* --- try a question ---------------------------------------------------------- */

json_t *admin_try(admin *a, const char *text, int *status_out, char *err, size_t errsz)
{
	engine_decision d;
	json_t *matches, *out;
	char why[512];
	if (!text || !*text)
		return fail(status_out, 400, err, errsz, "\"text\" is required");
	matches = json_array();
	if (engine_decide(a->eng, text, strlen(text), -1, &d, why, sizeof why) < 0)
		util_log("error", "admin: try: %s", why);
	for (size_t i = 0; i < d.n_matches; i++)
		json_array_append_new(matches, json_pack("{s:s, s:s, s:f}",
			"entry", d.matches[i].entry->id, "question", d.matches[i].entry->question,
			"score", d.matches[i].score));
	switch (d.kind) {
	case ENGINE_EMERGENCY:
		snprintf(why, sizeof why, "an emergency pattern matched (%s): emergency instructions, "
			 "never a knowledge-base answer", d.triage_pattern ? d.triage_pattern : "?");
		break;
	case ENGINE_ANSWER:
		snprintf(why, sizeof why, "confidence %.2f is at or above the threshold %.2f: answered from %s",
			 d.confidence, engine_threshold(a->eng), d.entry->id);
		break;
	default:
		if (d.reason == ENGINE_REASON_ASKED_FOR_PERSON)
			snprintf(why, sizeof why, "the patient asked for a person");
		else
			snprintf(why, sizeof why, "confidence %.2f is below the threshold %.2f: handed to staff",
				 d.confidence, engine_threshold(a->eng));
	}
	out = json_pack("{s:s, s:s, s:f, s:f, s:s?, s:s, s:o, s:s}",
			"decision", engine_kind_name(d.kind), "reason", engine_reason_name(d.reason),
			"confidence", d.confidence, "threshold", engine_threshold(a->eng),
			"entry", d.entry ? d.entry->id : NULL,
			"text", d.kind == ENGINE_ANSWER ? (d.text[0] ? d.text : d.entry->answer) : "",
			"matches", matches, "why", why);
	(void)status_out;
	(void)err;
	(void)errsz;
	return out;
}

/* --- the unanswered inbox ----------------------------------------------------- */

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Questions are alike when their analysed terms are, in any order: "Opening
 * hours?" and "hours opening" group together. The key: 64 bits of the
 * SHA-256 of the sorted terms, in hex. */
static void group_key(admin *a, const char *text, char key[17])
{
	char terms[2048] = "", hash[65];
	size_t n = 0;
	text_analyze(a->ta, text, strlen(text), -1, a->terms);
	qsort((void *)a->terms->term, a->terms->n, sizeof a->terms->term[0], cmp_str);
	for (size_t i = 0; i < a->terms->n && n + 2 < sizeof terms; i++) {
		if (i > 0 && strcmp(a->terms->term[i], a->terms->term[i - 1]) == 0)
			continue;
		n += (size_t)snprintf(terms + n, sizeof terms - n, "%s ", a->terms->term[i]);
	}
	if (n == 0)
		snprintf(terms, sizeof terms, "%s", text);
	util_sha256_hex(terms, strlen(terms), hash);
	memcpy(key, hash, 16);
	key[16] = '\0';
}

static json_t *inbox_between(admin *a, int64_t since, int64_t until, int *status_out,
			     char *err, size_t errsz);

json_t *admin_inbox(admin *a, int days, int *status_out, char *err, size_t errsz)
{
	int64_t now = util_now_us() / 1000;
	return inbox_between(a, now - (int64_t)(days > 0 ? days : 30) * 86400000, INT64_MAX,
			     status_out, err, errsz);
}

static json_t *inbox_between(admin *a, int64_t since, int64_t until, int *status_out,
			     char *err, size_t errsz)
{
	sqlite3 *db = store_db(a->st);
	sqlite3_stmt *s = NULL, *dis = NULL;
	json_t *groups = json_object(), *items = json_array(), *v;
	const char *k;
	int step;

	/* Patient messages the bot handed off for low confidence, and answers
	 * the patient marked unhelpful (with the question they answered). */
	if (sqlite3_prepare_v2(db,
		"SELECT p.text, 'handoff', NULL, b.created_at FROM events b JOIN events p"
		"  ON p.id = json_extract(b.fields, '$.reply_to')"
		" WHERE b.role = 'bot' AND b.type = 'handoff'"
		"  AND json_extract(b.fields, '$.reason') = 'low_confidence' AND b.created_at >= ?1"
		"  AND b.created_at < ?2"
		" UNION ALL"
		" SELECT p.text, 'unhelpful', json_extract(b.fields, '$.entry'), f.created_at"
		" FROM feedback f JOIN events b ON b.id = f.event_id"
		"  JOIN events p ON p.id = json_extract(b.fields, '$.reply_to')"
		" WHERE f.helpful = 0 AND f.created_at >= ?1 AND f.created_at < ?2", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT 1 FROM inbox_dismissed WHERE key = ?1", -1, &dis, NULL) != SQLITE_OK) {
		sqlite3_finalize(s);
		json_decref(groups);
		json_decref(items);
		return db_fail(a, status_out, err, errsz);
	}
	sqlite3_bind_int64(s, 1, since);
	sqlite3_bind_int64(s, 2, until);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(s, 0);
		const char *kind = (const char *)sqlite3_column_text(s, 1);
		const char *entry = (const char *)sqlite3_column_text(s, 2);
		int64_t at = sqlite3_column_int64(s, 3);
		char key[17], gk[32];
		json_t *g;
		group_key(a, text, key);
		snprintf(gk, sizeof gk, "%c%s", kind[0], key);
		sqlite3_bind_text(dis, 1, gk, -1, SQLITE_STATIC);
		step = sqlite3_step(dis);
		sqlite3_reset(dis);
		if (step == SQLITE_ROW)
			continue;
		g = json_object_get(groups, gk);
		if (!g) {
			g = json_pack("{s:s, s:s, s:s, s:i, s:I, s:s?}", "key", gk, "kind", kind, "text", text,
				      "count", 0, "last_at_ms", (json_int_t)at, "entry", entry);
			json_object_set_new(groups, gk, g);
		}
		json_object_set_new(g, "count", json_integer(json_integer_value(json_object_get(g, "count")) + 1));
		if (at > json_integer_value(json_object_get(g, "last_at_ms"))) {
			json_object_set_new(g, "last_at_ms", json_integer(at));
			json_object_set_new(g, "text", json_string(text)); /* the latest wording */
		}
	}
	sqlite3_finalize(s);
	sqlite3_finalize(dis);
	/* Phone numbers, e-mail addresses, dates of birth, SSNs and record
	 * numbers are masked here: the inbox and analytics are for fixing the
	 * knowledge base, not for reading about a patient. */
	json_object_foreach(groups, k, v) {
		char *masked = redact_dup(json_string_value(json_object_get(v, "text")));
		if (masked)
			json_object_set_new(v, "text", json_string(masked));
		else
			json_object_set_new(v, "text", json_string("[removed]"));
		free(masked);
		json_array_append(items, v);
	}
	json_decref(groups);
	/* Most frequent first, then most recent. */
	{
		size_t n = json_array_size(items);
		for (size_t i = 1; i < n; i++)
			for (size_t j = i; j > 0; j--) {
				json_t *x = json_array_get(items, j - 1), *y = json_array_get(items, j);
				json_int_t cx = json_integer_value(json_object_get(x, "count"));
				json_int_t cy = json_integer_value(json_object_get(y, "count"));
				if (cx > cy || (cx == cy && json_integer_value(json_object_get(x, "last_at_ms")) >=
							     json_integer_value(json_object_get(y, "last_at_ms"))))
					break;
				json_incref(x);
				json_array_set(items, j - 1, y);
				json_array_set_new(items, j, x);
			}
	}
	return json_pack("{s:o}", "items", items);
}

json_t *admin_inbox_dismiss(admin *a, const char *key, const char *actor,
			    int *status_out, char *err, size_t errsz)
{
	sqlite3_stmt *s = NULL;
	if (!key || strlen(key) != 17 || strspn(key + 1, "0123456789abcdef") != 16)
		return fail(status_out, 400, err, errsz, "\"key\" must be an inbox item key");
	if (sqlite3_prepare_v2(store_db(a->st), "INSERT INTO inbox_dismissed(key, at, actor)"
			       " VALUES(?1, ?2, ?3) ON CONFLICT(key) DO NOTHING", -1, &s, NULL) != SQLITE_OK)
		return db_fail(a, status_out, err, errsz);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, util_now_us() / 1000);
	sqlite3_bind_text(s, 3, actor, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE) {
		sqlite3_finalize(s);
		return db_fail(a, status_out, err, errsz);
	}
	sqlite3_finalize(s);
	admin_audit(a->st, actor, "inbox.dismiss", key, NULL, NULL);
	return json_pack("{s:s}", "dismissed", key);
}

/* --- audit, import, export ----------------------------------------------------- */

json_t *admin_audit_list(admin *a, int64_t before, int limit, int *status_out,
			 char *err, size_t errsz)
{
	sqlite3_stmt *s = NULL;
	json_t *list = json_array();
	if (limit <= 0 || limit > 500)
		limit = 100;
	if (sqlite3_prepare_v2(store_db(a->st), "SELECT id, at, actor, action, target, detail, peer"
			       " FROM audit WHERE (?1 <= 0 OR id < ?1) ORDER BY id DESC LIMIT ?2",
			       -1, &s, NULL) != SQLITE_OK) {
		json_decref(list);
		return db_fail(a, status_out, err, errsz);
	}
	sqlite3_bind_int64(s, 1, before);
	sqlite3_bind_int(s, 2, limit);
	while (sqlite3_step(s) == SQLITE_ROW) {
		char ts[21];
		util_iso8601(sqlite3_column_int64(s, 1) / 1000, ts);
		json_array_append_new(list, json_pack("{s:I, s:s, s:s, s:s, s:s?, s:s?, s:s?}",
			"id", (json_int_t)sqlite3_column_int64(s, 0), "at", ts,
			"actor", (const char *)sqlite3_column_text(s, 2),
			"action", (const char *)sqlite3_column_text(s, 3),
			"target", (const char *)sqlite3_column_text(s, 4),
			"detail", (const char *)sqlite3_column_text(s, 5),
			"peer", (const char *)sqlite3_column_text(s, 6)));
	}
	sqlite3_finalize(s);
	return json_pack("{s:o}", "events", list);
}

char *admin_export(admin *a, size_t *len, char *err, size_t errsz)
{
	kb_list l = { 0 };
	char *buf = NULL;
	size_t n = 0, cap = 0;
	if (store_kb_load(a->st, &l, err, errsz) < 0)
		return NULL;
	for (size_t i = 0; i < l.n; i++) {
		json_t *j = kb_entry_to_json(&l.v[i]);
		char *line = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		size_t ll = line ? strlen(line) : 0;
		json_decref(j);
		if (!line || n + ll + 2 > cap) {
			size_t ncap = (cap ? cap * 2 : 65536) + ll + 2;
			char *nb = line ? realloc(buf, ncap) : NULL;
			if (!nb) {
				free(line);
				free(buf);
				kb_list_free(&l);
				snprintf(err, errsz, "out of memory");
				return NULL;
			}
			buf = nb;
			cap = ncap;
		}
		memcpy(buf + n, line, ll);
		n += ll;
		buf[n++] = '\n';
		free(line);
	}
	kb_list_free(&l);
	if (!buf && !(buf = malloc(1))) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

json_t *admin_import(admin *a, const char *jsonl, size_t len, const char *actor,
		     int *status_out, char *err, size_t errsz)
{
	kb_list l = { 0 };
	size_t line = 0, pos = 0;
	char why[256], detail[64];
	json_t *out = NULL;

	while (pos < len) {
		const char *nl = memchr(jsonl + pos, '\n', len - pos);
		size_t ll = (nl ? (size_t)(nl - jsonl) : len) - pos;
		json_error_t jerr;
		json_t *obj;
		kb_entry e;
		line++;
		if (strspn(jsonl + pos, " \t\r") >= ll) {
			pos += ll + 1;
			continue;
		}
		obj = json_loadb(jsonl + pos, ll, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(obj) || kb_entry_from_json(obj, &e, why, sizeof why) < 0) {
			if (!json_is_object(obj))
				snprintf(why, sizeof why, "not a JSON object (%s)", jerr.text);
			json_decref(obj);
			*status_out = 400;
			snprintf(err, errsz, "line %zu: %s; nothing was imported", line, why);
			goto out;
		}
		json_decref(obj);
		if (l.n == l.cap) {
			size_t cap = l.cap ? l.cap * 2 : 64;
			kb_entry *v = realloc(l.v, cap * sizeof *v);
			if (!v) {
				kb_entry_clear(&e);
				*status_out = 500;
				snprintf(err, errsz, "out of memory");
				goto out;
			}
			l.v = v;
			l.cap = cap;
		}
		l.v[l.n++] = e;
		pos += ll + 1;
	}
	if (l.n == 0) {
		*status_out = 400;
		snprintf(err, errsz, "no entries in the file");
		goto out;
	}
	store_set_author(a->st, actor);
	if (store_kb_upsert(a->st, &l, why, sizeof why) < 0) {
		store_set_author(a->st, NULL);
		*status_out = 400;
		snprintf(err, errsz, "%s; nothing was imported", why);
		goto out;
	}
	store_set_author(a->st, NULL);
	snprintf(detail, sizeof detail, "%zu entries", l.n);
	admin_audit(a->st, actor, "kb.import", NULL, detail, NULL);
	reload(a);
	out = json_pack("{s:I}", "imported", (json_int_t)l.n);
out:
	kb_list_free(&l);
	return out;
}

/* --- answer recall ------------------------------------------------------------ */

json_t *admin_recall(admin *a, const char *id, int days, int *status_out, char *err, size_t errsz)
{
	sqlite3_stmt *s = NULL;
	int64_t current = 0;
	char review[16];
	json_t *list;
	int64_t since = util_now_us() / 1000 - (int64_t)(days > 0 ? days : 30) * 86400000;

	if (store_entry_meta(a->st, id, &current, review) != 0)
		return fail(status_out, 404, err, errsz, "no such entry");
	/* Every answer from this entry given from an older revision than the
	 * live one, newest first, one row per conversation. */
	if (sqlite3_prepare_v2(store_db(a->st),
		"SELECT conversation_id, max(created_at), min(json_extract(fields, '$.revision')),"
		" count(*) FROM events WHERE role = 'bot' AND type = 'answer'"
		" AND json_extract(fields, '$.entry') = ?1"
		" AND coalesce(json_extract(fields, '$.revision'), 1) < ?2 AND created_at >= ?3"
		" GROUP BY conversation_id ORDER BY 2 DESC LIMIT 1000", -1, &s, NULL) != SQLITE_OK)
		return db_fail(a, status_out, err, errsz);
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, current);
	sqlite3_bind_int64(s, 3, since);
	list = json_array();
	while (sqlite3_step(s) == SQLITE_ROW) {
		char ts[21];
		util_iso8601(sqlite3_column_int64(s, 1) / 1000, ts);
		json_array_append_new(list, json_pack("{s:s, s:s, s:I, s:I}",
			"conversation", (const char *)sqlite3_column_text(s, 0), "last_at", ts,
			"revision", (json_int_t)(sqlite3_column_type(s, 2) == SQLITE_NULL ? 1
						 : sqlite3_column_int64(s, 2)),
			"answers", (json_int_t)sqlite3_column_int64(s, 3)));
	}
	sqlite3_finalize(s);
	return json_pack("{s:s, s:I, s:i, s:o}", "entry", id, "current_revision", (json_int_t)current,
			 "days", days > 0 ? days : 30, "conversations", list);
}

/* --- analytics ------------------------------------------------------------------ */

/* One integer from a query with the range bound as ?1 (from) and ?2 (to). */
static int64_t scalar(admin *a, const char *sql, int64_t from, int64_t to)
{
	sqlite3_stmt *s = NULL;
	int64_t v = 0;
	if (sqlite3_prepare_v2(store_db(a->st), sql, -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, from);
		sqlite3_bind_int64(s, 2, to);
		if (sqlite3_step(s) == SQLITE_ROW)
			v = sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	return v;
}

static json_t *rows(admin *a, const char *sql, int64_t from, int64_t to, const char *k1, const char *k2)
{
	sqlite3_stmt *s = NULL;
	json_t *list = json_array();
	if (sqlite3_prepare_v2(store_db(a->st), sql, -1, &s, NULL) != SQLITE_OK)
		return list;
	sqlite3_bind_int64(s, 1, from);
	sqlite3_bind_int64(s, 2, to);
	while (sqlite3_step(s) == SQLITE_ROW)
		json_array_append_new(list, json_pack("{s:s?, s:I}", k1, (const char *)sqlite3_column_text(s, 0),
						      k2, (json_int_t)sqlite3_column_int64(s, 1)));
	sqlite3_finalize(s);
	return list;
}

/* The per-day table (UTC days), shared by the JSON and the CSV. */
static const char per_day_sql[] =
	"WITH RECURSIVE d(day) AS (SELECT date(?1 / 1000, 'unixepoch')"
	"  UNION ALL SELECT date(day, '+1 day') FROM d WHERE day < date((?2 - 1) / 1000, 'unixepoch'))"
	" SELECT d.day,"
	"  (SELECT count(DISTINCT e.conversation_id) FROM events e WHERE e.role = 'patient'"
	"     AND date(e.created_at / 1000, 'unixepoch') = d.day),"
	"  (SELECT count(*) FROM events e WHERE e.role = 'patient' AND e.type = 'message'"
	"     AND date(e.created_at / 1000, 'unixepoch') = d.day),"
	"  (SELECT count(*) FROM events e WHERE e.role = 'bot' AND e.type = 'answer'"
	"     AND date(e.created_at / 1000, 'unixepoch') = d.day),"
	"  (SELECT count(*) FROM events e WHERE e.role = 'bot' AND e.type = 'handoff'"
	"     AND date(e.created_at / 1000, 'unixepoch') = d.day),"
	"  (SELECT count(*) FROM events e WHERE e.role = 'bot' AND e.type = 'emergency'"
	"     AND date(e.created_at / 1000, 'unixepoch') = d.day),"
	"  (SELECT count(*) FROM feedback f WHERE f.helpful = 1 AND date(f.created_at / 1000, 'unixepoch') = d.day),"
	"  (SELECT count(*) FROM feedback f WHERE f.helpful = 0 AND date(f.created_at / 1000, 'unixepoch') = d.day)"
	" FROM d LIMIT 400";

static const char *const per_day_cols[] = {
	"day", "conversations", "patient_messages", "bot_answers", "handoffs", "emergencies",
	"thumbs_up", "thumbs_down",
};

json_t *admin_analytics(admin *a, int64_t from_ms, int64_t to_ms, int *status_out,
			char *err, size_t errsz)
{
	sqlite3_stmt *s = NULL;
	json_t *days, *out;
	int64_t convs, bot_only, handed, up, down, median_s = -1;
	char f[21], t[21];

	if (to_ms <= from_ms || to_ms - from_ms > 400LL * 86400000)
		return fail(status_out, 400, err, errsz, "the range must be 1 to 400 days");
	days = json_array();
	if (sqlite3_prepare_v2(store_db(a->st), per_day_sql, -1, &s, NULL) != SQLITE_OK) {
		json_decref(days);
		return db_fail(a, status_out, err, errsz);
	}
	sqlite3_bind_int64(s, 1, from_ms);
	sqlite3_bind_int64(s, 2, to_ms);
	while (sqlite3_step(s) == SQLITE_ROW) {
		json_t *row = json_object();
		json_object_set_new(row, "day", json_string((const char *)sqlite3_column_text(s, 0)));
		for (int i = 1; i < 8; i++)
			json_object_set_new(row, per_day_cols[i], json_integer(sqlite3_column_int64(s, i)));
		json_array_append_new(days, row);
	}
	sqlite3_finalize(s);

	/* Conversations in range where the patient wrote at all, those the bot
	 * carried alone (no handoff, no emergency), and those handed off. */
	convs = scalar(a, "SELECT count(DISTINCT conversation_id) FROM events WHERE role = 'patient'"
		       " AND created_at >= ?1 AND created_at < ?2", from_ms, to_ms);
	handed = scalar(a, "SELECT count(DISTINCT conversation_id) FROM events WHERE role = 'bot'"
			" AND type IN ('handoff', 'emergency') AND created_at >= ?1 AND created_at < ?2",
			from_ms, to_ms);
	bot_only = convs - handed;
	up = scalar(a, "SELECT count(*) FROM feedback WHERE helpful = 1 AND created_at >= ?1 AND created_at < ?2",
		    from_ms, to_ms);
	down = scalar(a, "SELECT count(*) FROM feedback WHERE helpful = 0 AND created_at >= ?1 AND created_at < ?2",
		      from_ms, to_ms);
	/* Time until a person answered: first staff message after the first
	 * handoff of each conversation, the median in seconds. */
	if (sqlite3_prepare_v2(store_db(a->st),
		"WITH w AS (SELECT h.conversation_id AS c, min(h.created_at) AS at FROM events h"
		"  WHERE h.role = 'bot' AND h.type IN ('handoff', 'emergency')"
		"  AND h.created_at >= ?1 AND h.created_at < ?2 GROUP BY h.conversation_id),"
		" r AS (SELECT (SELECT min(m.created_at) FROM events m WHERE m.conversation_id = w.c"
		"  AND m.role = 'staff' AND m.type = 'message' AND m.created_at >= w.at) - w.at AS wait FROM w)"
		" SELECT wait FROM r WHERE wait IS NOT NULL ORDER BY wait", -1, &s, NULL) == SQLITE_OK) {
		int64_t *v = NULL;
		size_t n = 0, cap = 0;
		sqlite3_bind_int64(s, 1, from_ms);
		sqlite3_bind_int64(s, 2, to_ms);
		while (sqlite3_step(s) == SQLITE_ROW) {
			if (n == cap) {
				int64_t *nv = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof *v);
				if (!nv)
					break;
				v = nv;
			}
			v[n++] = sqlite3_column_int64(s, 0);
		}
		if (n > 0)
			median_s = (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) / 1000;
		free(v);
	}
	sqlite3_finalize(s);

	util_iso8601(from_ms / 1000, f);
	util_iso8601((to_ms - 86400000) / 1000, t); /* the last day, included */
	f[10] = t[10] = '\0';
	out = json_pack("{s:s, s:s, s:o, s:I, s:I, s:I, s:f, s:f, s:I, s:I}",
		"from", f, "to", t, "days", days,
		"conversations", (json_int_t)convs, "answered_by_bot_only", (json_int_t)bot_only,
		"handed_off", (json_int_t)handed,
		"bot_only_share", convs ? (double)bot_only / (double)convs : 0.0,
		"handoff_rate", convs ? (double)handed / (double)convs : 0.0,
		"thumbs_up", (json_int_t)up, "thumbs_down", (json_int_t)down);
	json_object_set_new(out, "median_seconds_to_person", median_s < 0 ? json_null() : json_integer(median_s));
	json_object_set_new(out, "handoff_reasons", rows(a,
		"SELECT CASE WHEN type = 'emergency' THEN 'emergency' ELSE json_extract(fields, '$.reason') END,"
		" count(*) FROM events WHERE role = 'bot' AND type IN ('handoff', 'emergency')"
		" AND created_at >= ?1 AND created_at < ?2 GROUP BY 1 ORDER BY 2 DESC", from_ms, to_ms,
		"reason", "count"));
	json_object_set_new(out, "top_entries", rows(a,
		"SELECT json_extract(fields, '$.entry'), count(*) FROM events WHERE role = 'bot'"
		" AND type = 'answer' AND created_at >= ?1 AND created_at < ?2 GROUP BY 1"
		" ORDER BY 2 DESC LIMIT 10", from_ms, to_ms, "entry", "count"));
	{
		/* The inbox grouping over the same range, the ten most asked. */
		int st = 0;
		char e2[64];
		json_t *inbox = inbox_between(a, from_ms, to_ms, &st, e2, sizeof e2);
		json_t *top = json_array();
		for (size_t i = 0; inbox && i < json_array_size(json_object_get(inbox, "items")) &&
				   json_array_size(top) < 10; i++) {
			json_t *it = json_array_get(json_object_get(inbox, "items"), i);
			if (strcmp(json_string_value(json_object_get(it, "kind")), "handoff") == 0)
				json_array_append(top, it);
		}
		json_decref(inbox);
		json_object_set_new(out, "top_unanswered", top);
	}
	return out;
}

char *admin_analytics_csv(admin *a, int64_t from_ms, int64_t to_ms, size_t *len, char *err, size_t errsz)
{
	sqlite3_stmt *s = NULL;
	size_t cap = 4096, n = 0;
	char *buf;
	if (to_ms <= from_ms || to_ms - from_ms > 400LL * 86400000) {
		snprintf(err, errsz, "the range must be 1 to 400 days");
		return NULL;
	}
	buf = malloc(cap);
	if (!buf || sqlite3_prepare_v2(store_db(a->st), per_day_sql, -1, &s, NULL) != SQLITE_OK) {
		free(buf);
		snprintf(err, errsz, "the analytics could not be read");
		return NULL;
	}
	n = (size_t)snprintf(buf, cap, "day,conversations,patient_messages,bot_answers,handoffs,"
			     "emergencies,thumbs_up,thumbs_down\r\n");
	sqlite3_bind_int64(s, 1, from_ms);
	sqlite3_bind_int64(s, 2, to_ms);
	while (sqlite3_step(s) == SQLITE_ROW) {
		char line[256];
		int ll = snprintf(line, sizeof line, "%s,%lld,%lld,%lld,%lld,%lld,%lld,%lld\r\n",
				  (const char *)sqlite3_column_text(s, 0),
				  (long long)sqlite3_column_int64(s, 1), (long long)sqlite3_column_int64(s, 2),
				  (long long)sqlite3_column_int64(s, 3), (long long)sqlite3_column_int64(s, 4),
				  (long long)sqlite3_column_int64(s, 5), (long long)sqlite3_column_int64(s, 6),
				  (long long)sqlite3_column_int64(s, 7));
		if (n + (size_t)ll + 1 > cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				sqlite3_finalize(s);
				snprintf(err, errsz, "out of memory");
				return NULL;
			}
			buf = nb;
		}
		memcpy(buf + n, line, (size_t)ll + 1);
		n += (size_t)ll;
	}
	sqlite3_finalize(s);
	*len = n;
	return buf;
}

/* --- settings --------------------------------------------------------------------- */

void admin_set_chat(admin *a, chat_ctx *chat)
{
	a->chat = chat;
}

int admin_retention_days(admin *a)
{
	char v[32];
	if (store_meta_get(a->st, "retention_days", v, sizeof v) == 0 && v[0])
		return atoi(v);
	return ADMIN_RETENTION_DEFAULT;
}

json_t *admin_settings(admin *a, int *status_out, char *err, size_t errsz)
{
	char *hours = malloc(65536);
	json_t *jh = NULL, *out;
	if (!hours)
		return fail(status_out, 500, err, errsz, "out of memory");
	if (store_meta_get(a->st, "hours", hours, 65536) == 0 && hours[0])
		jh = json_loads(hours, 0, NULL);
	free(hours);
	out = json_pack("{s:f, s:i, s:o}", "threshold", engine_threshold(a->eng),
			"retention_days", admin_retention_days(a), "hours", jh ? jh : json_null());
	if (a->chat)
		json_object_set_new(out, "messages", chat_messages_json(a->chat));
	return out;
}

json_t *admin_settings_put(admin *a, const json_t *body, const char *actor, int *status_out,
			   char *err, size_t errsz)
{
	const json_t *t = json_object_get(body, "threshold");
	const json_t *r = json_object_get(body, "retention_days");
	const json_t *h = json_object_get(body, "hours");
	const json_t *m = json_object_get(body, "messages");
	char why[512], v[32];
	hours_config *hc = NULL;
	char *text = NULL;
	json_t *merged = NULL;

	/* Everything is checked before anything changes: all or nothing. */
	if (!json_is_object(body))
		return fail(status_out, 400, err, errsz, "the body must be a JSON object");
	if (t && (!json_is_number(t) || json_number_value(t) < 0.05 || json_number_value(t) > 0.95))
		return fail(status_out, 400, err, errsz, "\"threshold\" must be a number from 0.05 to 0.95");
	if (r && (!json_is_integer(r) || json_integer_value(r) < 0 || json_integer_value(r) > 3650))
		return fail(status_out, 400, err, errsz,
			    "\"retention_days\" must be a whole number of days, 0 (keep) to 3650");
	if (h && !(hc = hours_config_parse(h, why, sizeof why))) {
		*status_out = 400;
		snprintf(err, errsz, "%s%s", strncmp(why, "hours", 5) == 0 ? "" : "hours: ", why);
		return NULL;
	}
	hours_config_free(hc);
	if (m && (!a->chat || chat_messages_check(m, why, sizeof why) < 0)) {
		*status_out = 400;
		snprintf(err, errsz, "%s", a->chat ? why : "messages cannot be set here");
		return NULL;
	}
	if (t) {
		snprintf(v, sizeof v, "%.3f", json_number_value(t));
		if (store_meta_set(a->st, "threshold", v, why, sizeof why) < 0)
			goto db;
		engine_set_threshold(a->eng, json_number_value(t));
		admin_audit(a->st, actor, "settings.threshold", NULL, v, NULL);
	}
	if (r) {
		snprintf(v, sizeof v, "%lld", (long long)json_integer_value(r));
		if (store_meta_set(a->st, "retention_days", v, why, sizeof why) < 0)
			goto db;
		admin_audit(a->st, actor, "settings.retention_days", NULL, v, NULL);
	}
	if (h) {
		if (!(text = json_dumps(h, JSON_COMPACT)) || store_meta_set(a->st, "hours", text, why, sizeof why) < 0)
			goto db;
		free(text);
		text = NULL;
		admin_audit(a->st, actor, "settings.hours", NULL, NULL, NULL);
		reload(a);
	}
	if (m) {
		/* A change of one message keeps the others an admin set before. */
		const char *mk;
		json_t *mv;
		merged = a->chat->custom_msg ? json_deep_copy(a->chat->custom_msg) : json_object();
		json_object_foreach((json_t *)m, mk, mv) {
			json_t *cur = json_object_get(merged, mk);
			if (!cur)
				json_object_set_new(merged, mk, json_deep_copy(mv));
			else
				json_object_update(cur, mv);
		}
		if (!(text = json_dumps(merged, JSON_COMPACT)) ||
		    store_meta_set(a->st, "messages", text, why, sizeof why) < 0)
			goto db;
		free(text);
		text = NULL;
		chat_messages_apply(a->chat, merged);
		merged = NULL;
		admin_audit(a->st, actor, "settings.messages", NULL, NULL, NULL);
	}
	return admin_settings(a, status_out, err, errsz);
db:
	free(text);
	json_decref(merged);
	return fail(status_out, 500, err, errsz, why);
}

/* --- synonyms ----------------------------------------------------------------------- */

json_t *admin_synonyms(admin *a, int *status_out, char *err, size_t errsz)
{
	char *buf = malloc(65536);
	json_t *j = NULL;
	if (!buf)
		return fail(status_out, 500, err, errsz, "out of memory");
	if (store_meta_get(a->st, "synonyms", buf, 65536) == 0 && buf[0])
		j = json_loads(buf, 0, NULL);
	free(buf);
	return json_pack("{s:o}", "synonyms", json_is_object(j) ? j : (json_decref(j), json_object()));
}

json_t *admin_synonyms_put(admin *a, const json_t *body, const char *actor, int *status_out,
			   char *err, size_t errsz)
{
	const json_t *m = json_object_get(body, "synonyms");
	const char *k;
	json_t *v;
	char *text;
	char why[256];
	if (!json_is_object(m) || json_object_size(m) > ENGINE_MAX_SYNONYMS)
		return fail(status_out, 400, err, errsz,
			    "\"synonyms\" must be an object {\"word\": \"meaning\"} of at most 500");
	json_object_foreach((json_t *)m, k, v) {
		size_t kl = strlen(k);
		char wb[512];
		const char *w[16];
		/* Read the way the engine reads them: a word must stay one word
		 * ("x-ray" is two) and a meaning must have at least one. */
		if (kl == 0 || kl > 32 || text_words(k, kl, wb, sizeof wb, w, 16) != 1 ||
		    !json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 64 ||
		    text_words(json_string_value(v), json_string_length(v), wb, sizeof wb, w, 16) == 0) {
			*status_out = 400;
			snprintf(err, errsz, "synonym \"%.40s\": one word (up to 32 characters) for a text of "
				 "1 to 64 characters", k);
			return NULL;
		}
	}
	if (!(text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS)))
		return fail(status_out, 500, err, errsz, "out of memory");
	if (store_meta_set(a->st, "synonyms", text, why, sizeof why) < 0 ||
	    sqlite3_exec(store_db(a->st), "UPDATE meta SET value = CAST(value AS INTEGER) + 1"
			 " WHERE key = 'kb_version'", NULL, NULL, NULL) != SQLITE_OK) {
		free(text);
		return fail(status_out, 500, err, errsz, why);
	}
	free(text);
	admin_audit(a->st, actor, "settings.synonyms", NULL, NULL, NULL);
	reload(a); /* the index is rebuilt with them */
	return admin_synonyms(a, status_out, err, errsz);
}
