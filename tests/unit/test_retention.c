/* retention: old chats go whole, with their messages, feedback and webhook
 * rows, and no trace of them is left in any table (FTS5 shadow tables
 * included) or in the bytes of the database file; recent chats and chats a
 * person still has to answer stay. Ages are set by backdating rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "admin.h"
#include "harness.h"
#include "notify.h"
#include "retention.h"
#include "store.h"
#include "util.h"

void test_retention(void);   /* registered in test_main.c */

#define DAY 86400000LL

typedef struct chat {
	char id[STORE_CONV_ID_LEN + 1], token[STORE_TOKEN_LEN + 1];
	const char *marker;        /* a word only this chat's patient wrote */
} chat;

/* A chat with a patient message (the marker, a phone number), a bot answer
 * with thumbs down, in status; then backdated: the conversation row by
 * row_age, its events and feedback by event_age (ms before now). */
static int make_chat(store *st, chat *c, const char *marker, const char *status,
		     int64_t now, int64_t row_age, int64_t event_age)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *q = NULL;
	char err[256], text[160];
	int64_t pid, bid;
	json_t *fields;
	int ok;

	c->marker = marker;
	snprintf(text, sizeof text, "hi, it is %s again, my phone is 555-010-2400", marker);
	if (store_conv_create(st, "en", c->id, c->token, err, sizeof err) < 0 ||
	    store_event_add(st, c->id, "patient", "message", text, NULL, &pid, err, sizeof err) < 0)
		goto fail;
	fields = json_pack("{s:I, s:s}", "reply_to", (json_int_t)pid, "reason", "low_confidence");
	ok = store_event_add(st, c->id, "bot", "handoff", "Let me find a person.", fields, &bid,
			     err, sizeof err) == 0;
	json_decref(fields);
	if (!ok || store_feedback(st, c->id, bid, 0, err, sizeof err) != 0 ||
	    (strcmp(status, "bot") != 0 &&
	     store_conv_set_status(st, c->id, status, "low_confidence", err, sizeof err) < 0))
		goto fail;
	if (sqlite3_prepare_v2(db, "UPDATE conversations SET updated_at = ?2 WHERE id = ?1;", -1, &q,
			       NULL) != SQLITE_OK)
		goto dbfail;
	sqlite3_bind_text(q, 1, c->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, now - row_age);
	ok = sqlite3_step(q) == SQLITE_DONE;
	sqlite3_finalize(q);
	if (!ok || sqlite3_prepare_v2(db, "UPDATE events SET created_at = ?2 WHERE conversation_id = ?1",
				      -1, &q, NULL) != SQLITE_OK)
		goto dbfail;
	sqlite3_bind_text(q, 1, c->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, now - event_age);
	ok = sqlite3_step(q) == SQLITE_DONE;
	sqlite3_finalize(q);
	if (!ok || sqlite3_prepare_v2(db, "UPDATE feedback SET created_at = ?2 WHERE event_id IN"
				      " (SELECT id FROM events WHERE conversation_id = ?1)",
				      -1, &q, NULL) != SQLITE_OK)
		goto dbfail;
	sqlite3_bind_text(q, 1, c->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, now - event_age);
	ok = sqlite3_step(q) == SQLITE_DONE;
	sqlite3_finalize(q);
	if (!ok)
		goto dbfail;
	return 0;
dbfail:
	snprintf(err, sizeof err, "%s", sqlite3_errmsg(db));
fail:
	fprintf(stderr, "  make_chat %s: %s\n", marker, err);
	return -1;
}

/* Values in any table (FTS5 shadow tables and sqlite_sequence included)
 * whose text or bytes contain needle, skipping the table skip (NULL: none);
 * -1 on error. where gets the first table it was found in. */
static int traces(sqlite3 *db, const char *needle, const char *skip, char *where, size_t wheresz)
{
	sqlite3_stmt *tables = NULL;
	size_t nl = strlen(needle);
	int hits = 0;

	where[0] = '\0';
	if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table'", -1, &tables,
			       NULL) != SQLITE_OK)
		return -1;
	while (hits >= 0 && sqlite3_step(tables) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(tables, 0);
		char *sql = sqlite3_mprintf("SELECT * FROM \"%w\"", name);
		sqlite3_stmt *rows = NULL;
		if (skip && strcmp(name, skip) == 0) {
			sqlite3_free(sql);
			continue;
		}
		if (!sql || sqlite3_prepare_v2(db, sql, -1, &rows, NULL) != SQLITE_OK) {
			fprintf(stderr, "  scan %s: %s\n", name, sqlite3_errmsg(db));
			hits = -1;
		}
		sqlite3_free(sql);
		while (rows && sqlite3_step(rows) == SQLITE_ROW)
			for (int c = 0; c < sqlite3_column_count(rows); c++) {
				int t = sqlite3_column_type(rows, c);
				const void *v;
				if (t != SQLITE_TEXT && t != SQLITE_BLOB)
					continue;
				v = sqlite3_column_blob(rows, c);
				if (v && memmem(v, (size_t)sqlite3_column_bytes(rows, c), needle, nl)) {
					if (!where[0])
						snprintf(where, wheresz, "%s", name);
					hits++;
				}
			}
		sqlite3_finalize(rows);
	}
	sqlite3_finalize(tables);
	return hits;
}

/* 1 if the file at path contains needle anywhere in its bytes. */
static int file_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long len;
	int found = 0;
	if (!f)
		return 0;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)len)) && fread(buf, 1, (size_t)len, f) == (size_t)len)
		found = memmem(buf, (size_t)len, needle, strlen(needle)) != NULL;
	free(buf);
	fclose(f);
	return found;
}

static int64_t count(sqlite3 *db, const char *sql, const char *arg)
{
	sqlite3_stmt *q = NULL;
	int64_t n = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		return -1;
	if (arg)
		sqlite3_bind_text(q, 1, arg, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return n;
}

static int64_t events_of(sqlite3 *db, const chat *c)
{
	return count(db, "SELECT count(*) FROM events WHERE conversation_id = ?1", c->id);
}

static int64_t feedback_of(sqlite3 *db, const chat *c)
{
	return count(db, "SELECT count(*) FROM feedback WHERE event_id IN"
		     " (SELECT id FROM events WHERE conversation_id = ?1)", c->id);
}

static int64_t outbox_of(sqlite3 *db, const chat *c)
{
	return count(db, "SELECT count(*) FROM outbox WHERE instr(body, ?1) > 0", c->id);
}

static int exists(store *st, const chat *c)
{
	char id[STORE_CONV_ID_LEN + 1], status[16], err[128];
	return store_conv_by_token(st, c->token, id, status, sizeof status, err, sizeof err) == 0;
}

void test_retention(void)
{
	char dir[] = "/tmp/fd-retention-XXXXXX", path[64], wal[72], shm[72], err[256], where[64];
	static const notify_hook hooks[] = {
		{ "http://127.0.0.1:9/generic", NOTIFY_GENERIC },
		{ "http://127.0.0.1:9/slack", NOTIFY_SLACK },
	};
	int64_t now = util_now_us() / 1000, deleted = -1;
	chat old_bot, old_resolved, recent, old_waiting, old_owned, old_row_new_talk;
	chat *gone[] = { &old_bot, &old_resolved };
	chat *kept[] = { &recent, &old_waiting, &old_owned, &old_row_new_talk };
	store *st = NULL;
	notify *nt = NULL;
	sqlite3 *db;
	int ready;

	if (!mkdtemp(dir)) {
		CASE_BEGIN("retention: a temporary directory");
		CHECK(0);
		CASE_END();
		return;
	}
	snprintf(path, sizeof path, "%s/t.db", dir);
	snprintf(wal, sizeof wal, "%s-wal", path);
	snprintf(shm, sizeof shm, "%s-shm", path);

	CASE_BEGIN("retention: setup (six chats, webhook rows, an audit row)");
	ready = store_open(path, &st, err, sizeof err) == 0 &&
		notify_open(st, hooks, 2, "s3cret", "https://clinic.example/staff", &nt, err,
			    sizeof err) == 0;
	CHECKF(ready, "%s", err);
	if (ready) {
		ready = make_chat(st, &old_bot, "quokkamarmalade", "bot", now, 100 * DAY, 100 * DAY) == 0 &&
			make_chat(st, &old_resolved, "zebrapancake", "resolved", now, 40 * DAY, 45 * DAY) == 0 &&
			make_chat(st, &recent, "otterwaffle", "bot", now, 2 * DAY, 2 * DAY) == 0 &&
			make_chat(st, &old_waiting, "lemurcustard", "waiting", now, 90 * DAY, 90 * DAY) == 0 &&
			make_chat(st, &old_owned, "pangolintoast", "owned", now, 90 * DAY, 90 * DAY) == 0 &&
			/* the row untouched for 90 days, but the patient talked to the bot yesterday */
			make_chat(st, &old_row_new_talk, "wombatjelly", "bot", now, 90 * DAY, 1 * DAY) == 0 &&
			notify_enqueue(nt, old_bot.id, "low_confidence", now / 1000, err, sizeof err) == 0 &&
			notify_enqueue(nt, old_waiting.id, "low_confidence", now / 1000, err, sizeof err) == 0;
		CHECKF(ready, "%s", err);
		/* a staff action on the old chat, as the desk records it */
		admin_audit(st, "alice", "chat.reply", old_bot.id, NULL, NULL);
	}
	notify_close(nt);
	CASE_END();
	if (!ready)
		goto out;
	db = store_db(st);

	CASE_BEGIN("retention: the trace scan sees a chat before it is deleted");
	CHECK(traces(db, old_bot.marker, NULL, where, sizeof where) >= 1 && strcmp(where, "events") == 0);
	CHECK(traces(db, old_bot.id, "audit", where, sizeof where) >= 3);  /* conversations, events, outbox */
	CHECK(outbox_of(db, &old_bot) == 2 && outbox_of(db, &old_waiting) == 2);
	CHECK(count(db, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'entry_fts_%'", NULL) >= 4);
	CASE_END();

	CASE_BEGIN("retention: days <= 0 keeps everything");
	CHECK(retention_run(st, 0, now, &deleted, err, sizeof err) == 0 && deleted == 0);
	CHECK(retention_run(st, -7, now + 1000 * DAY, &deleted, err, sizeof err) == 0 && deleted == 0);
	CHECK(count(db, "SELECT count(*) FROM conversations", NULL) == 6);
	CASE_END();

	CASE_BEGIN("retention: refuses to run with foreign keys off (events would be orphaned)");
	sqlite3_exec(db, "PRAGMA foreign_keys = OFF", NULL, NULL, NULL);
	CHECK(retention_run(st, 30, now, &deleted, err, sizeof err) == -1 && strstr(err, "foreign_keys"));
	sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
	CHECK(count(db, "SELECT count(*) FROM conversations", NULL) == 6);
	CASE_END();

	CASE_BEGIN("retention: chats idle past 30 days go; recent and staff-owed chats stay");
	CHECKF(retention_run(st, 30, now, &deleted, err, sizeof err) == 0, "%s", err);
	CHECK(deleted == 2);
	for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
		CHECKF(!exists(st, gone[i]), "%s still there", gone[i]->marker);
		CHECK(events_of(db, gone[i]) == 0 && feedback_of(db, gone[i]) == 0);
	}
	CHECK(outbox_of(db, &old_bot) == 0);
	for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
		CHECKF(exists(st, kept[i]), "%s deleted", kept[i]->marker);
		CHECK(events_of(db, kept[i]) == 2 && feedback_of(db, kept[i]) == 1);
	}
	CHECK(outbox_of(db, &old_waiting) == 2);
	CASE_END();

	CASE_BEGIN("retention: no trace of a deleted chat in any table, FTS5 shadow tables included");
	for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
		int n = traces(db, gone[i]->marker, NULL, where, sizeof where);
		CHECKF(n == 0, "%s found %d times, first in %s", gone[i]->marker, n, where);
		/* The audit log is append-only (triggers refuse deletes): it keeps the
		 * id of a chat staff acted on, never its words. Nowhere else. */
		n = traces(db, gone[i]->id, "audit", where, sizeof where);
		CHECKF(n == 0, "%s found %d times, first in %s", gone[i]->id, n, where);
	}
	CHECK(count(db, "SELECT count(*) FROM audit WHERE target = ?1", old_bot.id) == 1);
	for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
		CHECK(traces(db, kept[i]->marker, NULL, where, sizeof where) >= 1);
	CASE_END();

	CASE_BEGIN("retention: the deleted text is gone from the database file's bytes");
	CHECK(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL) == SQLITE_OK);
	for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
		CHECKF(!file_has(path, gone[i]->marker), "%s in %s", gone[i]->marker, path);
		CHECKF(!file_has(wal, gone[i]->marker), "%s in %s", gone[i]->marker, wal);
	}
	CHECK(file_has(path, recent.marker));   /* the check can see text that is there */
	CASE_END();

	CASE_BEGIN("retention: a second run deletes nothing more");
	CHECK(retention_run(st, 30, now, &deleted, err, sizeof err) == 0 && deleted == 0);
	CHECK(count(db, "SELECT count(*) FROM conversations", NULL) == 4);
	/* a year later, only the chats staff still owe an answer are left */
	CHECK(retention_run(st, 30, now + 365 * DAY, &deleted, err, sizeof err) == 0 && deleted == 2);
	CHECK(exists(st, &old_waiting) && exists(st, &old_owned) && !exists(st, &recent));
	CHECK(retention_run(st, 30, now + 365 * DAY, NULL, err, sizeof err) == 0);
	CASE_END();

out:
	store_close(st);
	unlink(path);
	unlink(wal);
	unlink(shm);
	rmdir(dir);
}
