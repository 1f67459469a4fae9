/* retention: deletes old conversations, whole, on a schedule.
 *
 * A conversation goes when its last activity (the later of
 * conversations.updated_at and its newest event; a bot-only chat never
 * touches updated_at) is older than the retention period, unless a person
 * still has to answer it (status waiting, owned or ticket): those stay
 * whatever their age. With it go its events, their feedback (both by
 * ON DELETE CASCADE, which needs foreign_keys=ON: checked) and the webhook
 * outbox rows that name it (they hold no patient text, but nothing should
 * point at a chat that is gone). Deleted content is overwritten, not just
 * unlinked (secure_delete for the run).
 *
 * What stays: audit rows whose target is the conversation id (the audit log
 * is append-only by trigger and never holds patient text), and
 * inbox_dismissed keys (hashes of a question's terms, linked to no chat).
 * The FTS5 index entry_fts holds knowledge-base entries only (engine.c
 * sync_fts writes it from the kb), never conversation text, so there is
 * nothing of a chat to remove from it. */
#ifndef FD_RETENTION_H
#define FD_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Deletes, in one transaction (nested in the caller's if one is open), every
 * conversation idle since before now_ms - days * 86400000 and not with
 * staff; *deleted_out (may be NULL) gets how many. days <= 0 keeps
 * everything (returns 0, deletes nothing). Then, if the database has
 * auto_vacuum, returns the freed pages to the OS (PRAGMA incremental_vacuum;
 * never a full VACUUM). st borrowed. 0, or -1 with the message in err
 * (nothing deleted). */
int retention_run(store *st, int days, int64_t now_ms, int64_t *deleted_out,
		  char *err, size_t errsz);

#endif
