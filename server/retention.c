/* retention: see retention.h.
 *
 * Checked against the schema (store.c, notify.c, auth.c, admin.c): events
 * reference conversations and feedback references events, both ON DELETE
 * CASCADE; the outbox names a conversation only inside its body (the console
 * link "...#<id>" both formats carry); audit.target may name it but the
 * audit log refuses deletes; users, sessions, meta, entries, entry_revisions
 * and inbox_dismissed hold nothing of a chat. entry_fts (and its shadow
 * tables) is filled only by engine.c sync_fts from the knowledge base. A
 * table added later that references conversations without ON DELETE CASCADE
 * makes the delete fail (and roll back) instead of leaving orphans. */
#include "retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#define DAY_MS 86400000LL

/* A conversation (table reference t) with no activity since ?1 (ms) and no
 * one on staff owing it an answer. Its newest event counts: a chat that only
 * talks to the bot never updates conversations.updated_at. */
#define IDLE_SQL(t) \
	t ".updated_at < ?1 AND " t ".status NOT IN ('waiting', 'owned', 'ticket')" \
	" AND NOT EXISTS (SELECT 1 FROM events e WHERE e.conversation_id = " t ".id" \
	" AND e.created_at >= ?1)"

/* The characters of a conversation id as notify accepts it. */
#define ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

static int db_fail(sqlite3 *db, char *err, size_t errsz, const char *what)
{
	snprintf(err, errsz, "retention: %s: %s", what, sqlite3_errmsg(db));
	return -1;
}

static int pragma_int(sqlite3 *db, const char *sql, int *out)
{
	sqlite3_stmt *q = NULL;
	int rc = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) {
		*out = sqlite3_column_int(q, 0);
		rc = 0;
	}
	sqlite3_finalize(q);
	return rc;
}

/* 1 if body names, after a '#', a conversation that is to go; 0 if not; -1
 * on a database error. idle: SELECT ... WHERE id = ?2 AND idle(?1). */
static int names_idle(sqlite3_stmt *idle, const char *body)
{
	for (const char *p = strchr(body, '#'); p; p = strchr(p + 1, '#')) {
		size_t len = strspn(p + 1, ID_CHARS);
		int step;
		if (len == 0 || len > 64)
			continue;
		sqlite3_bind_text(idle, 2, p + 1, (int)len, SQLITE_STATIC);
		step = sqlite3_step(idle);
		sqlite3_reset(idle);
		if (step == SQLITE_ROW)
			return 1;
		if (step != SQLITE_DONE)
			return -1;
	}
	return 0;
}

/* Inside the transaction, before the conversations go: deletes the outbox
 * rows that name one of them, except rows in flight ('sending': notify
 * updates them when the transfer ends; the next run takes them). No outbox
 * table (notify never opened on this file): nothing to do. */
static int drop_outbox(sqlite3 *db, int64_t cutoff, char *err, size_t errsz)
{
	sqlite3_stmt *rows = NULL, *idle = NULL, *del = NULL;
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	int rc = -1, step, exists = 0;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table'"
			       " AND name = 'outbox'", -1, &rows, NULL) != SQLITE_OK) {
		db_fail(db, err, errsz, "outbox");
		goto out;
	}
	exists = sqlite3_step(rows) == SQLITE_ROW;
	sqlite3_finalize(rows);
	rows = NULL;
	if (!exists) {
		rc = 0;
		goto out;
	}
	if (sqlite3_prepare_v2(db, "SELECT id, body FROM outbox WHERE state != 'sending'", -1,
			       &rows, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT 1 FROM conversations WHERE id = ?2 AND "
			       IDLE_SQL("conversations"), -1, &idle, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "DELETE FROM outbox WHERE id = ?1", -1, &del, NULL) != SQLITE_OK) {
		db_fail(db, err, errsz, "outbox");
		goto out;
	}
	sqlite3_bind_int64(idle, 1, cutoff);
	/* Collected first, deleted after: no deleting under a running scan. */
	while ((step = sqlite3_step(rows)) == SQLITE_ROW) {
		const char *body = (const char *)sqlite3_column_text(rows, 1);
		int hit = body ? names_idle(idle, body) : 0;
		if (hit < 0) {
			db_fail(db, err, errsz, "outbox");
			goto out;
		}
		if (!hit)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			int64_t *v = realloc(ids, ncap * sizeof *v);
			if (!v) {
				snprintf(err, errsz, "retention: out of memory");
				goto out;
			}
			ids = v;
			cap = ncap;
		}
		ids[n++] = sqlite3_column_int64(rows, 0);
	}
	if (step != SQLITE_DONE) {
		db_fail(db, err, errsz, "outbox");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int64(del, 1, ids[i]);
		step = sqlite3_step(del);
		sqlite3_reset(del);
		if (step != SQLITE_DONE) {
			db_fail(db, err, errsz, "outbox delete");
			goto out;
		}
	}
	rc = 0;
out:
	sqlite3_finalize(rows);
	sqlite3_finalize(idle);
	sqlite3_finalize(del);
	free(ids);
	return rc;
}

int retention_run(store *st, int days, int64_t now_ms, int64_t *deleted_out,
		  char *err, size_t errsz)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *del = NULL;
	int64_t cutoff, deleted = 0;
	int fk = 0, secure = 1, vacuum = 0, began = 0, rc = -1;
	char restore[40];

	if (deleted_out)
		*deleted_out = 0;
	if (days <= 0)
		return 0;
	cutoff = now_ms - (int64_t)days * DAY_MS;
	/* Events and feedback go by cascade: without foreign keys they would
	 * stay behind, patient text and all. store_open turns them on. */
	if (pragma_int(db, "PRAGMA foreign_keys", &fk) < 0)
		return db_fail(db, err, errsz, "foreign_keys");
	if (!fk) {
		snprintf(err, errsz, "retention: foreign_keys is off: events would outlive "
			 "their conversations");
		return -1;
	}
	/* Overwrite what is deleted rather than only unlinking it, so the text
	 * does not linger in free pages of the file; restored afterwards. */
	if (pragma_int(db, "PRAGMA secure_delete", &secure) < 0 ||
	    sqlite3_exec(db, "PRAGMA secure_delete = ON", NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(db, err, errsz, "secure_delete");

	if (store_begin(st, err, errsz) < 0)
		goto out;
	began = 1;
	if (drop_outbox(db, cutoff, err, errsz) < 0)
		goto out;
	if (sqlite3_prepare_v2(db, "DELETE FROM conversations WHERE " IDLE_SQL("conversations"),
			       -1, &del, NULL) != SQLITE_OK) {
		db_fail(db, err, errsz, "prepare");
		goto out;
	}
	sqlite3_bind_int64(del, 1, cutoff);
	if (sqlite3_step(del) != SQLITE_DONE) {
		db_fail(db, err, errsz, "delete");
		goto out;
	}
	deleted = sqlite3_changes(db);   /* the conversations; cascaded rows not counted */
	began = 0;
	if (store_commit(st, err, errsz) < 0)   /* rolls back on failure */
		goto out;
	/* Give the freed pages back to the OS only when the file was made for
	 * it (auto_vacuum); a full VACUUM rewrites the file and would stall the
	 * event loop. A failure here loses nothing: the pages stay free for
	 * reuse, so it is not reported. */
	if (deleted > 0 && pragma_int(db, "PRAGMA auto_vacuum", &vacuum) == 0 && vacuum != 0)
		sqlite3_exec(db, "PRAGMA incremental_vacuum", NULL, NULL, NULL);
	rc = 0;
out:
	sqlite3_finalize(del);
	if (began)
		store_rollback(st);
	snprintf(restore, sizeof restore, "PRAGMA secure_delete = %s",
		 secure == 2 ? "FAST" : secure ? "ON" : "OFF");
	sqlite3_exec(db, restore, NULL, NULL, NULL);
	if (rc == 0 && deleted_out)
		*deleted_out = deleted;
	return rc;
}
