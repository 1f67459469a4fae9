/* store: see store.h. */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

typedef struct checkpointer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	sqlite3 *db;               /* the thread's own connection */
	int interval_ms;
	int stop;
} checkpointer;

enum { TX_BEGIN, TX_COMMIT, TX_ROLLBACK, TX_SAVEPOINT, TX_RELEASE, TX_ROLLBACK_TO, STORE_TX_N };

struct store {
	sqlite3 *db;
	const char *author;        /* recorded on the revisions store_kb_upsert writes */
	int tx_depth;
	checkpointer *ckpt;
	sqlite3_stmt *ev_add, *ev_since, *conv_tok, *fb_check, *fb_put, *entry_meta;
	sqlite3_stmt *tx[STORE_TX_N];  /* tx_exec's statements, prepared on first use */
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS meta("
	"  key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS entries("
	"  id TEXT PRIMARY KEY, question TEXT NOT NULL,"
	"  alternates TEXT NOT NULL DEFAULT '[]', answer TEXT NOT NULL,"
	"  category TEXT NOT NULL DEFAULT 'general', lang TEXT NOT NULL DEFAULT 'en',"
	"  status TEXT NOT NULL DEFAULT 'published',"
	"  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
	/* Derived from entries by the engine: one row per entry (rowid = the
	 * engine's entry number + 1) holding the analysed terms of all its
	 * phrasings, so ranking costs per entry, not per phrasing. */
	"CREATE VIRTUAL TABLE IF NOT EXISTS entry_fts USING fts5(terms, tokenize='ascii');"
	"CREATE TABLE IF NOT EXISTS conversations("
	"  id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE,"
	"  status TEXT NOT NULL DEFAULT 'bot', reason TEXT, lang TEXT NOT NULL DEFAULT 'en',"
	"  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS events("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
	"  role TEXT NOT NULL, type TEXT NOT NULL, text TEXT NOT NULL, fields TEXT,"
	"  created_at INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS events_conv ON events(conversation_id, id);"
	"CREATE TABLE IF NOT EXISTS feedback("
	"  event_id INTEGER PRIMARY KEY REFERENCES events(id) ON DELETE CASCADE,"
	"  helpful INTEGER NOT NULL, created_at INTEGER NOT NULL);";

/* Schema changes since version 1, applied in order to older databases
 * (user_version says how many have been applied). Never edit one that has
 * shipped: add the next. */
static const char *const migrations[] = {
	/* 2: the staff desk. owner_id: the staff account that owns the chat;
	 * queued_at: when it entered the queue (ms); emergency: it did. */
	"ALTER TABLE conversations ADD COLUMN owner_id INTEGER;"
	"ALTER TABLE conversations ADD COLUMN queued_at INTEGER;"
	"ALTER TABLE conversations ADD COLUMN emergency INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX IF NOT EXISTS conversations_desk ON conversations(status)"
	"  WHERE status IN ('waiting', 'owned', 'ticket');",
	/* 3: admins. Every save of an entry is a revision (doc: the entry as
	 * JSON); entries holds what patients get. The audit log is append-only:
	 * the triggers refuse any UPDATE or DELETE, whatever route asks. */
	"ALTER TABLE entries ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE entries ADD COLUMN review_by TEXT;"
	"ALTER TABLE entries ADD COLUMN owner TEXT;"
	"CREATE TABLE entry_revisions("
	"  id INTEGER PRIMARY KEY, entry_id TEXT NOT NULL, revision INTEGER NOT NULL,"
	"  status TEXT NOT NULL, doc TEXT NOT NULL, author TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL, UNIQUE(entry_id, revision));"
	"INSERT INTO entry_revisions(entry_id, revision, status, doc, author, created_at)"
	"  SELECT id, 1, status, json_object('id', id, 'question', question,"
	"    'alternates', json(alternates), 'answer', answer, 'category', category, 'lang', lang),"
	"    'import', updated_at FROM entries;"
	"CREATE TABLE audit("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL,"
	"  action TEXT NOT NULL, target TEXT, detail TEXT, peer TEXT);"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TABLE inbox_dismissed(key TEXT PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL);",
};

static int migrate(sqlite3 *db, char **msg)
{
	sqlite3_stmt *q = NULL;
	int version = 0;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		version = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	/* 0: a new file, which the CREATEs above just made version 1. */
	for (size_t i = 0; i < sizeof migrations / sizeof migrations[0]; i++) {
		int target = (int)i + 2;
		char pragma[48];
		if (version >= target)
			continue;
		snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d;", target);
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, msg) != SQLITE_OK)
			return -1;
		if (sqlite3_exec(db, migrations[i], NULL, NULL, msg) != SQLITE_OK ||
		    sqlite3_exec(db, pragma, NULL, NULL, msg) != SQLITE_OK) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, msg) != SQLITE_OK)
			return -1;
	}
	return 0;
}

static int fail(store *st, char *err, size_t errsz, const char *what)
{
	int sys = errno; /* first: of the system call that failed, if one did */
	if (!st || !st->db) {
		snprintf(err, errsz, "%s: no database", what);
		return -1;
	}
	/* "disk I/O error" alone does not tell an operator whether the file
	 * system went read-only or the disk failed. SQLite's own
	 * sqlite3_system_errno is not set on a failed WAL write; errno,
	 * read right after the failed call, is. */
	switch (sqlite3_errcode(st->db)) {
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
		if (sys) {
			snprintf(err, errsz, "%s: %s (%s)", what, sqlite3_errmsg(st->db), strerror(sys));
			return -1;
		}
		break;
	default:
		break;
	}
	snprintf(err, errsz, "%s: %s", what, sqlite3_errmsg(st->db));
	return -1;
}

static int prepare(store *st, sqlite3_stmt **out, const char *sql, char *err, size_t errsz)
{
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK)
		return fail(st, err, errsz, "prepare");
	return 0;
}

/* SQLite's memory statistics take a global mutex on every allocation; we
 * never read them. Only possible before SQLite initialises, so once, before
 * the first connection (a later call would be refused, harmlessly). */
static void sqlite_setup(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int store_open(const char *path, store **out, char *err, size_t errsz)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	store *st;
	char *msg = NULL;

	pthread_once(&once, sqlite_setup);
	st = calloc(1, sizeof *st);

	*out = NULL;
	if (!st) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	/* NOMUTEX: one thread (the event loop's) uses this connection, so
	 * SQLite's per-call mutexes are pure cost: 6% of a question's
	 * instructions (callgrind). The checkpointer's connection is likewise
	 * its thread's alone. */
	if (sqlite3_open_v2(path, &st->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		fail(st, err, errsz, path);
		goto bad;
	}
	sqlite3_busy_timeout(st->db, 5000);
	if (sqlite3_exec(st->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			 "PRAGMA foreign_keys=ON;", NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(st->db, schema, NULL, NULL, &msg) != SQLITE_OK ||
	    migrate(st->db, &msg) < 0) {
		snprintf(err, errsz, "%s: %s", path, msg ? msg : "schema");
		sqlite3_free(msg);
		goto bad;
	}
	if (prepare(st, &st->ev_add,
		    "INSERT INTO events(conversation_id, role, type, text, fields, created_at)"
		    " VALUES(?1, ?2, ?3, ?4, ?5, ?6)", err, errsz) ||
	    prepare(st, &st->ev_since,
		    "SELECT e.id, e.role, e.type, e.text, e.fields, e.created_at, f.helpful"
		    " FROM events e LEFT JOIN feedback f ON f.event_id = e.id"
		    " WHERE e.conversation_id = ?1 AND e.id > ?2 AND (?3 OR e.type != 'note')"
		    " ORDER BY e.id", err, errsz) ||
	    prepare(st, &st->entry_meta,
		    "SELECT revision, coalesce(review_by, '') FROM entries WHERE id = ?1", err, errsz) ||
	    prepare(st, &st->conv_tok,
		    "SELECT id, status FROM conversations WHERE token_hash = ?1", err, errsz) ||
	    prepare(st, &st->fb_check,
		    "SELECT 1 FROM events WHERE id = ?1 AND conversation_id = ?2 AND role = 'bot'"
		    " AND type IN ('answer', 'handoff')", err, errsz) ||
	    prepare(st, &st->fb_put,
		    "INSERT INTO feedback(event_id, helpful, created_at) VALUES(?1, ?2, ?3)"
		    " ON CONFLICT(event_id) DO UPDATE SET helpful = excluded.helpful,"
		    " created_at = excluded.created_at", err, errsz))
		goto bad;
	*out = st;
	return 0;
bad:
	store_close(st);
	return -1;
}

static void *checkpoint_loop(void *arg)
{
	checkpointer *c = arg;
	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += c->interval_ms / 1000;
		until.tv_nsec += (long)(c->interval_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&c->wake, &c->lock, &until);
		if (c->stop)
			break;
		pthread_mutex_unlock(&c->lock);
		sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int store_start_checkpointer(store *st, const char *path, int interval_ms, char *err, size_t errsz)
{
	checkpointer *c = calloc(1, sizeof *c);
	if (!c) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	c->interval_ms = interval_ms;
	/* A server must be able to write: SQLite opens a read-only file (or one
	 * in a read-only directory or file system) without a word and fails
	 * each write later. An empty DELETE takes the write lock, which a
	 * read-only database refuses. */
	if (sqlite3_exec(st->db, "DELETE FROM meta WHERE 0", NULL, NULL, NULL) != SQLITE_OK) {
		char why[256];
		fail(st, why, sizeof why, "write");
		snprintf(err, errsz, "%s: cannot write the database (%s); the server needs write "
			 "access to the file, its directory and the file system", path, why);
		free(c);
		return -1;
	}
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errsz, "checkpointer: %s", sqlite3_errmsg(c->db));
		sqlite3_close(c->db);
		free(c);
		return -1;
	}
	sqlite3_busy_timeout(c->db, 1000);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	if (pthread_create(&c->thread, NULL, checkpoint_loop, c) != 0) {
		snprintf(err, errsz, "checkpointer: cannot start a thread");
		sqlite3_close(c->db);
		free(c);
		return -1;
	}
	sqlite3_wal_autocheckpoint(st->db, 0);
	st->ckpt = c;
	return 0;
}

static void stop_checkpointer(store *st)
{
	checkpointer *c = st->ckpt;
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = 1;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_close(c->db);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->wake);
	free(c);
	st->ckpt = NULL;
}

void store_close(store *st)
{
	if (!st)
		return;
	stop_checkpointer(st);
	sqlite3_finalize(st->ev_add);
	sqlite3_finalize(st->ev_since);
	sqlite3_finalize(st->conv_tok);
	sqlite3_finalize(st->fb_check);
	sqlite3_finalize(st->fb_put);
	sqlite3_finalize(st->entry_meta);
	for (int i = 0; i < STORE_TX_N; i++)
		sqlite3_finalize(st->tx[i]);
	sqlite3_close(st->db);
	free(st);
}

int store_backup(store *st, const char *path, char *err, size_t errsz)
{
	char tmp[4096];
	sqlite3 *dst = NULL;
	sqlite3_backup *b;
	int rc = -1, step;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
		snprintf(err, errsz, "path too long");
		return -1;
	}
	remove(tmp);
	if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		snprintf(err, errsz, "%s: %s", tmp, sqlite3_errmsg(dst));
		goto out;
	}
	if (!(b = sqlite3_backup_init(dst, "main", st->db, "main"))) {
		snprintf(err, errsz, "%s: %s", tmp, sqlite3_errmsg(dst));
		goto out;
	}
	/* Copy in steps so a busy writer is only briefly held up. */
	do {
		step = sqlite3_backup_step(b, 256);
		if (step == SQLITE_BUSY || step == SQLITE_LOCKED)
			sqlite3_sleep(20);
	} while (step == SQLITE_OK || step == SQLITE_BUSY || step == SQLITE_LOCKED);
	sqlite3_backup_finish(b);
	if (step != SQLITE_DONE) {
		snprintf(err, errsz, "backup: %s", sqlite3_errstr(step));
		goto out;
	}
	sqlite3_close(dst);
	dst = NULL;
	if (rename(tmp, path) != 0) {
		snprintf(err, errsz, "cannot rename %s to %s", tmp, path);
		goto out;
	}
	rc = 0;
out:
	if (dst)
		sqlite3_close(dst);
	if (rc < 0)
		remove(tmp);
	return rc;
}

void store_set_author(store *st, const char *author)
{
	st->author = author;
}

sqlite3 *store_db(store *st)
{
	return st->db;
}

/* Runs one of the transaction statements, prepared once (they run for every
 * message, twice with group commits). SQLITE_DONE or the error code. */
static int tx_exec(store *st, int which)
{
	static const char *const sql[STORE_TX_N] = {
		"BEGIN IMMEDIATE", "COMMIT", "ROLLBACK", "SAVEPOINT s", "RELEASE s", "ROLLBACK TO s",
	};
	int rc;
	if (!st->tx[which] &&
	    sqlite3_prepare_v3(st->db, sql[which], -1, SQLITE_PREPARE_PERSISTENT, &st->tx[which],
			       NULL) != SQLITE_OK)
		return sqlite3_errcode(st->db);
	rc = sqlite3_step(st->tx[which]);
	sqlite3_reset(st->tx[which]);
	return rc;
}

int store_begin(store *st, char *err, size_t errsz)
{
	if (st->tx_depth > 0) {
		if (tx_exec(st, TX_SAVEPOINT) != SQLITE_DONE)
			return fail(st, err, errsz, "savepoint");
		st->tx_depth++;
		return 0;
	}
	if (tx_exec(st, TX_BEGIN) != SQLITE_DONE)
		return fail(st, err, errsz, "begin");
	st->tx_depth = 1;
	return 0;
}

int store_commit(store *st, char *err, size_t errsz)
{
	if (st->tx_depth <= 0)
		return 0;
	if (st->tx_depth > 1) {
		if (tx_exec(st, TX_RELEASE) != SQLITE_DONE) {
			fail(st, err, errsz, "release");
			store_rollback(st);
			return -1;
		}
		st->tx_depth--;
		return 0;
	}
	st->tx_depth = 0;
	if (tx_exec(st, TX_COMMIT) != SQLITE_DONE) {
		fail(st, err, errsz, "commit");
		if (!sqlite3_get_autocommit(st->db))
			tx_exec(st, TX_ROLLBACK);
		return -1;
	}
	return 0;
}

int store_in_tx(const store *st)
{
	return st->tx_depth > 0;
}

void store_rollback(store *st)
{
	if (st->tx_depth <= 0)
		return;
	if (st->tx_depth > 1 && !sqlite3_get_autocommit(st->db)) {
		/* undo the savepoint only: the enclosing transaction goes on */
		tx_exec(st, TX_ROLLBACK_TO);
		tx_exec(st, TX_RELEASE);
		st->tx_depth--;
		return;
	}
	st->tx_depth = 0;
	if (!sqlite3_get_autocommit(st->db))
		tx_exec(st, TX_ROLLBACK);
}

int store_kb_upsert(store *st, const kb_list *entries, char *err, size_t errsz)
{
	sqlite3_stmt *up = NULL, *rev = NULL;
	int64_t now = util_now_us() / 1000;
	int rc = -1;

	if (store_begin(st, err, errsz) < 0)
		return -1;
	if (prepare(st, &up,
		    "INSERT INTO entries(id, question, alternates, answer, category, lang,"
		    " status, created_at, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, 'published', ?7, ?7)"
		    " ON CONFLICT(id) DO UPDATE SET question = excluded.question,"
		    " alternates = excluded.alternates, answer = excluded.answer,"
		    " category = excluded.category, lang = excluded.lang, status = 'published',"
		    " revision = max(revision, (SELECT coalesce(max(revision), 0) FROM entry_revisions"
		    "   WHERE entry_id = excluded.id)) + 1,"
		    " updated_at = excluded.updated_at", err, errsz) ||
	    prepare(st, &rev,
		    "INSERT INTO entry_revisions(entry_id, revision, status, doc, author, created_at)"
		    " SELECT id, revision, 'published', json_object('id', id, 'question', question,"
		    " 'alternates', json(alternates), 'answer', answer, 'category', category, 'lang', lang),"
		    " coalesce(?2, 'import'), ?3 FROM entries WHERE id = ?1"
		    " ON CONFLICT(entry_id, revision) DO NOTHING", err, errsz))
		goto out;
	for (size_t i = 0; i < entries->n; i++) {
		const kb_entry *e = &entries->v[i];
		json_t *alts = json_array();
		char *alts_text;
		for (size_t k = 0; k < e->n_alternates; k++)
			json_array_append_new(alts, json_string(e->alternates[k]));
		alts_text = json_dumps(alts, JSON_COMPACT);
		json_decref(alts);
		if (!alts_text) {
			snprintf(err, errsz, "out of memory");
			goto out;
		}
		sqlite3_bind_text(up, 1, e->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(up, 2, e->question, -1, SQLITE_STATIC);
		sqlite3_bind_text(up, 3, alts_text, -1, free);
		sqlite3_bind_text(up, 4, e->answer, -1, SQLITE_STATIC);
		sqlite3_bind_text(up, 5, e->category, -1, SQLITE_STATIC);
		sqlite3_bind_text(up, 6, e->lang, -1, SQLITE_STATIC);
		sqlite3_bind_int64(up, 7, now);
		if (sqlite3_step(up) != SQLITE_DONE) {
			fail(st, err, errsz, e->id);
			goto out;
		}
		sqlite3_reset(up);
		sqlite3_bind_text(rev, 1, e->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(rev, 2, st->author, -1, SQLITE_STATIC);
		sqlite3_bind_int64(rev, 3, now);
		if (sqlite3_step(rev) != SQLITE_DONE) {
			fail(st, err, errsz, e->id);
			goto out;
		}
		sqlite3_reset(rev);
	}
	if (sqlite3_exec(st->db,
			 "INSERT INTO meta(key, value) VALUES('kb_version', '1')"
			 " ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
			 NULL, NULL, NULL) != SQLITE_OK) {
		fail(st, err, errsz, "kb_version");
		goto out;
	}
	rc = store_commit(st, err, errsz);
out:
	sqlite3_finalize(up);
	sqlite3_finalize(rev);
	if (rc < 0)
		store_rollback(st);
	return rc;
}

int store_kb_load(store *st, kb_list *out, char *err, size_t errsz)
{
	sqlite3_stmt *q = NULL;
	int rc = -1, step;

	if (prepare(st, &q, "SELECT id, question, alternates, answer, category, lang FROM entries"
		    " WHERE status = 'published' ORDER BY id", err, errsz))
		return -1;
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		json_error_t jerr;
		json_t *obj = json_pack("{s:s, s:s, s:s, s:s, s:s}",
					"id", (const char *)sqlite3_column_text(q, 0),
					"question", (const char *)sqlite3_column_text(q, 1),
					"answer", (const char *)sqlite3_column_text(q, 3),
					"category", (const char *)sqlite3_column_text(q, 4),
					"lang", (const char *)sqlite3_column_text(q, 5));
		json_t *alts = json_loads((const char *)sqlite3_column_text(q, 2), 0, &jerr);
		kb_entry e;
		int bad;
		if (!obj) {
			json_decref(alts);
			snprintf(err, errsz, "out of memory");
			goto out;
		}
		if (alts)
			json_object_set_new(obj, "alternates", alts);
		bad = kb_entry_from_json(obj, &e, err, errsz);
		json_decref(obj);
		if (bad)
			goto out;
		if (out->n == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 64;
			kb_entry *v = realloc(out->v, cap * sizeof *v);
			if (!v) {
				kb_entry_clear(&e);
				snprintf(err, errsz, "out of memory");
				goto out;
			}
			out->v = v;
			out->cap = cap;
		}
		out->v[out->n++] = e;
	}
	if (step != SQLITE_DONE) {
		fail(st, err, errsz, "load entries");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(q);
	return rc;
}

int64_t store_kb_count(store *st)
{
	sqlite3_stmt *q = NULL;
	int64_t n = -1;
	if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM entries", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return n;
}

int store_entry_meta(store *st, const char *id, int64_t *revision, char review_by[16])
{
	int rc;
	sqlite3_bind_text(st->entry_meta, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st->entry_meta);
	if (rc == SQLITE_ROW) {
		*revision = sqlite3_column_int64(st->entry_meta, 0);
		snprintf(review_by, 16, "%s", (const char *)sqlite3_column_text(st->entry_meta, 1));
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? 1 : -1;
	}
	sqlite3_reset(st->entry_meta);
	return rc;
}

int store_meta_get(store *st, const char *key, char *out, size_t outsz)
{
	sqlite3_stmt *q = NULL;
	int rc = 1;
	out[0] = '\0';
	if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = ?1", -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	switch (sqlite3_step(q)) {
	case SQLITE_ROW:
		snprintf(out, outsz, "%s", (const char *)sqlite3_column_text(q, 0));
		rc = 0;
		break;
	case SQLITE_DONE:
		break;
	default:
		rc = -1;
	}
	sqlite3_finalize(q);
	return rc;
}

int store_meta_set(store *st, const char *key, const char *value, char *err, size_t errsz)
{
	sqlite3_stmt *q = NULL;
	int rc = -1;
	if (prepare(st, &q, "INSERT INTO meta(key, value) VALUES(?1, ?2)"
		    " ON CONFLICT(key) DO UPDATE SET value = excluded.value", err, errsz))
		return -1;
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_DONE)
		rc = 0;
	else
		fail(st, err, errsz, "meta");
	sqlite3_finalize(q);
	return rc;
}

int store_conv_create(store *st, const char *lang, char conv_id[STORE_CONV_ID_LEN + 1],
		      char token[STORE_TOKEN_LEN + 1], char *err, size_t errsz)
{
	unsigned char raw[32], idraw[16];
	char hash[65];
	sqlite3_stmt *q = NULL;
	int64_t now = util_now_us() / 1000;
	int rc = -1;

	if (util_random(raw, sizeof raw) < 0 || util_random(idraw, sizeof idraw) < 0) {
		snprintf(err, errsz, "no randomness available");
		return -1;
	}
	util_hex(raw, sizeof raw, token);
	conv_id[0] = 'c';
	conv_id[1] = '_';
	util_hex(idraw, sizeof idraw, conv_id + 2);
	util_sha256_hex(token, STORE_TOKEN_LEN, hash);
	if (prepare(st, &q, "INSERT INTO conversations(id, token_hash, status, lang, created_at,"
		    " updated_at) VALUES(?1, ?2, 'bot', ?3, ?4, ?4)", err, errsz))
		return -1;
	sqlite3_bind_text(q, 1, conv_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, lang, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, now);
	if (sqlite3_step(q) == SQLITE_DONE)
		rc = 0;
	else
		fail(st, err, errsz, "create conversation");
	sqlite3_finalize(q);
	return rc;
}

int store_conv_by_token(store *st, const char *token, char conv_id[STORE_CONV_ID_LEN + 1],
			char *status, size_t statussz, char *err, size_t errsz)
{
	char hash[65];
	int rc;
	util_sha256_hex(token, strlen(token), hash);
	sqlite3_bind_text(st->conv_tok, 1, hash, -1, SQLITE_STATIC);
	switch (sqlite3_step(st->conv_tok)) {
	case SQLITE_ROW:
		snprintf(conv_id, STORE_CONV_ID_LEN + 1, "%s",
			 (const char *)sqlite3_column_text(st->conv_tok, 0));
		snprintf(status, statussz, "%s", (const char *)sqlite3_column_text(st->conv_tok, 1));
		rc = 0;
		break;
	case SQLITE_DONE:
		rc = 1;
		break;
	default:
		rc = fail(st, err, errsz, "find conversation");
	}
	sqlite3_reset(st->conv_tok);
	return rc;
}

int store_conv_set_status(store *st, const char *conv_id, const char *status,
			  const char *reason, char *err, size_t errsz)
{
	sqlite3_stmt *q = NULL;
	int rc = -1;
	if (prepare(st, &q, "UPDATE conversations SET status = ?2, reason = ?3, updated_at = ?4"
		    " WHERE id = ?1", err, errsz))
		return -1;
	sqlite3_bind_text(q, 1, conv_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, status, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, util_now_us() / 1000);
	if (sqlite3_step(q) == SQLITE_DONE)
		rc = 0;
	else
		fail(st, err, errsz, "set status");
	sqlite3_finalize(q);
	return rc;
}

int store_event_add(store *st, const char *conv_id, const char *role, const char *type,
		    const char *text, const json_t *fields, int64_t *id_out,
		    char *err, size_t errsz)
{
	char *fields_text = fields ? json_dumps(fields, JSON_COMPACT) : NULL;
	int rc = -1;
	if (fields && !fields_text) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	sqlite3_bind_text(st->ev_add, 1, conv_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st->ev_add, 2, role, -1, SQLITE_STATIC);
	sqlite3_bind_text(st->ev_add, 3, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st->ev_add, 4, text, -1, SQLITE_STATIC);
	if (fields_text)
		sqlite3_bind_text(st->ev_add, 5, fields_text, -1, free);
	else
		sqlite3_bind_null(st->ev_add, 5);
	sqlite3_bind_int64(st->ev_add, 6, util_now_us() / 1000);
	if (sqlite3_step(st->ev_add) == SQLITE_DONE) {
		*id_out = sqlite3_last_insert_rowid(st->db);
		rc = 0;
	} else {
		fail(st, err, errsz, "store event");
	}
	sqlite3_reset(st->ev_add);
	sqlite3_clear_bindings(st->ev_add);
	return rc;
}

json_t *store_events_since(store *st, const char *conv_id, int64_t since, char *err, size_t errsz)
{
	return store_events_read(st, conv_id, since, 0, err, errsz);
}

json_t *store_events_read(store *st, const char *conv_id, int64_t since, int with_notes,
			  char *err, size_t errsz)
{
	json_t *list = json_array();
	int step;
	sqlite3_bind_text(st->ev_since, 1, conv_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st->ev_since, 2, since);
	sqlite3_bind_int(st->ev_since, 3, with_notes ? 1 : 0);
	while ((step = sqlite3_step(st->ev_since)) == SQLITE_ROW) {
		sqlite3_stmt *q = st->ev_since;
		char ts[21];
		json_t *ev = NULL;
		if (sqlite3_column_type(q, 4) != SQLITE_NULL)
			ev = json_loads((const char *)sqlite3_column_text(q, 4), 0, NULL);
		if (!json_is_object(ev)) {
			json_decref(ev);
			ev = json_object();
		}
		util_iso8601(sqlite3_column_int64(q, 5) / 1000, ts);
		json_object_set_new(ev, "id", json_integer(sqlite3_column_int64(q, 0)));
		json_object_set_new(ev, "role", json_string((const char *)sqlite3_column_text(q, 1)));
		json_object_set_new(ev, "type", json_string((const char *)sqlite3_column_text(q, 2)));
		json_object_set_new(ev, "text", json_string((const char *)sqlite3_column_text(q, 3)));
		json_object_set_new(ev, "ts", json_string(ts));
		if (sqlite3_column_type(q, 6) != SQLITE_NULL)
			json_object_set_new(ev, "helpful", json_boolean(sqlite3_column_int(q, 6)));
		if (!with_notes) {
			/* Patients see a staff member's display name ("name"), never the
			 * login names ("by", "to"): half a credential for /login. */
			json_object_del(ev, "by");
			json_object_del(ev, "to");
		}
		json_array_append_new(list, ev);
	}
	sqlite3_reset(st->ev_since);
	if (step != SQLITE_DONE) {
		fail(st, err, errsz, "read events");
		json_decref(list);
		return NULL;
	}
	return list;
}

int store_feedback(store *st, const char *conv_id, int64_t event_id, int helpful,
		   char *err, size_t errsz)
{
	int found, rc = -1;
	sqlite3_bind_int64(st->fb_check, 1, event_id);
	sqlite3_bind_text(st->fb_check, 2, conv_id, -1, SQLITE_STATIC);
	found = sqlite3_step(st->fb_check);
	sqlite3_reset(st->fb_check);
	if (found == SQLITE_DONE)
		return 1;
	if (found != SQLITE_ROW)
		return fail(st, err, errsz, "find reply");
	sqlite3_bind_int64(st->fb_put, 1, event_id);
	sqlite3_bind_int(st->fb_put, 2, helpful ? 1 : 0);
	sqlite3_bind_int64(st->fb_put, 3, util_now_us() / 1000);
	if (sqlite3_step(st->fb_put) == SQLITE_DONE)
		rc = 0;
	else
		fail(st, err, errsz, "store feedback");
	sqlite3_reset(st->fb_put);
	return rc;
}
