/* server: see server.h. The shape follows the libwebsockets minimal
 * examples: one context and vhost, protocols[] with per-session structs, a
 * per-session outbound queue written one frame per WRITEABLE callback.
 *
 * The event loop is libev (epoll), ours ("foreign" to lws), run one
 * iteration at a time so that the group commit closes after each pass:
 * lws's default poll() loop walked every descriptor on every pass, a
 * quarter of the server's time at 1,000 connections (docs/performance.md). */
#include "server.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ev.h>
#include <jansson.h>
#include <libwebsockets.h>

#include "api.h"
#include "batch.h"
#include "retention.h"
#include "strmap.h"
#include "util.h"

/* A client whose queue filled up has this long to take its 1008 close. */
#define SERVER_SLOW_CLOSE_S 5
/* A request body gets this long, then must have averaged this rate since. */
#define SERVER_BODY_GRACE_S 10
#define SERVER_BODY_MIN_BPS 1024
/* Patient connections by conversation id: a power of two */
#define SERVER_CONV_BUCKETS 16384
/* lws's timeout on an HTTP transaction (info.timeout_secs). */
#define SERVER_HTTP_TIMEOUT_S 20
/* On shutdown, the patient sockets get this long to take their 1001 close. */
#define SERVER_DRAIN_US 1500000

typedef struct outmsg {
	struct outmsg *next;
	size_t len;
	unsigned char buf[];      /* LWS_PRE bytes of headroom, then the frame */
} outmsg;

typedef struct pss_chat {
	struct pss_chat *next, *prev;   /* all live sessions (patients and staff) */
	struct pss_chat *conv_next;     /* patients: same bucket of srv.by_conv */
	char indexed[STORE_CONV_ID_LEN + 1]; /* the conversation it is indexed under, or "" */
	struct lws *wsi;
	unsigned long conn;             /* connection number for logs */
	char peer[64];
	int staff;                      /* a staff console (frontdesk-staff), else a patient */
	chat_session chat;              /* patients */
	desk_staff desk;                /* staff */
	char token[AUTH_TOKEN_LEN + 1]; /* staff: the session cookie, checked on every frame */
	int64_t expires_at;             /* staff: unix seconds */
	char *rx;                       /* reassembly of a fragmented message */
	size_t rx_len, rx_cap;
	size_t discarded;               /* bytes dropped of an oversized message */
	outmsg *head, *tail;
	size_t queued;
	int close_code;                 /* nonzero: close with this on next writeable */
	const char *close_reason;
} pss_chat;

typedef struct pss_http {
	char *body;                     /* response body */
	size_t len;
	/* the API: the request as read */
	char method[8];
	char path[256];
	char query[1024];
	char cookie[1024];
	char csrf[80];
	char peer[64];
	int same_origin, origin_present;
	char *req_body;
	size_t req_len;
	int req_too_big;
	int64_t body_started_us;        /* monotonic: when the headers were complete */
	size_t body_seen;               /* bytes of body received, kept or not */
	int answered;                   /* api_run has run: lws may still report an empty body */
} pss_http;

/* The per-address message bucket (allow_peer_message). */
typedef struct ip_bucket {
	double tokens;
	int64_t refilled_us;            /* monotonic; 0: not used yet (starts full) */
} ip_bucket;

typedef struct srv {
	const server_config *cfg;
	chat_ctx *chat;
	desk *desk;
	auth *au;
	notify *nt;
	api_ctx api;
	strmap *per_ip;
	strmap *ip_slot;                /* peer address -> its bucket in ip_buckets */
	ip_bucket *ip_buckets;          /* one per address seen, never removed (as per_ip) */
	size_t n_ip_buckets, cap_ip_buckets;
	pss_chat *sessions;
	pss_chat **by_conv;             /* SERVER_CONV_BUCKETS chains, by conversation id */
	unsigned long next_conn;
	size_t n_sessions;
	struct lws_context *context;
	batch *batch;                   /* group commit of patient messages; NULL: off */
	lws_sorted_usec_list_t tick;
	int64_t next_sweep;
	int64_t next_retention;         /* unix seconds */
} srv;

static volatile sig_atomic_t interrupted;
static struct lws_context *running_context;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
	/* A write(2) to lws's pipe, signal-safe: it wakes the loop even if the
	 * signal came just before epoll_wait (which it would otherwise end). */
	if (running_context)
		lws_cancel_service(running_context);
}

static srv *srv_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

/* --- origin check ------------------------------------------------------- */

static int origin_allowed(struct lws *wsi, const server_config *cfg)
{
	char origin[256], host[256];
	const char *o;
	if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0)
		return 0; /* browsers always send Origin on WebSockets: no Origin, no chat */
	for (size_t i = 0; i < cfg->n_origins; i++)
		if (strcasecmp(origin, cfg->origins[i]) == 0)
			return 1;
	if (lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0)
		return 0;
	o = origin;
	if (strncasecmp(o, "http://", 7) == 0)
		o += 7;
	else if (strncasecmp(o, "https://", 8) == 0)
		o += 8;
	else
		return 0;
	return strcasecmp(o, host) == 0;
}

/* The Origin header is absent (*present = 0) or names this server itself. */
static int same_origin(struct lws *wsi, int *present)
{
	char origin[256], host[256];
	const char *o = origin;
	*present = lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) > 0;
	if (!*present)
		return 1;
	if (lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0)
		return 0;
	if (strncasecmp(o, "http://", 7) == 0)
		o += 7;
	else if (strncasecmp(o, "https://", 8) == 0)
		o += 8;
	else
		return 0;
	return strcasecmp(o, host) == 0;
}

/* --- the outbound queue ------------------------------------------------- */

/* Queues a frame for sending now (it tells of nothing uncommitted). */
static void queue_now(void *user, const char *frame, size_t len)
{
	pss_chat *pss = user;
	outmsg *m;
	if (pss->close_code)
		return;
	if (pss->queued >= SERVER_MAX_QUEUED) {
		/* A client that does not read: stop queueing, close it. The close
		 * frame waits behind the queue, and a socket that is never read
		 * never becomes writeable, so lws drops it after a grace period
		 * whether or not the close got out. */
		LOG_WARN("ws: conn %lu: not reading (%d frames queued), closing", pss->conn,
			 SERVER_MAX_QUEUED);
		pss->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
		pss->close_reason = "not reading";
		lws_set_timeout(pss->wsi, PENDING_TIMEOUT_USER_OK, SERVER_SLOW_CLOSE_S);
		lws_callback_on_writable(pss->wsi);
		return;
	}
	m = malloc(sizeof *m + LWS_PRE + len);
	if (!m) {
		pss->close_code = LWS_CLOSE_STATUS_UNEXPECTED_CONDITION;
		pss->close_reason = "out of memory";
		lws_callback_on_writable(pss->wsi);
		return;
	}
	m->next = NULL;
	m->len = len;
	memcpy(m->buf + LWS_PRE, frame, len);
	if (pss->tail)
		pss->tail->next = m;
	else
		pss->head = m;
	pss->tail = m;
	pss->queued++;
	lws_callback_on_writable(pss->wsi);
}

/* Every frame for a connection goes through here: while a group commit is
 * open, it waits in the batch until the commit (batch.h). */
static void queue_frame(void *user, const char *frame, size_t len)
{
	pss_chat *pss = user;
	srv *s = srv_of(pss->wsi);
	if (s->batch && batch_is_open(s->batch)) {
		if (pss->close_code)
			return;
		if (batch_hold(s->batch, pss, frame, len) < 0) {
			pss->close_code = LWS_CLOSE_STATUS_UNEXPECTED_CONDITION;
			pss->close_reason = "out of memory";
			lws_callback_on_writable(pss->wsi);
		}
		return;
	}
	queue_now(user, frame, len);
}

/* Commits the open group commit, if any, and releases its frames. Called
 * after every pass of the event loop, before anything that is not a patient
 * message (staff frames, the API, timers, handshakes), and when it is full. */
static void batch_flush(srv *s)
{
	char err[256];
	/* the queue places this pass moved: their frames join the batch */
	desk_flush_places(s->desk);
	if (s->batch && batch_is_open(s->batch) &&
	    batch_end(s->batch, queue_now, chat_unsaved_frame, err, sizeof err) < 0)
		LOG_ERR("group commit failed, every message of it answered with an error: "
			"message not stored: %s", err);
}

static void free_queue(pss_chat *pss)
{
	while (pss->head) {
		outmsg *m = pss->head;
		pss->head = m->next;
		free(m);
	}
	pss->tail = NULL;
	pss->queued = 0;
}

static void close_with(struct lws *wsi, pss_chat *pss, int code, const char *why)
{
	pss->close_code = code;
	pss->close_reason = why;
	lws_callback_on_writable(wsi);
}

/* --- the chat and staff protocols ---------------------------------------- */

#define CLOSE_SESSION_EXPIRED 4001   /* application close code: sign in again */

/* The staff session of a handshake's cookie: 0 valid (out filled), else not. */
static int staff_session(srv *s, struct lws *wsi, auth_session *out, char token[AUTH_TOKEN_LEN + 1])
{
	char cookie[1024];
	if (lws_hdr_copy(wsi, cookie, sizeof cookie, WSI_TOKEN_HTTP_COOKIE) <= 0)
		return 1;
	return api_staff_session(&s->api, cookie, out, token);
}

static void session_expired(pss_chat *pss)
{
	static const char frame[] = "{\"type\":\"error\",\"code\":\"session_expired\","
				    "\"message\":\"your session has ended; sign in again\"}";
	queue_frame(pss, frame, sizeof frame - 1);
	close_with(pss->wsi, pss, CLOSE_SESSION_EXPIRED, "session expired");
}

/* The bucket of a peer address, made (full) on first use; NULL: out of memory. */
static ip_bucket *peer_bucket(srv *s, const char *peer)
{
	int slot = strmap_get(s->ip_slot, peer, -1);
	if (slot >= 0)
		return &s->ip_buckets[slot];
	if (s->n_ip_buckets == s->cap_ip_buckets) {
		size_t cap = s->cap_ip_buckets ? s->cap_ip_buckets * 2 : 64;
		ip_bucket *b = cap <= INT_MAX ? realloc(s->ip_buckets, cap * sizeof *b) : NULL;
		if (!b)
			return NULL;
		s->ip_buckets = b;
		s->cap_ip_buckets = cap;
	}
	if (strmap_put(s->ip_slot, peer, (int)s->n_ip_buckets) < 0)
		return NULL;
	s->ip_buckets[s->n_ip_buckets] = (ip_bucket){ 0 };
	return &s->ip_buckets[s->n_ip_buckets++];
}

/* The per-address message limit (chat_ctx.allow_message): a token bucket
 * per peer address, so many connections from one address cannot together
 * flood the engine past what one address may ask. */
static int allow_peer_message(void *user)
{
	pss_chat *pss = user;
	srv *s = srv_of(pss->wsi);
	ip_bucket *b;
	if (s->cfg->ip_per_sec <= 0)
		return 1;
	/* out of memory: the per-connection limit still holds */
	if (!(b = peer_bucket(s, pss->peer)))
		return 1;
	if (util_bucket_take(&b->tokens, &b->refilled_us, util_mono_us(), s->cfg->ip_burst,
			     s->cfg->ip_per_sec))
		return 1;
	LOG_WARN("ws: conn %lu: messages from %s over the per-address limit", pss->conn, pss->peer);
	return 0;
}

/* --- patient connections by conversation -------------------------------- */

/* The desk tells a conversation's connections of staff replies and queue
 * places; with a walk over every connection per conversation, telling a line
 * of 1,000 waiting patients their places was a million string compares. */
static pss_chat **conv_chain(srv *s, const char *conv)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)conv; *p; p++)
		h = (h ^ *p) * 16777619u;
	return &s->by_conv[h & (SERVER_CONV_BUCKETS - 1)];
}

static void conv_unindex(srv *s, pss_chat *pss)
{
	if (!pss->indexed[0])
		return;
	for (pss_chat **pp = conv_chain(s, pss->indexed); *pp; pp = &(*pp)->conv_next)
		if (*pp == pss) {
			*pp = pss->conv_next;
			break;
		}
	pss->indexed[0] = '\0';
	pss->conv_next = NULL;
}

/* After each frame: a hello may have started or resumed a conversation. */
static void conv_reindex(srv *s, pss_chat *pss)
{
	pss_chat **chain;
	if (strcmp(pss->indexed, pss->chat.conv_id) == 0)
		return;
	conv_unindex(s, pss);
	if (!pss->chat.started || !pss->chat.conv_id[0])
		return;
	memcpy(pss->indexed, pss->chat.conv_id, sizeof pss->indexed);
	chain = conv_chain(s, pss->indexed);
	pss->conv_next = *chain;
	*chain = pss;
}

/* One complete text message of a connection. */
static void handle_message(srv *s, pss_chat *pss, const char *data, size_t len)
{
	if (!pss->staff) {
		/* A patient message joins the open group commit (or opens one);
		 * anything else first commits what is open, then runs alone. */
		json_t *message = s->batch ? chat_parse_message(data, len) : NULL;
		int batched = message && batch_begin(s->batch);
		if (batched)
			batch_count(s->batch, pss);
		else
			batch_flush(s);
		if (chat_handle_parsed(s->chat, &pss->chat, data, len, message, queue_frame, pss) < 0)
			LOG_WARN("ws: conn %lu: %s", pss->conn, pss->chat.last_error);
		conv_reindex(s, pss);
		if (batched && batch_full(s->batch))
			batch_flush(s);
		return;
	}
	batch_flush(s);
	{
		/* Every console frame re-checks the session: a logout, a disabled
		 * account or the idle timeout ends the console too. Activity here
		 * is what keeps a session alive. */
		auth_session sess;
		char err[256];
		if (auth_session_check(s->au, pss->token, util_now_us() / 1000000, &sess,
				       err, sizeof err) != 0) {
			LOG_INFO("ws: conn %lu: staff session ended", pss->conn);
			session_expired(pss);
			return;
		}
		pss->expires_at = sess.expires_at;
	}
	if (desk_staff_handle(s->desk, &pss->desk, data, len, queue_frame, pss) < 0)
		LOG_WARN("ws: conn %lu: staff: %s", pss->conn, pss->desk.last_error);
}

static int cb_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		 void *in, size_t len, int staff)
{
	pss_chat *pss = user;
	srv *s;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
		char uri[64], peer[64];
		s = srv_of(wsi);
		batch_flush(s);
		if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, "/ws") != 0) {
			LOG_WARN("ws: refused: wrong path");
			return 1;
		}
		if (staff) {
			auth_session sess;
			char token[AUTH_TOKEN_LEN + 1];
			int present;
			lws_get_peer_simple(wsi, peer, sizeof peer);
			/* Consoles only from our own pages: never a widget origin. */
			if (!same_origin(wsi, &present) || !present) {
				LOG_WARN("ws: staff refused from %s: origin not allowed", peer);
				lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, "origin not allowed");
				return 1;
			}
			if (staff_session(s, wsi, &sess, token) != 0) {
				LOG_WARN("ws: staff refused from %s: no session", peer);
				lws_return_http_status(wsi, HTTP_STATUS_UNAUTHORIZED, "sign in first");
				return 1;
			}
			return 0;
		}
		if (!origin_allowed(wsi, s->cfg)) {
			lws_get_peer_simple(wsi, peer, sizeof peer);
			LOG_WARN("ws: refused from %s: origin not allowed", peer);
			lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, "origin not allowed");
			return 1;
		}
		lws_get_peer_simple(wsi, peer, sizeof peer);
		if (s->cfg->max_conn_per_ip > 0 &&
		    strmap_get(s->per_ip, peer, 0) >= s->cfg->max_conn_per_ip) {
			LOG_WARN("ws: refused from %s: too many connections", peer);
			lws_return_http_status(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "too many connections");
			return 1;
		}
		return 0;
	}

	case LWS_CALLBACK_ESTABLISHED:
		s = srv_of(wsi);
		batch_flush(s);
		memset(pss, 0, sizeof *pss);
		if (staff) {
			auth_session sess;
			if (staff_session(s, wsi, &sess, pss->token) != 0)
				return -1; /* expired between the handshake and now */
			pss->staff = 1;
			pss->expires_at = sess.expires_at;
		}
		pss->wsi = wsi;
		pss->conn = ++s->next_conn;
		lws_get_peer_simple(wsi, pss->peer, sizeof pss->peer);
		strmap_put(s->per_ip, pss->peer, strmap_get(s->per_ip, pss->peer, 0) + 1);
		pss->next = s->sessions;
		if (s->sessions)
			s->sessions->prev = pss;
		s->sessions = pss;
		s->n_sessions++;
		if (pss->staff) {
			auth_session sess;
			char err[128];
			if (auth_session_check(s->au, pss->token, util_now_us() / 1000000, &sess,
					       err, sizeof err) == 0) {
				LOG_INFO("ws: conn %lu: staff console of %s", pss->conn, sess.user.name);
				desk_staff_join(s->desk, &pss->desk, &sess.user);
			}
		}
		break;

	case LWS_CALLBACK_RECEIVE:
		s = srv_of(wsi);
		if (pss->close_code)
			break;
		if (lws_frame_is_binary(wsi)) {
			LOG_WARN("ws: conn %lu: binary frame refused", pss->conn);
			lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
					 (unsigned char *)"text frames only", 16);
			return -1;
		}
		if (pss->discarded || pss->rx_len + len > SERVER_MAX_FRAME) {
			/* Too big: read and drop the rest of the message, then close
			 * with 1009. Closing mid-message would leave the peer's data
			 * unread, and the kernel's reset would hide our close code.
			 * A peer that keeps streaming past 1 MiB is cut off. */
			pss->discarded += len;
			pss->rx_len = 0;
			if (pss->discarded > 1024 * 1024) {
				LOG_WARN("ws: conn %lu: oversized message still streaming, dropped", pss->conn);
				return -1;
			}
			if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
				LOG_WARN("ws: conn %lu: message over %d bytes, closed", pss->conn, SERVER_MAX_FRAME);
				close_with(wsi, pss, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too big");
			}
			break;
		}
		if (lws_is_first_fragment(wsi) && lws_is_final_fragment(wsi) &&
		    !lws_remaining_packet_payload(wsi) && pss->rx_len == 0) {
			/* the common case: one whole frame, no copy */
			handle_message(s, pss, in, len);
			break;
		}
		if (pss->rx_len + len > pss->rx_cap) {
			size_t cap = pss->rx_cap ? pss->rx_cap : 1024;
			char *p;
			while (cap < pss->rx_len + len)
				cap *= 2;
			if (!(p = realloc(pss->rx, cap))) {
				close_with(wsi, pss, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
				break;
			}
			pss->rx = p;
			pss->rx_cap = cap;
		}
		memcpy(pss->rx + pss->rx_len, in, len);
		pss->rx_len += len;
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			handle_message(s, pss, pss->rx, pss->rx_len);
			pss->rx_len = 0;
		}
		break;

	case LWS_CALLBACK_SERVER_WRITEABLE: {
		outmsg *m = pss->head;
		if (m) {
			pss->head = m->next;
			if (!pss->head)
				pss->tail = NULL;
			pss->queued--;
			if (lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len) {
				free(m);
				return -1;
			}
			free(m);
			if (pss->head || pss->close_code)
				lws_callback_on_writable(wsi);
			break;
		}
		if (pss->close_code) {
			const char *why = pss->close_reason ? pss->close_reason : "";
			lws_close_reason(wsi, (enum lws_close_status)pss->close_code,
					 (unsigned char *)why, strlen(why));
			return -1;
		}
		break;
	}

	case LWS_CALLBACK_CLOSED:
		s = srv_of(wsi);
		if (pss->conn == 0)
			break;
		if (s->batch)
			batch_forget(s->batch, pss); /* its frames die with it */
		conv_unindex(s, pss);
		strmap_put(s->per_ip, pss->peer, strmap_get(s->per_ip, pss->peer, 1) - 1);
		if (pss->staff)
			desk_staff_leave(s->desk, &pss->desk);
		if (pss->prev)
			pss->prev->next = pss->next;
		else
			s->sessions = pss->next;
		if (pss->next)
			pss->next->prev = pss->prev;
		s->n_sessions--;
		free_queue(pss);
		free(pss->rx);
		pss->rx = NULL;
		pss->conn = 0;
		break;

	default:
		break;
	}
	return 0;
}

static int cb_chat(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		   void *in, size_t len)
{
	return cb_ws(wsi, reason, user, in, len, 0);
}

static int cb_staff(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		    void *in, size_t len)
{
	return cb_ws(wsi, reason, user, in, len, 1);
}

/* The first patient connection of conversation conv from p on, along its
 * hash chain (which other conversations share); NULL when there is none. */
static pss_chat *of_conv(pss_chat *p, const char *conv)
{
	while (p && strcmp(p->indexed, conv) != 0)
		p = p->conv_next;
	return p;
}

/* The desk's sink: frames for a patient conversation's connections, and for
 * every staff console. A linear walk: staff events are rare next to patient
 * messages, and a walk over 10,000 connections is tens of microseconds. */
static void sink_patients(void *user, const char *conv, const char *frame, size_t len)
{
	srv *s = user;
	for (pss_chat *p = of_conv(*conv_chain(s, conv), conv); p; p = of_conv(p->conv_next, conv))
		queue_frame(p, frame, len);
}

static int sink_has_patient(void *user, const char *conv)
{
	return of_conv(*conv_chain(user, conv), conv) != NULL;
}

static void sink_staff(void *user, const char *frame, size_t len)
{
	srv *s = user;
	for (pss_chat *p = s->sessions; p; p = p->next)
		if (p->staff && p->desk.started)
			queue_frame(p, frame, len);
}

/* Every second (sooner while webhooks are in flight): deliveries, consoles
 * whose session ran out, expired sessions in the database. */
static void on_tick(lws_sorted_usec_list_t *sul)
{
	srv *s = lws_container_of(sul, srv, tick);
	int64_t now = util_now_us();
	int next_ms = 1000;
	batch_flush(s);
	if (s->nt) {
		next_ms = notify_pump(s->nt, now / 1000);
		if (next_ms < 10)
			next_ms = 10;
		if (next_ms > 1000)
			next_ms = 1000;
	}
	for (pss_chat *p = s->sessions; p; p = p->next)
		if (p->staff && !p->close_code && p->expires_at > 0 && now / 1000000 >= p->expires_at) {
			LOG_INFO("ws: conn %lu: staff session idle too long", p->conn);
			session_expired(p);
		}
	if (now / 1000000 >= s->next_sweep) {
		auth_sweep(s->au, now / 1000000);
		s->next_sweep = now / 1000000 + 60;
	}
	/* Retention: hourly, conversations idle past the admin's setting go,
	 * whole (a minute after start, then every hour). */
	if (s->next_retention == 0)
		s->next_retention = now / 1000000 + 60;
	if (now / 1000000 >= s->next_retention) {
		int64_t n = 0;
		char err[256];
		if (retention_run(s->chat->st, admin_retention_days(s->api.admin), now / 1000, &n,
				  err, sizeof err) < 0)
			LOG_ERR("retention: %s", err);
		else if (n > 0)
			LOG_INFO("retention: %lld conversations deleted", (long long)n);
		s->next_retention = now / 1000000 + 3600;
	}
	lws_sul_schedule(s->context, 0, &s->tick, on_tick, (lws_usec_t)next_ms * 1000);
}

/* The shutdown drain's deadline: waking the loop is all it does. */
static void on_drain_limit(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

/* --- the JSON status route ---------------------------------------------- */

static int cb_http(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		   void *in, size_t len)
{
	pss_http *pss = user;
	unsigned char head[LWS_PRE + 1024], *start = head + LWS_PRE, *p = start,
		      *end = head + sizeof head - 1;

	switch (reason) {
	case LWS_CALLBACK_HTTP: {
		srv *s = srv_of(wsi);
		json_t *j;
		(void)in;
		batch_flush(s);
		j = json_pack("{s:s, s:I, s:I}", "status", "ok",
			      "entries", (json_int_t)engine_entry_count(s->chat->eng),
			      "connections", (json_int_t)s->n_sessions);
		pss->body = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		if (!pss->body)
			return 1;
		pss->len = strlen(pss->body);
		if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "application/json",
						pss->len, &p, end) ||
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
						(const unsigned char *)"no-store", 8, &p, end) ||
		    lws_finalize_write_http_header(wsi, start, &p, end))
			return 1;
		lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_HTTP_WRITEABLE: {
		unsigned char *buf;
		int n;
		if (!pss->body)
			return -1;
		buf = malloc(LWS_PRE + pss->len);
		if (!buf)
			return -1;
		memcpy(buf + LWS_PRE, pss->body, pss->len);
		n = lws_write(wsi, buf + LWS_PRE, pss->len, LWS_WRITE_HTTP_FINAL);
		free(buf);
		free(pss->body);
		pss->body = NULL;
		if (n < (int)pss->len)
			return -1;
		if (lws_http_transaction_completed(wsi))
			return -1;
		return 0;
	}
	case LWS_CALLBACK_CLOSED_HTTP:
		free(pss->body);
		pss->body = NULL;
		break;
	default:
		break;
	}
	(void)len;
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* --- the API and the gated pages ----------------------------------------- */

static const struct { enum lws_token_indexes tok; const char *name; } methods[] = {
	{ WSI_TOKEN_GET_URI, "GET" },
	{ WSI_TOKEN_POST_URI, "POST" },
	{ WSI_TOKEN_PUT_URI, "PUT" },
	{ WSI_TOKEN_DELETE_URI, "DELETE" },
	{ WSI_TOKEN_PATCH_URI, "PATCH" },
	{ WSI_TOKEN_HEAD_URI, "HEAD" },
};

/* Sends resp: a gated page from the web directory, a redirect, or JSON. */
static int api_respond(struct lws *wsi, pss_http *pss, api_response *resp)
{
	srv *s = srv_of(wsi);
	unsigned char head[LWS_PRE + 2048], *start = head + LWS_PRE, *p = start,
		      *end = head + sizeof head - 1;
	int rc = -1;

	if (resp->page) {
		static const char nostore[] = "cache-control: no-store\x0d\x0a";
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", s->cfg->web_dir, resp->page);
		free(resp->body);
		/* lws_serve_http_file: <0 error, >0 done and the transaction is over */
		rc = lws_serve_http_file(wsi, path, "text/html; charset=utf-8", nostore,
					 (int)sizeof nostore - 1);
		return rc < 0 ? -1 : rc > 0 ? (lws_http_transaction_completed(wsi) ? -1 : 0) : 0;
	}
	if (resp->status == 303) {
		free(resp->body);
		if (lws_http_redirect(wsi, HTTP_STATUS_SEE_OTHER, (unsigned char *)resp->location,
				      (int)strlen(resp->location), &p, end) < 0)
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	pss->body = resp->body ? resp->body : strdup("{}");
	resp->body = NULL;
	if (!pss->body)
		return -1;
	pss->len = strlen(pss->body);
	if (lws_add_http_common_headers(wsi, (unsigned int)resp->status,
					resp->content_type ? resp->content_type : "application/json",
					pss->len, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
					(const unsigned char *)"no-store", 8, &p, end) ||
	    (resp->set_cookie[0] &&
	     lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_SET_COOKIE,
					  (unsigned char *)resp->set_cookie,
					  (int)strlen(resp->set_cookie), &p, end)) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int api_run(struct lws *wsi, pss_http *pss)
{
	srv *s = srv_of(wsi);
	api_request req = {
		.method = pss->method, .path = pss->path, .query = pss->query, .cookie = pss->cookie,
		.csrf = pss->csrf, .same_origin = pss->same_origin,
		.origin_present = pss->origin_present, .peer = pss->peer,
		.body = pss->req_body, .body_len = pss->req_len, .body_too_big = pss->req_too_big,
	};
	api_response resp;
	pss->answered = 1;
	batch_flush(s); /* the API's writes are its own, told at once */
	api_handle(&s->api, &req, &resp);
	/* lws armed its content timeout before LWS_CALLBACK_HTTP (and clears it
	 * only for a request with a body): a handler slower than that (a retrain
	 * under valgrind) would see its connection closed before the answer. */
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, SERVER_HTTP_TIMEOUT_S);
	if (resp.status >= 400)
		LOG_INFO("api: %s %s -> %d", pss->method, pss->path, resp.status);
	free(pss->req_body);
	pss->req_body = NULL;
	pss->req_len = 0;
	return api_respond(wsi, pss, &resp);
}

static size_t body_limit(const pss_http *pss)
{
	return strcmp(pss->path, API_IMPORT_PATH) == 0 ? API_MAX_IMPORT : API_MAX_BODY;
}

/* lws re-arms its timeout on every read, so a body sent a byte a second
 * would hold its connection forever (slowloris on the body): past a grace
 * period, the body must have averaged SERVER_BODY_MIN_BPS. Counts len in. */
static int body_too_slow(pss_http *pss, size_t len)
{
	int64_t late_ms = (util_mono_us() - pss->body_started_us) / 1000 - SERVER_BODY_GRACE_S * 1000;
	pss->body_seen += len;
	return late_ms > 0 && pss->body_seen < (size_t)(late_ms * SERVER_BODY_MIN_BPS / 1000);
}

static int cb_api(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		  void *in, size_t len)
{
	pss_http *pss = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP: {
		char clen[24];
		size_t i;
		memset(pss, 0, sizeof *pss);
		/* lws may call HTTP_BODY (len 0) even for a request answered here */
		pss->body_started_us = util_mono_us();
		for (i = 0; i < sizeof methods / sizeof methods[0]; i++)
			if (lws_hdr_total_length(wsi, methods[i].tok) > 0)
				break;
		if (i == sizeof methods / sizeof methods[0] ||
		    lws_hdr_copy(wsi, pss->path, sizeof pss->path, methods[i].tok) <= 0) {
			lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL);
			return -1;
		}
		snprintf(pss->method, sizeof pss->method, "%s", methods[i].name);
		/* lws keeps the query arguments URL-decoded, one fragment each:
		 * join them with '&' again. */
		{
			size_t qn = 0;
			char frag[256];
			for (int f = 0; f < 16; f++) {
				int fl = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, f);
				if (fl <= 0 || qn + (size_t)fl + 2 > sizeof pss->query)
					break;
				if (qn)
					pss->query[qn++] = '&';
				memcpy(pss->query + qn, frag, (size_t)fl);
				qn += (size_t)fl;
			}
			pss->query[qn] = '\0';
		}
		if (lws_hdr_copy(wsi, pss->cookie, sizeof pss->cookie, WSI_TOKEN_HTTP_COOKIE) < 0)
			pss->cookie[0] = '\0';
		if (lws_hdr_custom_copy(wsi, pss->csrf, sizeof pss->csrf, "x-csrf-token:", 13) < 0)
			pss->csrf[0] = '\0';
		pss->same_origin = same_origin(wsi, &pss->origin_present);
		lws_get_peer_simple(wsi, pss->peer, sizeof pss->peer);
		/* A body follows: answer once it is complete. */
		if (lws_hdr_copy(wsi, clen, sizeof clen, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
		    strtoul(clen, NULL, 10) > 0 && strcmp(pss->method, "GET") != 0 &&
		    strcmp(pss->method, "HEAD") != 0) {
			if (strtoul(clen, NULL, 10) > body_limit(pss))
				pss->req_too_big = 1;
			return 0;
		}
		return api_run(wsi, pss);
	}
	case LWS_CALLBACK_HTTP_BODY:
		/* Already answered (no Content-Length: lws still reports an empty
		 * body): nothing more to read. */
		if (pss->answered)
			return 0;
		if (body_too_slow(pss, len)) {
			LOG_WARN("api: %s %s from %s: request body too slow, closed", pss->method,
				 pss->path, pss->peer);
			return -1;
		}
		if (pss->req_too_big || pss->req_len + len > body_limit(pss)) {
			pss->req_too_big = 1;
			free(pss->req_body);
			pss->req_body = NULL;
			pss->req_len = 0;
			return 0;
		}
		{
			char *b = realloc(pss->req_body, pss->req_len + len + 1);
			if (!b)
				return -1;
			memcpy(b + pss->req_len, in, len);
			pss->req_len += len;
			b[pss->req_len] = '\0';
			pss->req_body = b;
		}
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return pss->answered ? 0 : api_run(wsi, pss);
	case LWS_CALLBACK_HTTP_WRITEABLE: {
		unsigned char *buf;
		int n;
		if (!pss->body)
			return 0;
		buf = malloc(LWS_PRE + pss->len);
		if (!buf)
			return -1;
		memcpy(buf + LWS_PRE, pss->body, pss->len);
		n = lws_write(wsi, buf + LWS_PRE, pss->len, LWS_WRITE_HTTP_FINAL);
		free(buf);
		free(pss->body);
		pss->body = NULL;
		if (n < (int)pss->len)
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		free(pss->body);
		pss->body = NULL;
		free(pss->req_body);
		pss->req_body = NULL;
		break;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{ "http", lws_callback_http_dummy, 0, 0, 0, NULL, 0 },
	{ "frontdesk-status", cb_http, sizeof(pss_http), 0, 0, NULL, 0 },
	{ "frontdesk-api", cb_api, sizeof(pss_http), 0, 0, NULL, 0 },
	{ "frontdesk-chat", cb_chat, sizeof(pss_chat), 4096, 0, NULL, 0 },
	{ "frontdesk-staff", cb_staff, sizeof(pss_chat), 4096, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static const lws_retry_bo_t idle_policy = {
	.secs_since_valid_ping = 30,   /* ping a quiet patient socket ... */
	.secs_since_valid_hangup = 70, /* ... and drop it if it never answers */
};

/* With TLS: browsers must never come back over plain http (one year). */
static const struct lws_protocol_vhost_options hsts = {
	NULL, NULL, "strict-transport-security:", "max-age=31536000; includeSubDomains"
};

static const struct lws_protocol_vhost_options mime_json = {
	NULL, NULL, ".json", "application/json"
};
static const struct lws_protocol_vhost_options mime_svg = {
	&mime_json, NULL, ".svg", "image/svg+xml"
};

int server_run(const server_config *cfg, chat_ctx *ctx, auth *au, notify *nt,
	       char *err, size_t errsz)
{
	struct lws_context_creation_info info;
	struct lws_context *context = NULL;
	struct lws_vhost *vh;
	struct ev_loop *loop = NULL;
	void *foreign_loops[1];
	struct lws_http_mount m_status, m_web, m_api, m_staff, m_admin, m_login;
	srv s = { 0 };
	desk_sink sink = { &s, sink_patients, sink_staff, sink_has_patient };
	int rc = -1;

	s.cfg = cfg;
	s.chat = ctx;
	s.au = au;
	s.nt = nt;
	if (!(s.per_ip = strmap_new()) || !(s.ip_slot = strmap_new()) ||
	    !(s.by_conv = calloc(SERVER_CONV_BUCKETS, sizeof *s.by_conv))) {
		snprintf(err, errsz, "out of memory");
		strmap_free(s.per_ip);
		strmap_free(s.ip_slot);
		free(s.by_conv);
		return -1;
	}
	if (cfg->group_commit && !(s.batch = batch_new(ctx->st))) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	ctx->allow_message = cfg->ip_per_sec > 0 ? allow_peer_message : NULL;
	if (desk_open(ctx->st, ctx->eng, au, nt, &sink, &s.desk, err, errsz) < 0)
		goto out;
	ctx->desk = s.desk;
	desk_defer_places(s.desk, 1);
	s.api.au = au;
	s.api.desk = s.desk;
	if (admin_open(ctx->st, ctx->eng, &s.api.admin, err, errsz) < 0)
		goto out;
	admin_set_chat(s.api.admin, ctx);
	s.api.tls = cfg->tls_cert != NULL;
	s.api.idle_s = cfg->session_idle_s > 0 ? cfg->session_idle_s : AUTH_IDLE_DEFAULT_S;

	/* Callback mounts: the API, and the pages that need a session. */
	memset(&m_api, 0, sizeof m_api);
	m_api.mountpoint = "/api";
	m_api.mountpoint_len = 4;
	m_api.origin = "frontdesk-api";
	m_api.origin_protocol = LWSMPRO_CALLBACK;
	m_staff = m_api;
	m_staff.mount_next = &m_api;
	m_staff.mountpoint = "/staff";
	m_staff.mountpoint_len = 6;
	m_admin = m_api;
	m_admin.mount_next = &m_staff;
	m_admin.mountpoint = "/admin";
	m_admin.mountpoint_len = 6;
	m_login = m_api;
	m_login.mount_next = &m_admin;
	m_login.mountpoint = "/login";
	m_login.mountpoint_len = 6;

	memset(&m_status, 0, sizeof m_status);
	m_status.mount_next = &m_login;
	m_status.mountpoint = "/healthz";
	m_status.mountpoint_len = 8;
	m_status.origin = "frontdesk-status";
	m_status.origin_protocol = LWSMPRO_CALLBACK;

	memset(&m_web, 0, sizeof m_web);
	m_web.mount_next = &m_status;
	m_web.mountpoint = "/";
	m_web.mountpoint_len = 1;
	m_web.origin = cfg->web_dir;
	m_web.def = "index.html";
	m_web.origin_protocol = LWSMPRO_FILE;
	m_web.extra_mimetypes = &mime_svg;

	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	memset(&info, 0, sizeof info);
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
		       LWS_SERVER_OPTION_VALIDATE_UTF8 |
		       LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
	if (cfg->tls_cert)
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.user = &s;
	/* Our own libev loop: lws 4.1's own one never returns from lws_service(). */
	if (!(loop = ev_loop_new(EVFLAG_AUTO))) {
		snprintf(err, errsz, "could not create the event loop (libev)");
		goto out;
	}
	foreign_loops[0] = loop;
	info.foreign_loops = foreign_loops;
	info.options |= LWS_SERVER_OPTION_LIBEV;
	context = lws_create_context(&info);
	if (!context) {
		snprintf(err, errsz, "could not create the libwebsockets context (libev: is "
			 "libwebsockets-evlib-ev installed?)");
		goto out;
	}
	/* Before "listening" is printed: a supervisor may stop us as soon as it
	 * reads it, and a SIGTERM before the handlers would kill us unclean. */
	running_context = context;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	info.port = cfg->port;
	info.iface = cfg->iface;
	info.protocols = protocols;
	info.mounts = &m_web;
	info.vhost_name = "frontdesk";
	info.retry_and_idle_policy = &idle_policy;
	info.timeout_secs = SERVER_HTTP_TIMEOUT_S;
	info.ssl_cert_filepath = cfg->tls_cert;
	info.ssl_private_key_filepath = cfg->tls_key;
	if (cfg->tls_cert)
		info.headers = &hsts;
	vh = lws_create_vhost(context, &info);
	if (!vh) {
		snprintf(err, errsz, "could not listen on %s:%d (in use, not an address here, or a "
			 "bad TLS certificate or key?)", cfg->iface, cfg->port);
		goto out;
	}
	{
		const char *scheme = cfg->tls_cert ? "https" : "http";
		int port = lws_get_vhost_listen_port(vh);
		printf("frontdesk: listening on %s://%s:%d/\n", scheme, cfg->iface, port);
		printf("frontdesk: demo clinic page with the chat widget: %s://%s:%d/\n", scheme,
		       cfg->iface, port);
	}
	fflush(stdout);

	s.context = context;
	lws_sul_schedule(context, 0, &s.tick, on_tick, 100 * LWS_US_PER_MS);
	if (auth_admin_count(au) == 0)
		printf("frontdesk: no admin account yet; create one with:\n"
		       "  ./build/frontdesk user add NAME --role admin --display \"First name\"\n"
		       "then sign in at %s://%s:%d/login\n", cfg->tls_cert ? "https" : "http",
		       cfg->iface, lws_get_vhost_listen_port(vh));
	fflush(stdout);

	/* lws 4.1 arms its libev timer only from its own callbacks, not when a
	 * timer is scheduled: a wake-up through its pipe makes it see the tick.
	 * From then on each tick re-arms it (so at most a second late for a
	 * timeout set outside a callback, as batch_flush's slow-client close). */
	lws_cancel_service(context);
	while (!interrupted) {
		ev_run(loop, EVRUN_ONCE); /* one pass: a signal or lws_cancel_service() ends it */
		batch_flush(&s); /* the messages of this pass: one commit, then their replies */
	}
	batch_flush(&s);

	/* Going away: tell every patient socket (1001), give the queues a
	 * moment to drain, then tear down. */
	LOG_INFO("shutting down: closing %zu chat connections", s.n_sessions);
	for (pss_chat *p = s.sessions; p; p = p->next)
		close_with(p->wsi, p, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
	{
		int64_t until = util_mono_us() + SERVER_DRAIN_US;
		ev_timer limit; /* ends the last pass at the deadline if nothing else does */
		ev_now_update(loop);
		ev_timer_init(&limit, on_drain_limit, SERVER_DRAIN_US / 1e6, 0.);
		ev_timer_start(loop, &limit);
		while (s.sessions && util_mono_us() < until) {
			ev_run(loop, EVRUN_ONCE);
			batch_flush(&s);
		}
		ev_timer_stop(loop, &limit);
	}
	rc = 0;
out:
	running_context = NULL;
	if (context) {
		lws_sul_cancel(&s.tick);
		lws_context_destroy(context);
	}
	if (loop)
		ev_loop_destroy(loop); /* after lws has stopped its watchers on it */
	ctx->desk = NULL;
	desk_close(s.desk);
	admin_close(s.api.admin);
	strmap_free(s.per_ip);
	strmap_free(s.ip_slot);
	free(s.ip_buckets);
	batch_free(s.batch);
	free(s.by_conv);
	return rc;
}
