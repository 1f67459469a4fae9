/* batch: group commit for the event loop, free of sockets.
 *
 * Every patient message is stored before its ack and reply are sent. One
 * SQLite transaction per message spent most of the store's share of a
 * message in locks and WAL writes; the loop instead opens one transaction
 * (batch_begin) for the messages of one pass over the ready sockets, each
 * message inside it as a savepoint (store_begin nests), and holds every
 * frame produced meanwhile (batch_hold) instead of sending it. batch_end
 * commits once and only then hands the frames on, in order: still nothing
 * is sent before the commit that stores it. If that commit fails, nothing
 * of the batch was stored: each message of it gets one error frame instead
 * of its ack and reply, and the frames held for anyone else (consoles,
 * other waiting patients) are dropped, since they told of rolled-back
 * events.
 *
 * Owners are opaque pointers (the server's per-connection structs): a
 * connection that closes during a pass is removed with batch_forget before
 * its struct goes, so batch_end never hands a frame to a freed owner.
 * Not thread-safe; one batch per store. No network code here. */
#ifndef FD_BATCH_H
#define FD_BATCH_H

#include <stddef.h>

#include "store.h"

#define BATCH_MAX_MESSAGES 256   /* a fuller batch is committed at once */

typedef struct batch batch;

/* Receives one frame for owner (borrowed; copy what you keep). */
typedef void (*batch_deliver_fn)(void *owner, const char *frame, size_t len);

/* st is borrowed and must outlive the batch. NULL on out of memory. */
batch *batch_new(store *st);
/* Rolls back an open batch and drops what it holds. */
void batch_free(batch *b);

/* Opens the batch's transaction unless it is open: 1 open, 0 it could not
 * begin (the database is locked, read-only...: the caller handles the message
 * on its own, unbatched, so its own transaction reports the error). */
int batch_begin(batch *b);
int batch_is_open(const batch *b);
/* 1 when the open batch has BATCH_MAX_MESSAGES messages: end it now. */
int batch_full(const batch *b);

/* Counts one patient message of owner in the open batch: if the commit
 * fails, owner gets one error frame per message counted. */
void batch_count(batch *b, void *owner);
/* Keeps a copy of frame for owner until batch_end. 0, or -1 on out of memory
 * (the frame is lost: the caller closes that connection). */
int batch_hold(batch *b, void *owner, const char *frame, size_t len);
/* Drops everything held or counted for owner (it is going away). */
void batch_forget(batch *b, void *owner);

/* Commits the open batch (no-op returning 0 when none is open). On success
 * delivers every held frame in the order held and returns the number of
 * messages; on failure delivers fail_frame (borrowed) once per counted
 * message to its owner, drops the rest, and returns -1 with err. The batch is
 * closed and empty afterwards either way. */
int batch_end(batch *b, batch_deliver_fn deliver, const char *fail_frame, char *err,
	      size_t errsz);

#endif
