/* server: see server.h. The shape follows the libwebsockets minimal
 * examples: one context and vhost, protocols[] with per-session structs, a
 * per-session outbound queue written one frame per WRITEABLE callback. */
#include "server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "strmap.h"
#include "util.h"

typedef struct outmsg {
	struct outmsg *next;
	size_t len;
	unsigned char buf[];      /* LWS_PRE bytes of headroom, then the frame */
} outmsg;

typedef struct pss_chat {
	struct pss_chat *next, *prev;   /* all live chat sessions, for shutdown */
	struct lws *wsi;
	unsigned long conn;             /* connection number for logs */
	char peer[64];
	chat_session chat;
	char *rx;                       /* reassembly of a fragmented message */
	size_t rx_len, rx_cap;
	size_t discarded;               /* bytes dropped of an oversized message */
	outmsg *head, *tail;
	size_t queued;
	int close_code;                 /* nonzero: close with this on next writeable */
	const char *close_reason;
} pss_chat;

typedef struct pss_http {
	char *body;
	size_t len;
} pss_http;

typedef struct srv {
	const server_config *cfg;
	chat_ctx *chat;
	strmap *per_ip;
	pss_chat *sessions;
	unsigned long next_conn;
	size_t n_sessions;
} srv;

static volatile sig_atomic_t interrupted;
static struct lws_context *running_context;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
	if (running_context)
		lws_cancel_service(running_context); /* a write(2) to lws's pipe: signal-safe */
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

/* --- the outbound queue ------------------------------------------------- */

static void queue_frame(void *user, const char *frame, size_t len)
{
	pss_chat *pss = user;
	outmsg *m;
	if (pss->close_code)
		return;
	if (pss->queued >= SERVER_MAX_QUEUED) {
		/* A client that does not read: stop queueing, close it. */
		pss->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
		pss->close_reason = "not reading";
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

/* --- the chat protocol -------------------------------------------------- */

static int cb_chat(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		   void *in, size_t len)
{
	pss_chat *pss = user;
	srv *s;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
		char uri[64], peer[64];
		s = srv_of(wsi);
		if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, "/ws") != 0) {
			LOG_WARN("ws: refused: wrong path");
			return 1;
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
		memset(pss, 0, sizeof *pss);
		pss->wsi = wsi;
		pss->conn = ++s->next_conn;
		lws_get_peer_simple(wsi, pss->peer, sizeof pss->peer);
		strmap_put(s->per_ip, pss->peer, strmap_get(s->per_ip, pss->peer, 0) + 1);
		pss->next = s->sessions;
		if (s->sessions)
			s->sessions->prev = pss;
		s->sessions = pss;
		s->n_sessions++;
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
			if (chat_handle(s->chat, &pss->chat, in, len, queue_frame, pss) < 0)
				LOG_WARN("ws: conn %lu: %s", pss->conn, pss->chat.last_error);
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
			if (chat_handle(s->chat, &pss->chat, pss->rx, pss->rx_len, queue_frame, pss) < 0)
				LOG_WARN("ws: conn %lu: %s", pss->conn, pss->chat.last_error);
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
		strmap_put(s->per_ip, pss->peer, strmap_get(s->per_ip, pss->peer, 1) - 1);
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

static const struct lws_protocols protocols[] = {
	{ "http", lws_callback_http_dummy, 0, 0, 0, NULL, 0 },
	{ "frontdesk-status", cb_http, sizeof(pss_http), 0, 0, NULL, 0 },
	{ "frontdesk-chat", cb_chat, sizeof(pss_chat), 4096, 0, NULL, 0 },
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

int server_run(const server_config *cfg, chat_ctx *ctx, char *err, size_t errsz)
{
	struct lws_context_creation_info info;
	struct lws_context *context = NULL;
	struct lws_vhost *vh;
	struct lws_http_mount m_status, m_web;
	srv s = { 0 };
	int rc = -1;

	s.cfg = cfg;
	s.chat = ctx;
	if (!(s.per_ip = strmap_new())) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	memset(&m_status, 0, sizeof m_status);
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
	context = lws_create_context(&info);
	if (!context) {
		snprintf(err, errsz, "could not create the libwebsockets context");
		goto out;
	}
	info.port = cfg->port;
	info.iface = cfg->iface;
	info.protocols = protocols;
	info.mounts = &m_web;
	info.vhost_name = "frontdesk";
	info.retry_and_idle_policy = &idle_policy;
	info.timeout_secs = 20;
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

	running_context = context;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	while (!interrupted)
		if (lws_service(context, 0) < 0)
			break;

	/* Going away: tell every patient socket (1001), give the queues a
	 * moment to drain, then tear down. */
	LOG_INFO("shutting down: closing %zu chat connections", s.n_sessions);
	for (pss_chat *p = s.sessions; p; p = p->next)
		close_with(p->wsi, p, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
	{
		int64_t until = util_mono_us() + 1500000;
		while (s.sessions && util_mono_us() < until)
			if (lws_service(context, 50) < 0)
				break;
	}
	rc = 0;
out:
	running_context = NULL;
	if (context)
		lws_context_destroy(context);
	strmap_free(s.per_ip);
	return rc;
}
