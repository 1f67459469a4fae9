/* admin: what admins do to keep the knowledge base right (docs/admin-api.md),
 * free of sockets: entries with revisions (draft or published, stale edits
 * refused), try-a-question, the unanswered inbox, the audit log, and import
 * and export. A published change is applied to the engine at once
 * (engine_reload), without a restart.
 *
 * Every function that answers a route returns a new JSON reference, or NULL
 * with *status (400, 404, 409, 413, 500) and a message in err. actor is the
 * login name of the admin acting (borrowed). Not thread-safe. */
#ifndef FD_ADMIN_H
#define FD_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "chat.h"
#include "engine.h"
#include "store.h"

typedef struct admin admin;

#define ADMIN_MAX_ALTERNATES 50    /* per entry (the importer's other limits apply: kbfile.h) */
#define ADMIN_RETENTION_DEFAULT 365  /* days a conversation is kept after its last activity */

/* st and eng are borrowed and must outlive a. *out: admin_close. */
int admin_open(store *st, engine *eng, admin **out, char *err, size_t errsz);
void admin_close(admin *a);
/* Borrowed: the engine admin_open was given. */
engine *admin_engine(admin *a);

/* Appends to the audit log (append-only: triggers refuse UPDATE and DELETE).
 * detail may be NULL; it must never hold patient text. Errors are logged. */
void admin_audit(store *st, const char *actor, const char *action, const char *target,
		 const char *detail, const char *peer);

/* {"entries":[{id, question, category, lang, status, revision, updated_at,
 * review_by, owner, draft: revision number of a newer draft or null}]}:
 * q matches id/question/alternates/answer (case-insensitive substring);
 * category and status filter ("" or NULL: all). */
json_t *admin_entries(admin *a, const char *q, const char *category, const char *status,
		      int *status_out, char *err, size_t errsz);
/* {"entry":{...published or draft-only fields..., revision},
 *  "revisions":[{revision, status, author, created_at, doc}...] newest first}. */
json_t *admin_entry_get(admin *a, const char *id, int *status_out, char *err, size_t errsz);
/* Creates (id NULL: body.id) or edits an entry. body: id (create only),
 * question, alternates[], answer, category, lang, review_by ("YYYY-MM-DD" or
 * null), owner, publish (bool; false keeps it a draft), base_revision (edit
 * only: the revision the edit started from; another save since -> 409).
 * Returns {"entry":..., "revision":N, "published":bool}. */
json_t *admin_entry_save(admin *a, const char *id, const json_t *body, const char *actor,
			 int *status_out, char *err, size_t errsz);
/* Publishes revision rev (a draft, or an older revision: a restore) as a new
 * revision. */
json_t *admin_entry_publish(admin *a, const char *id, int64_t rev, const char *actor,
			    int *status_out, char *err, size_t errsz);
/* Archives the entry: patients no longer get it. */
json_t *admin_entry_archive(admin *a, const char *id, const char *actor,
			    int *status_out, char *err, size_t errsz);

/* Try a question: {"decision","reason","confidence","entry","text","threshold",
 * "matches":[{entry, question, score}], "why"} against the published entries. */
json_t *admin_try(admin *a, const char *text, int *status_out, char *err, size_t errsz);

/* The unanswered inbox of the last `days` days: low-confidence handoffs and
 * answers marked unhelpful, grouped when alike (same analysed terms):
 * {"items":[{key, kind: "handoff"|"unhelpful", text, count, last_at, entry?}]},
 * most frequent first, dismissed groups left out. */
json_t *admin_inbox(admin *a, int days, int *status_out, char *err, size_t errsz);
json_t *admin_inbox_dismiss(admin *a, const char *key, const char *actor,
			    int *status_out, char *err, size_t errsz);

/* {"events":[{id, at, actor, action, target, detail, peer}]}, newest first,
 * before id `before` (0: from the newest), at most limit (<= 500). */
json_t *admin_audit_list(admin *a, int64_t before, int limit, int *status_out,
			 char *err, size_t errsz);

/* The whole knowledge base as JSONL (the import format), published
 * entries; *len set. Caller frees. */
char *admin_export(admin *a, size_t *len, char *err, size_t errsz);
/* Imports JSONL: every line valid or nothing imported (400 with "line N:
 * reason"). Published at once. {"imported":N}. */
json_t *admin_import(admin *a, const char *jsonl, size_t len, const char *actor,
		     int *status_out, char *err, size_t errsz);

/* Answer recall: the conversations of the last `days` days that got this
 * entry's answer from a revision older than the live one, to follow up:
 * {"entry","current_revision","days","conversations":[{conversation, last_at,
 * revision, answers}]}. */
json_t *admin_recall(admin *a, const char *id, int days, int *status_out, char *err, size_t errsz);

/* Analytics over [from_ms, to_ms) (UTC days, at most 400): per day
 * conversations, patient messages, bot answers, handoffs, emergencies,
 * thumbs; totals: conversations, answered by the bot alone and its share,
 * handoff rate and reasons, thumbs, the median seconds until a person
 * answered, top entries, top unanswered questions. */
json_t *admin_analytics(admin *a, int64_t from_ms, int64_t to_ms, int *status_out,
			char *err, size_t errsz);
/* The per-day table as CSV (RFC 4180, CRLF); caller frees; *len set. */
char *admin_analytics_csv(admin *a, int64_t from_ms, int64_t to_ms, size_t *len, char *err, size_t errsz);

/* The clinic's synonyms the engine reads words with: {"synonyms":{"appt":
 * "appointment","pap":"pap smear"}}; PUT replaces them all and rebuilds
 * the index at once. */
json_t *admin_synonyms(admin *a, int *status_out, char *err, size_t errsz);
json_t *admin_synonyms_put(admin *a, const json_t *body, const char *actor, int *status_out,
			   char *err, size_t errsz);

/* The chat settings an admin may change live (borrowed, may be NULL). */
void admin_set_chat(admin *a, chat_ctx *chat);
/* Days conversations are kept after their last activity (0: forever). */
int admin_retention_days(admin *a);
/* {"threshold","retention_days","hours":{...}|null,"messages":{...}}. */
json_t *admin_settings(admin *a, int *status_out, char *err, size_t errsz);
/* Changes any of those (all checked before any is applied); the answer is
 * admin_settings after the change. Hours reload the engine; messages apply
 * to the next reply. */
json_t *admin_settings_put(admin *a, const json_t *body, const char *actor, int *status_out,
			   char *err, size_t errsz);

#endif
