/* desk: the staff side of conversations (docs/staff-protocol.md), free of
 * sockets. The queue of chats waiting for a person, claiming one (one owner,
 * atomically), staff replies, internal notes, transfer, hand back to the bot,
 * resolve, tickets left after hours, presence, and what a waiting patient is
 * told about their place in line.
 *
 * State lives in the store (conversations.status/owner_id/queued_at and the
 * events table), so a restart or a crash loses no queued chat; presence is
 * only in memory (a console that is not connected is not online).
 *
 * Conversation status: bot -> waiting (handed off) -> owned (claimed) ->
 * bot (handed back) or resolved; waiting/owned -> ticket (a message left when
 * nobody could answer) -> owned -> resolved. A resolved chat goes back to the
 * bot when the patient writes again.
 *
 * Frames to other connections go out through the sink the server gives:
 * to every connection of one patient conversation, or to every staff console.
 * The caller's own replies go through the emit function of each call. */
#ifndef FD_DESK_H
#define FD_DESK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth.h"
#include "engine.h"
#include "notify.h"
#include "store.h"

typedef struct desk desk;

typedef void (*desk_emit_fn)(void *user, const char *frame, size_t len);

typedef struct desk_sink {
	void *user;
	/* one frame for every patient connection of conversation conv */
	void (*to_patients)(void *user, const char *conv, const char *frame, size_t len);
	/* one frame for every staff console connection */
	void (*to_staff)(void *user, const char *frame, size_t len);
	/* is a patient of conversation conv connected? NULL: assume so. Places
	 * in the line are told only to connected patients (a patient who comes
	 * back is told theirs on hello). */
	int (*has_patient)(void *user, const char *conv);
} desk_sink;

/* One staff console connection; the server owns it (zeroed, then
 * desk_staff_join) and calls desk_staff_leave before freeing it. */
typedef struct desk_staff {
	auth_user user;
	int online;                      /* presence: 1 online, 0 away */
	int started;                     /* hello seen */
	double tokens;                   /* rate limit */
	int64_t refilled_us;
	const char *last_error;          /* code of the last error frame (static) */
	struct desk_staff *next, *prev;  /* the desk's list while joined */
} desk_staff;

/* Whether a person can answer now. */
typedef enum desk_availability {
	DESK_AVAILABLE = 0,   /* open (or no hours configured) and someone online */
	DESK_NOBODY,          /* open, but no console is online */
	DESK_CLOSED           /* outside opening hours or a holiday */
} desk_availability;

/* A conversation's desk state, plain data. */
typedef struct desk_conv {
	char status[16];                 /* bot, waiting, owned, ticket, resolved */
	int64_t owner_id;                /* 0 when nobody owns it */
	int emergency;
	char lang[8];
} desk_conv;

/* st, eng (for opening hours and the clock), au (owner names) are borrowed and
 * must outlive the desk; nt may be NULL (no webhooks); sink is copied.
 * *out: desk_close. */
int desk_open(store *st, engine *eng, auth *au, notify *nt, const desk_sink *sink,
	      desk **out, char *err, size_t errsz);
void desk_close(desk *d);

/* --- the patient side (called by chat) ---------------------------------- */

/* 0 found, 1 no such conversation, -1 error. */
int desk_conv_get(desk *d, const char *conv, desk_conv *out, char *err, size_t errsz);

desk_availability desk_available(desk *d);
/* Number of staff connections online (distinct accounts). */
int desk_online_count(desk *d);

/* Inside the caller's transaction: the conversation enters the queue
 * (waiting, or stays owned/ticket and gets the emergency flag), lang is
 * remembered for system messages, and the webhooks are queued. */
int desk_enqueue_tx(desk *d, const char *conv, const char *reason, int emergency,
		    const char *lang, char *err, size_t errsz);
/* Inside the caller's transaction: sets the status (resolved -> bot when the
 * patient writes again; waiting/owned -> ticket). */
int desk_set_status_tx(desk *d, const char *conv, const char *status, char *err, size_t errsz);

/* After a commit: tells the consoles about the conversation's events with
 * id > since (when it is on the desk) and its queue item; with
 * queue_changed, also every waiting patient their new place (only conv
 * itself when it joined at the end of the line: nobody else moved). */
void desk_conv_changed(desk *d, const char *conv, int64_t since, int queue_changed);

/* With defer set, desk_conv_changed only notes whose place to tell, and
 * desk_flush_places tells them (the server flushes after each pass of its
 * event loop: a busy pass that moves the line many times tells each chat
 * once, not once per move). The chats that joined or jumped the line hear
 * their place at once. When the line moved under patients who did not move
 * themselves (an emergency jumped it, a chat left it), everyone waiting is
 * told in a sweep, begun at most once every DESK_PLACES_EVERY_US (the server
 * also flushes on its 1 s tick, so within two seconds) and told
 * DESK_PLACES_PER_PASS frames a flush. A change every waiting patient should
 * see at once (staff came online, a chat was claimed) begins a sweep at the
 * next flush. d may be NULL in desk_flush_places. */
#define DESK_MAX_JOINED 64
#define DESK_PLACES_EVERY_US 1000000
#define DESK_PLACES_PER_PASS 64
void desk_defer_places(desk *d, int defer);
void desk_flush_places(desk *d);

/* New reference: {"type":"queue","position":N,"staff_online":N,"open":bool}
 * for a waiting conversation, NULL otherwise. */
json_t *desk_queue_frame(desk *d, const char *conv);

/* The patient is typing (not stored): tells the consoles. */
void desk_patient_typing(desk *d, const char *conv, int typing);

/* --- the staff side ------------------------------------------------------ */

/* A console connected (s zeroed by the caller, user copied); starts online.
 * desk_staff_leave before s is freed. Both tell the other consoles. */
void desk_staff_join(desk *d, desk_staff *s, const auth_user *user);
void desk_staff_leave(desk *d, desk_staff *s);

/* Handles one frame of a console. Emits a reply or an error, except for
 * "typing" and "presence", which only change what others see. Returns 0, or -1 when it was an error (s->last_error). */
int desk_staff_handle(desk *d, desk_staff *s, const char *frame, size_t len,
		      desk_emit_fn emit, void *user);

/* New reference: {"queue":[ITEM...]} / {"item":ITEM,"events":[...]} (notes
 * included), for the HTTP API. NULL with err (not_found: "no such
 * conversation on the desk"). */
json_t *desk_queue_json(desk *d, char *err, size_t errsz);
json_t *desk_conversation_json(desk *d, const char *conv, char *err, size_t errsz);

#endif
