/* store: everything frontdesk keeps, in one SQLite file (WAL mode).
 *
 * Tables: entries (the knowledge base), entry_fts (the FTS5 index the engine
 * builds over it), conversations (with the staff desk's status, owner and
 * queue time), events (every patient message, reply, staff message, note and
 * status change: the replay log), feedback and meta. Other modules add their
 * own tables through store_db: auth (users, sessions), notify (outbox).
 * Schema versions are PRAGMA user_version, migrated forward on open. synchronous=NORMAL: in WAL mode
 * a process crash (kill -9) loses no committed transaction; only a power loss
 * can lose the last few, which we accept for ~8x the commit rate (docs/).
 *
 * All functions return 0 on success and -1 on error with the text in err;
 * "not found" is 1 where it can happen. Not thread-safe: one store per
 * thread. No network code here. */
#ifndef FD_STORE_H
#define FD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "kbfile.h"

typedef struct store store;

#define STORE_CONV_ID_LEN 34   /* "c_" + 32 hex */
#define STORE_TOKEN_LEN 64     /* 32 random bytes in hex */

/* Opens (creating if needed) the database at path (":memory:" works) and
 * brings its schema up to date. *out is owned by the caller: store_close. */
int store_open(const char *path, store **out, char *err, size_t errsz);
void store_close(store *st);

/* Moves WAL checkpoints off the caller's thread: the store's connection stops
 * checkpointing on commit (a checkpoint writes the database file and fsyncs,
 * which stalled the event loop for up to seconds under load), and a
 * background thread with its own connection runs a PASSIVE checkpoint every
 * interval_ms, which never blocks the writer. store_close stops it and runs a
 * last checkpoint. For a file database only; returns 0 or -1 with err. */
int store_start_checkpointer(store *st, const char *path, int interval_ms, char *err, size_t errsz);

/* Writes a consistent copy of the whole database to path with SQLite's online
 * backup API (safe while a server writes to it), through path.tmp and a
 * rename, so path is never half written. */
int store_backup(store *st, const char *path, char *err, size_t errsz);

/* Borrowed handle for modules that run their own statements (the engine). */
sqlite3 *store_db(store *st);

/* Transactions, nestable: the outermost begin/commit is a SQLite
 * transaction (BEGIN IMMEDIATE ... COMMIT), an inner one a savepoint, so
 * store_rollback undoes only the innermost open one and the enclosing
 * transaction goes on (the event loop's group commit holds many messages in
 * one transaction; one that fails must not undo the others). A failed
 * commit of the outermost transaction rolls it back. store_in_tx: 1 while
 * a transaction is open. */
int store_begin(store *st, char *err, size_t errsz);
int store_commit(store *st, char *err, size_t errsz);
void store_rollback(store *st);
int store_in_tx(const store *st);

/* Knowledge base. Upserts every entry by id in one transaction: all or
 * nothing, each published, each a new revision (entry_revisions) by the
 * author set with store_set_author (borrowed; NULL: "import"). Bumps the kb
 * version so the engine knows to rebuild. */
void store_set_author(store *st, const char *author);
int store_kb_upsert(store *st, const kb_list *entries, char *err, size_t errsz);
/* Appends every published entry to out (which owns them), ordered by id. */
int store_kb_load(store *st, kb_list *out, char *err, size_t errsz);
/* Number of entries, or -1. */
int64_t store_kb_count(store *st);

/* The live revision of entry id and its review-by date ("YYYY-MM-DD" or ""):
 * 0 found, 1 no such entry, -1 error. */
int store_entry_meta(store *st, const char *id, int64_t *revision, char review_by[16]);

/* meta key/value (small settings and versions). store_meta_get copies into
 * out; returns 1 when absent (out set to ""). */
int store_meta_get(store *st, const char *key, char *out, size_t outsz);
int store_meta_set(store *st, const char *key, const char *value, char *err, size_t errsz);

/* Conversations. conv_id gets the new id; token the new token (shown to the
 * patient once; only its SHA-256 is stored). */
int store_conv_create(store *st, const char *lang, char conv_id[STORE_CONV_ID_LEN + 1],
		      char token[STORE_TOKEN_LEN + 1], char *err, size_t errsz);
/* Finds the conversation of a token: 0 found (conv_id and status filled),
 * 1 unknown token, -1 error. */
int store_conv_by_token(store *st, const char *token, char conv_id[STORE_CONV_ID_LEN + 1],
			char *status, size_t statussz, char *err, size_t errsz);
int store_conv_set_status(store *st, const char *conv_id, const char *status,
			  const char *reason, char *err, size_t errsz);

/* Appends an event. fields (borrowed, may be NULL) holds the type's extra
 * fields (entry, confidence, reason, reply_to...) kept as JSON. */
int store_event_add(store *st, const char *conv_id, const char *role, const char *type,
		    const char *text, const json_t *fields, int64_t *id_out,
		    char *err, size_t errsz);

/* New reference: the conversation's events with id > since, oldest first, as
 * frames: {"id","role","type","text","ts", ...fields, "helpful"?}. */
json_t *store_events_since(store *st, const char *conv_id, int64_t since,
			   char *err, size_t errsz);

/* The same, for staff: with_notes also includes internal notes (type
 * "note"), which store_events_since never returns: patients never see them. */
json_t *store_events_read(store *st, const char *conv_id, int64_t since, int with_notes,
			  char *err, size_t errsz);

/* Records thumbs up/down on a bot reply of this conversation (last one wins).
 * 0 stored, 1 no such bot reply in this conversation, -1 error. */
int store_feedback(store *st, const char *conv_id, int64_t event_id, int helpful,
		   char *err, size_t errsz);

#endif
