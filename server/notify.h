/* notify: webhook notifications through an outbox table.
 *
 * When a chat enters the staff queue, notify_enqueue adds one outbox row per
 * configured webhook, inside the caller's transaction (so the notification
 * exists exactly when the queued chat does, and survives a crash or restart).
 * notify_pump, called by the server from a timer, sends due rows with a
 * libcurl multi handle and never blocks: it only calls curl_multi_perform and
 * reads results. A 2xx marks a row delivered; anything else (refused, timeout
 * after 10 s, 4xx/5xx) schedules a retry with exponential backoff (2 s, 4 s,
 * ... capped at 10 min; given up after 24 h, logged). Rows left "sending"
 * by a crash are sent again at the next start (at least once; receivers
 * dedupe by the X-Frontdesk-Delivery id).
 *
 * Body: never the patient's words or identity; the conversation id, the
 * reason and a link to the staff console. Two formats per webhook:
 *   slack:   {"text":"<link|Chat waiting> (reason) ..."}  (Slack incoming webhooks)
 *   generic: {"event":"chat.queued","delivery":"...","conversation":"c_...",
 *             "reason":"emergency","queued_at":"ISO-8601","url":"..."}
 * Headers: Content-Type: application/json; X-Frontdesk-Delivery: <row id>;
 * X-Frontdesk-Timestamp: <unix seconds>; X-Frontdesk-Signature:
 * sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>.
 *
 * The link is console_url + "#" + conversation id (the console opens that
 * chat). Bodies are built at enqueue time and never change across retries;
 * only the timestamp and signature are per attempt (the attempt's send time).
 *
 * Table (in the store's database; delivered and failed rows are kept as an
 * audit of what was sent, which holds no patient text):
 *   outbox(id INTEGER PRIMARY KEY AUTOINCREMENT  -- the delivery id, never reused
 *          url, format 'generic'|'slack', body, created_at (unix ms),
 *          next_at_ms, attempts, state 'pending'|'sending'|'delivered'|'failed',
 *          last_status (HTTP code, 0 = no answer), last_error)
 * At notify_open, rows left 'sending' become 'pending', and pending rows whose
 * url is no longer configured are marked failed ("hook removed"): removing a
 * webhook stops its posts. A row not yet sent 24 h after it was queued is
 * failed too ("expired"): a day-old "chat waiting" is noise.
 *
 * Transfers: at most NOTIFY_MAX_INFLIGHT at once, http/https only, redirects
 * not followed, response bodies discarded, proxies from the environment
 * honoured (libcurl's default). Logs one line per failed attempt and per
 * given-up row: the row id, the status or curl error, and the url's host only
 * (a Slack webhook url carries its secret in the path).
 *
 * notify_open calls curl_global_init and notify_close curl_global_cleanup
 * (libcurl counts them); a program with threads should call
 * curl_global_init once itself before starting them.
 *
 * Not thread-safe; one per store, used on the server's loop thread. */
#ifndef FD_NOTIFY_H
#define FD_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct notify notify;

#define NOTIFY_MAX_HOOKS 16
#define NOTIFY_MAX_INFLIGHT 4
#define NOTIFY_TIMEOUT_MS 10000L          /* whole transfer, default */
#define NOTIFY_BACKOFF_FIRST_MS 2000      /* after the 1st failure; doubles */
#define NOTIFY_BACKOFF_CAP_MS 600000      /* 10 min */
#define NOTIFY_GIVE_UP_MS (24LL * 3600 * 1000)

typedef enum notify_format { NOTIFY_GENERIC = 0, NOTIFY_SLACK = 1 } notify_format;

typedef struct notify_hook {
	const char *url;                 /* http:// or https:// (borrowed) */
	notify_format format;
} notify_hook;

/* Creates the outbox table if needed. st borrowed; hooks copied; secret
 * (borrowed, copied) signs every body; console_url (copied) is the link put
 * in bodies, e.g. "https://clinic.example/staff". Refused: a hook url that
 * is not http(s), more than NOTIFY_MAX_HOOKS hooks, hooks with an empty
 * secret, a console_url with spaces, quotes, <, > or |. *out: notify_close. */
int notify_open(store *st, const notify_hook *hooks, size_t n_hooks, const char *secret,
		const char *console_url, notify **out, char *err, size_t errsz);
/* Aborts transfers in flight (their rows stay due and are sent at the next
 * start) and frees everything. NULL is a no-op. */
void notify_close(notify *n);

/* Changes the per-transfer timeout (connect included) for transfers started
 * from now on; ms > 0. Default NOTIFY_TIMEOUT_MS. For tests and config. */
void notify_set_timeout_ms(notify *n, long ms);

/* Inside the caller's transaction: one outbox row per hook for a chat that
 * entered the queue. reason: "emergency", "asked_for_person",
 * "low_confidence", "ticket"... Returns 0 (also with no hooks) or -1.
 * Works in a savepoint: on -1 its own rows are undone and the caller's
 * transaction is left as it was; without an open transaction the rows are
 * committed at once. conv_id must be [A-Za-z0-9_-]{1,64} and reason
 * [a-z0-9_]{1,32}; anything else is refused, so no free text reaches a body. */
int notify_enqueue(notify *n, const char *conv_id, const char *reason, int64_t now_unix,
		   char *err, size_t errsz);

/* Starts due deliveries and collects finished ones; never blocks. now_ms:
 * wall clock in ms. Returns the ms until it wants to be called again (small
 * while transfers run, else until the next due row, at most 1000). */
int notify_pump(notify *n, int64_t now_ms);

/* Counts for /healthz and tests: rows pending (not yet delivered, not given up). */
int64_t notify_pending(notify *n);

/* The signature header value for body at timestamp: "sha256=" + 64 hex
 * (out size >= 72). Exposed so tests (and receivers' docs) can check it. */
void notify_sign(const char *secret, int64_t timestamp, const char *body, size_t len,
		 char out[72]);

#endif
