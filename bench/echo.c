/* echo: a bare libwebsockets echo server, the transport's own limit on this
 * machine. Built like server/server.c so the comparison is fair: one
 * context and vhost, http first in protocols[], VALIDATE_UTF8, the same
 * receive buffer and idle policy, a per-session queue of malloc'd frames
 * with LWS_PRE headroom, exactly one lws_write per SERVER_WRITEABLE.
 * What it does not do is everything frontdesk does per message: JSON,
 * the engine, SQLite.
 *
 *   echo [--listen ADDR:PORT] [--loop poll|ev]
 *   --listen: default 127.0.0.1:0, a free port; --loop: lws's default poll()
 *   loop, or libev (epoll) run as frontdesk runs it (bench/run.sh passes ev).
 *   Prints "echo: listening on ws://ADDR:PORT/"; subprotocol "echo". */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <libwebsockets.h>

#define MAX_FRAME (16 * 1024)   /* as frontdesk: bigger is closed with 1009 */
#define MAX_QUEUED 64           /* a client that does not read is closed */

typedef struct outmsg {
	struct outmsg *next;
	size_t len;
	int binary;
	unsigned char buf[];    /* LWS_PRE bytes of headroom, then the frame */
} outmsg;

typedef struct pss_echo {
	char *rx;               /* reassembly of a fragmented message */
	size_t rx_len, rx_cap;
	outmsg *head, *tail;
	size_t queued;
	int too_big;
} pss_echo;

static volatile sig_atomic_t interrupted;
static struct lws_context *running_context;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
	if (running_context)
		lws_cancel_service(running_context);
}

/* Queues a copy of the frame; -1 when the client must be closed. */
static int queue_frame(struct lws *wsi, pss_echo *pss, const void *data, size_t len, int binary)
{
	outmsg *m;
	if (pss->queued >= MAX_QUEUED)
		return -1;
	if (!(m = malloc(sizeof *m + LWS_PRE + len)))
		return -1;
	m->next = NULL;
	m->len = len;
	m->binary = binary;
	memcpy(m->buf + LWS_PRE, data, len);
	if (pss->tail)
		pss->tail->next = m;
	else
		pss->head = m;
	pss->tail = m;
	pss->queued++;
	lws_callback_on_writable(wsi);
	return 0;
}

static int on_receive(struct lws *wsi, pss_echo *pss, const void *in, size_t len)
{
	int final = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
	int binary = lws_frame_is_binary(wsi);
	if (pss->too_big || pss->rx_len + len > MAX_FRAME) {
		pss->too_big = 1;
		pss->rx_len = 0;
		if (final) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
					 (unsigned char *)"message too big", 15);
			return -1;
		}
		return 0;
	}
	if (!pss->rx_len && final) /* the common case: one whole frame */
		return queue_frame(wsi, pss, in, len, binary);
	if (pss->rx_len + len > pss->rx_cap) {
		size_t cap = pss->rx_cap ? pss->rx_cap : 1024;
		char *p;
		while (cap < pss->rx_len + len)
			cap *= 2;
		if (!(p = realloc(pss->rx, cap)))
			return -1;
		pss->rx = p;
		pss->rx_cap = cap;
	}
	memcpy(pss->rx + pss->rx_len, in, len);
	pss->rx_len += len;
	if (!final)
		return 0;
	len = pss->rx_len;
	pss->rx_len = 0;
	return queue_frame(wsi, pss, pss->rx, len, binary);
}

static int cb_echo(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		   void *in, size_t len)
{
	pss_echo *pss = user;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		memset(pss, 0, sizeof *pss);
		break;

	case LWS_CALLBACK_RECEIVE:
		return on_receive(wsi, pss, in, len);

	case LWS_CALLBACK_SERVER_WRITEABLE: {
		outmsg *m = pss->head;
		int n;
		if (!m)
			break;
		pss->head = m->next;
		if (!pss->head)
			pss->tail = NULL;
		pss->queued--;
		n = lws_write(wsi, m->buf + LWS_PRE, m->len, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
		free(m);
		if (n < 0)
			return -1;
		if (pss->head)
			lws_callback_on_writable(wsi);
		break;
	}

	case LWS_CALLBACK_CLOSED:
		while (pss->head) {
			outmsg *m = pss->head;
			pss->head = m->next;
			free(m);
		}
		pss->tail = NULL;
		free(pss->rx);
		pss->rx = NULL;
		break;

	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "http", lws_callback_http_dummy, 0, 0, 0, NULL, 0 },
	{ "echo", cb_echo, sizeof(pss_echo), 4096, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static const lws_retry_bo_t idle_policy = {
	.secs_since_valid_ping = 30,
	.secs_since_valid_hangup = 70,
};

int main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct lws_context *context;
	struct lws_vhost *vh;
	struct ev_loop *evloop = NULL;
	void *foreign_loops[1];
	const char *listen = "127.0.0.1:0", *colon;
	char iface[128];
	int rc = 1, use_ev = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
			listen = argv[++i];
		} else if (strcmp(argv[i], "--loop") == 0 && i + 1 < argc &&
			   (strcmp(argv[i + 1], "poll") == 0 || strcmp(argv[i + 1], "ev") == 0)) {
			use_ev = strcmp(argv[++i], "ev") == 0;
		} else {
			fprintf(stderr, "usage: echo [--listen ADDR:PORT] [--loop poll|ev]\n");
			return 2;
		}
	}
	colon = strrchr(listen, ':');
	if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof iface) {
		fprintf(stderr, "echo: --listen wants ADDR:PORT\n");
		return 2;
	}
	snprintf(iface, sizeof iface, "%.*s", (int)(colon - listen), listen);

	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	memset(&info, 0, sizeof info);
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_VALIDATE_UTF8;
	if (use_ev) {
		/* Our own ("foreign") loop, run one iteration at a time so that a
		 * signal stops it: lws 4.1's own libev loop never returns. */
		if (!(evloop = ev_loop_new(EVFLAG_AUTO))) {
			fprintf(stderr, "echo: could not create a libev loop\n");
			return 1;
		}
		foreign_loops[0] = evloop;
		info.foreign_loops = foreign_loops;
		info.options |= LWS_SERVER_OPTION_LIBEV;
	}
	context = lws_create_context(&info);
	if (!context) {
		fprintf(stderr, "echo: could not create the libwebsockets context\n");
		if (evloop)
			ev_loop_destroy(evloop);
		return 1;
	}
	info.port = atoi(colon + 1);
	info.iface = iface;
	info.protocols = protocols;
	info.vhost_name = "echo";
	info.retry_and_idle_policy = &idle_policy;
	info.timeout_secs = 20;
	if (!(vh = lws_create_vhost(context, &info))) {
		fprintf(stderr, "echo: could not listen on %s\n", listen);
		goto out;
	}
	printf("echo: listening on ws://%s:%d/\n", iface, lws_get_vhost_listen_port(vh));
	fflush(stdout);

	running_context = context;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	while (!interrupted) {
		if (evloop)
			ev_run(evloop, EVRUN_ONCE); /* a signal or lws_cancel_service() ends it */
		else if (lws_service(context, 0) < 0)
			break;
	}
	rc = 0;
out:
	running_context = NULL;
	lws_context_destroy(context);
	if (evloop)
		ev_loop_destroy(evloop);
	return rc;
}
