/* chat: the patient chat protocol (docs/protocol.md), free of sockets.
 *
 * The server hands every complete text frame of a patient connection to
 * chat_handle with that connection's chat_session; chat_handle parses it,
 * stores what must be stored (in one transaction, before anything is sent),
 * asks the engine, and emits zero or more reply frames through emit. Tests
 * drive it directly with a store, an engine and a fake clock. */
#ifndef FD_CHAT_H
#define FD_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "desk.h"
#include "engine.h"
#include "store.h"

#define CHAT_MAX_TEXT 4000        /* characters of one patient message */
#define CHAT_BURST 10             /* default: frames allowed at once ... */
#define CHAT_REFILL_PER_SEC 1.0   /* ... refilled at this rate */

/* Messages the bot says; borrowed strings, owned by whoever configured them. */
typedef struct chat_messages {
	const char *greeting[2];        /* [TEXT_LANG_EN], [TEXT_LANG_ES] */
	const char *handoff[2];         /* low confidence */
	const char *person[2];          /* asked for a person */
	const char *emergency[2];
	const char *still_waiting[2];   /* another unsure question while already queued */
	const char *nobody[2];          /* handed off, open, but no staff online */
	const char *closed[2];          /* handed off outside opening hours (then the hours) */
	const char *leave_message[2];   /* how to leave a message, after either */
	const char *ticket_ok[2];       /* a message was left */
} chat_messages;

/* Shared by all sessions of a server; the store and engine are borrowed. */
typedef struct chat_ctx {
	store *st;
	engine *eng;
	desk *desk;                     /* the staff side; NULL: handoffs only queue */
	chat_messages msg;
	json_t *custom_msg;             /* owns the admin's texts msg points into, or NULL */
	int64_t (*now_us)(void);        /* monotonic clock, injectable for tests */
	double burst;                   /* rate limit per connection; 0: CHAT_BURST */
	double refill_per_sec;          /* 0: CHAT_REFILL_PER_SEC */
	/* Optional, the per-address limit: called with the emit user of a
	 * message that passed the connection's own checks, before any work;
	 * 0 refuses it with rate_limited. NULL: no such limit. */
	int (*allow_message)(void *user);
} chat_ctx;

/* Per connection; zero it before the first frame. */
typedef struct chat_session {
	char conv_id[STORE_CONV_ID_LEN + 1];   /* "" until hello */
	int lang;                              /* TEXT_LANG_*, from hello's hint */
	double tokens;                         /* rate-limit bucket */
	int64_t refilled_us;
	int64_t typing_us;                     /* when the last typing frame went through */
	int started;
	const char *last_error;                /* code of the last error frame (static) */
} chat_session;

/* Receives one reply frame (JSON text, len bytes, not NUL-terminated in
 * general); the callee copies what it keeps. */
typedef void (*chat_emit_fn)(void *user, const char *frame, size_t len);

/* Fills ctx->msg with the built-in English and Spanish messages. */
void chat_default_messages(chat_messages *m);

/* The messages an admin may change, by name, for settings. */
#define CHAT_N_CUSTOM 6
extern const char *const chat_custom_names[CHAT_N_CUSTOM]; /* greeting handoff person closed nobody leave_message */

/* Applies an admin's texts: custom is {"greeting":{"en":"...","es":"..."},...}
 * (any subset; a missing text keeps the built-in one). Steals the reference
 * (ctx keeps it while msg points into it; NULL restores the defaults). The
 * caller has validated it (chat_messages_check). */
void chat_messages_apply(chat_ctx *ctx, json_t *custom);
/* 0 if custom is a valid messages object, else -1 with the reason in err. */
int chat_messages_check(const json_t *custom, char *err, size_t errsz);
/* New reference: the texts in use, in the shape chat_messages_apply takes. */
json_t *chat_messages_json(const chat_ctx *ctx);

/* The text the patient is shown for a decision (borrowed: the entry's answer
 * or one of ctx->msg), in the decision's language. */
const char *chat_reply_text(const chat_ctx *ctx, const engine_decision *d);

/* Whether a handoff of a conversation in desk status (borrowed; was_emergency
 * its flag) changes the waiting line, so every waiting patient must be told
 * their place again: it joins the line (from bot or resolved), or jumps it
 * as a new emergency. Owned and ticket chats are not in the line. */
int chat_queue_moves(const char *status, int was_emergency, int emergency);

/* When frame is a patient "message" (the frames the server groups into one
 * commit): the frame parsed, a new reference the caller hands on to
 * chat_handle_parsed (so a message is parsed once). Else NULL. Any bytes. */
json_t *chat_parse_message(const char *frame, size_t len);
/* The error frame a message gets when it could not be stored (NUL-terminated
 * JSON; the server sends it to every message of a group commit that failed). */
extern const char chat_unsaved_frame[];

/* Handles one complete frame (any bytes). Emits at least one frame (a reply
 * or an error), except for "typing", which only tells the staff console
 * (and is dropped, silently, when more than two a second arrive). Returns 0,
 * or -1 when the frame was an error the
 * caller may want to log (s->last_error names it; it was answered with an
 * error frame). */
int chat_handle(chat_ctx *ctx, chat_session *s, const char *frame, size_t len,
		chat_emit_fn emit, void *user);
/* chat_handle for a frame chat_parse_message already parsed: steals parsed
 * (NULL: parses the frame itself, as chat_handle). */
int chat_handle_parsed(chat_ctx *ctx, chat_session *s, const char *frame, size_t len,
		       json_t *parsed, chat_emit_fn emit, void *user);

#endif
