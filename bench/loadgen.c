/* loadgen: opens N WebSocket connections to a frontdesk server (or to the
 * bare echo server), speaks the patient protocol of docs/protocol.md, and
 * prints one JSON line: connections, answers/s, send-to-reply latency
 * percentiles, errors, closes, and the server's RSS and CPU.
 *
 * One lws context, one thread: the server under test gets the other core.
 * Each connection is a slot in a fixed array; lws never owns our memory
 * (slots are found through the wsi's opaque user data).
 *
 *   frontdesk-chat: hello -> welcome; message -> ack(id) -> reply(reply_to = id)
 *   echo:           message -> the same frame back
 *
 * Latency is from the lws_write of the message to the receipt of its reply
 * (ack latency separately: that is when the message is on disk). Only replies
 * that arrive inside the measuring window count. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>
#include <libwebsockets.h>

#define MAX_PENDING 32          /* unanswered messages per connection (rate mode) */
#define MAX_FRAME (64 * 1024)   /* a reply bigger than this is a protocol error */
#define MAX_QUESTIONS 100000
#define RAMP_INFLIGHT 256       /* handshakes in flight at once */
#define CONNECT_TIMEOUT_US (60 * 1000000LL)
#define BACKOFF_US 1000000      /* after rate_limited, closed-loop waits this long */

enum mode { MODE_CHAT, MODE_ECHO };
enum loop { LOOP_AUTO, LOOP_POLL, LOOP_EV };
#define AUTO_EV_ABOVE 500       /* --loop auto: libev above this many connections, or with --rate */
enum phase { PH_CONNECT, PH_WARMUP, PH_MEASURE, PH_DONE };
enum cstate { C_NEW, C_CONNECTING, C_OPEN, C_READY, C_CLOSING, C_DEAD };

typedef struct pending {
	uint32_t seq;           /* our client_id */
	int64_t ack_id;         /* event id from the ack, -1 until then */
	int64_t t_send;         /* monotonic us at lws_write */
} pending;

typedef struct conn {
	lws_sorted_usec_list_t sul;     /* pacing timer (rate mode), backoff (closed loop) */
	struct lws *wsi;
	unsigned idx;
	enum cstate state;
	int hello_due;
	unsigned sends_due;             /* messages scheduled, not yet written */
	unsigned sent_here;             /* messages sent on this connection (rotation) */
	int rotate_now;                 /* close and reopen on next writeable */
	int backoff;                    /* closed loop: waiting after rate_limited */
	int counted;                    /* counted in "opened" (once per slot) */
	int64_t next_send_us;           /* rate mode: when the next message is due */
	pending pend[MAX_PENDING];
	unsigned npend;
	char *rx;                       /* reassembly of a fragmented frame */
	size_t rx_len, rx_cap;
} conn;

/* Log-linear histogram of microseconds: exact below 1024, then 512 steps per
 * power of two (0.2% resolution) up to 2^32 us. Fixed memory, no sorting. */
#define H_LINEAR 1024
#define H_SUB 512
#define H_BUCKETS (H_LINEAR + 23 * H_SUB)
typedef struct hist {
	uint64_t b[H_BUCKETS];
	uint64_t n, max;
} hist;

typedef struct opts {
	const char *url, *origin, *questions, *protocol;
	char host[256], path[256], hosthdr[300], origin_buf[320];
	int port;
	unsigned conns;
	double rate;
	double duration, warmup;
	int idle;
	enum mode mode;
	long server_pid;
	unsigned rotate;                /* messages per connection, then reconnect; 0 = never */
	unsigned ramp;
	int loop;                       /* LOOP_AUTO, LOOP_POLL or LOOP_EV */
} opts;

typedef struct stats {
	uint64_t opened, failed, answers, handoffs, emergencies, echoes;
	uint64_t errors, rate_limited, unexpected_closes, reconnects, skipped, bad_frames;
	uint64_t sent;
	char first_error[160];
	hist lat, ack;
} stats;

static opts o;
static stats st;
static conn *slots;
static struct lws_context *ctx;
static enum phase phase = PH_CONNECT;
static int64_t phase_start, measure_start, measure_end, connect_us = -1;
static unsigned next_open, inflight;
static char **frames;           /* per question: the message frame up to client_id's value */
static size_t *frame_lens;
static size_t n_questions;
static uint64_t q_cursor;
static lws_sorted_usec_list_t tick_sul;
static volatile sig_atomic_t interrupted;
static unsigned char txbuf[LWS_PRE + 20000]; /* one frame at a time: one thread */

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
	if (ctx)
		lws_cancel_service(ctx);
}

/* --- histogram ---------------------------------------------------------- */

static unsigned hist_index(uint64_t v)
{
	unsigned e;
	if (v < H_LINEAR)
		return (unsigned)v;
	if (v > UINT32_MAX)
		v = UINT32_MAX;
	e = 63u - (unsigned)__builtin_clzll(v) - 9u; /* v >> e is in [512, 1024) */
	return H_LINEAR + (e - 1) * H_SUB + (unsigned)((v >> e) - H_SUB);
}

static uint64_t hist_value(unsigned i)
{
	unsigned e;
	if (i < H_LINEAR)
		return i;
	e = (i - H_LINEAR) / H_SUB + 1;
	return ((uint64_t)((i - H_LINEAR) % H_SUB + H_SUB) << e) + ((1ull << e) >> 1);
}

static void hist_add(hist *h, int64_t us)
{
	uint64_t v = us < 0 ? 0 : (uint64_t)us;
	h->b[hist_index(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

/* The value at quantile q (0..1), or 0 for an empty histogram. */
static uint64_t hist_quantile(const hist *h, double q)
{
	uint64_t want, seen = 0;
	if (!h->n)
		return 0;
	/* the ceil(q * n)-th smallest sample, counted from 1 */
	{
		double r = q * (double)h->n;
		want = (uint64_t)r;
		if ((double)want == r && want > 0)
			want--;
	}
	if (want >= h->n)
		want = h->n - 1;
	for (unsigned i = 0; i < H_BUCKETS; i++) {
		seen += h->b[i];
		if (seen > want)
			return hist_value(i) < h->max ? hist_value(i) : h->max;
	}
	return h->max;
}

/* --- /proc of the server ------------------------------------------------ */

static long proc_rss_kib(long pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;
	snprintf(path, sizeof path, "/proc/%ld/status", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* utime + stime of a process, in seconds; -1 if unknown. */
static double proc_cpu_s(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, stt;
	size_t n;
	FILE *f;
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (!(p = strrchr(buf, ')')))
		return -1;
	/* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt) != 2)
		return -1;
	return (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* --- questions ---------------------------------------------------------- */

static int add_question(const char *text)
{
	json_t *t;
	char *esc, *frame;
	size_t len;
	if (n_questions >= MAX_QUESTIONS)
		return 0;
	t = json_string(text);
	if (!t)
		return 0; /* not UTF-8: skip the line */
	esc = json_dumps(t, JSON_ENCODE_ANY);
	json_decref(t);
	if (!esc)
		return -1;
	len = strlen("{\"type\":\"message\",\"text\":") + strlen(esc) + strlen(",\"client_id\":\"");
	if (len + 16 > sizeof txbuf - LWS_PRE) {
		free(esc);
		return 0; /* too long once escaped: skip the line */
	}
	frame = malloc(len + 1);
	if (!frame) {
		free(esc);
		return -1;
	}
	snprintf(frame, len + 1, "{\"type\":\"message\",\"text\":%s,\"client_id\":\"", esc);
	free(esc);
	frames[n_questions] = frame;
	frame_lens[n_questions] = len;
	n_questions++;
	return 0;
}

/* One question per line; for a .tsv the first column; '#' lines skipped. */
static int load_questions(const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = -1;
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "loadgen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	frames = calloc(MAX_QUESTIONS, sizeof *frames);
	frame_lens = calloc(MAX_QUESTIONS, sizeof *frame_lens);
	if (!frames || !frame_lens)
		goto out;
	while ((n = getline(&line, &cap, f)) > 0) {
		char *tab;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (!n || line[0] == '#')
			continue;
		if ((tab = strchr(line, '\t')))
			*tab = '\0';
		if (!line[0] || strlen(line) > 4000)
			continue;
		if (add_question(line) < 0)
			goto out;
	}
	if (!n_questions) {
		fprintf(stderr, "loadgen: %s: no questions\n", path);
		goto out;
	}
	rc = 0;
out:
	free(line);
	fclose(f);
	return rc;
}

/* --- sending ------------------------------------------------------------ */

static int write_text(struct lws *wsi, size_t len)
{
	return lws_write(wsi, txbuf + LWS_PRE, len, LWS_WRITE_TEXT) < (int)len ? -1 : 0;
}

static int send_hello(conn *c)
{
	static const char hello[] = "{\"type\":\"hello\"}";
	memcpy(txbuf + LWS_PRE, hello, sizeof hello - 1);
	c->hello_due = 0;
	return write_text(c->wsi, sizeof hello - 1);
}

static int send_message(conn *c)
{
	size_t qi = (size_t)(q_cursor++ % n_questions), len = frame_lens[qi];
	uint32_t seq = (uint32_t)++st.sent;
	pending *p;
	int n;
	c->sends_due--;
	if (c->npend >= MAX_PENDING) {
		st.skipped++; /* the server is that far behind: don't pile on */
		return 0;
	}
	memcpy(txbuf + LWS_PRE, frames[qi], len);
	n = snprintf((char *)txbuf + LWS_PRE + len, 16, "%" PRIu32 "\"}", seq);
	p = &c->pend[c->npend++];
	p->seq = seq;
	p->ack_id = -1;
	p->t_send = mono_us();
	c->sent_here++;
	return write_text(c->wsi, len + (size_t)n);
}

static void want_write(conn *c)
{
	if (c->wsi && (c->state == C_OPEN || c->state == C_READY))
		lws_callback_on_writable(c->wsi);
}

/* Closed loop: one message out at a time, the next when its reply is in. */
static void next_closed_loop(conn *c)
{
	if (o.idle || o.rate > 0 || phase == PH_DONE || c->state != C_READY || c->backoff)
		return;
	if (o.rotate && c->sent_here >= o.rotate) {
		c->rotate_now = 1;
		want_write(c);
		return;
	}
	c->sends_due = 1;
	want_write(c);
}

/* After a reply or an error: a rotating connection that is done closes; a
 * closed-loop one sends its next message. */
static void after_reply(conn *c)
{
	if (c->rotate_now) {
		if (c->npend == 0)
			want_write(c);
		return;
	}
	next_closed_loop(c);
}

static void on_pace(lws_sorted_usec_list_t *sul)
{
	conn *c = lws_container_of(sul, conn, sul);
	int64_t now = mono_us(), step;
	if (phase == PH_DONE)
		return;
	if (c->backoff) {
		/* closed loop, a second after rate_limited */
		c->backoff = 0;
		next_closed_loop(c);
		return;
	}
	if (o.rate <= 0)
		return;
	step = (int64_t)(1e6 / o.rate);
	if (c->state == C_READY || c->state == C_OPEN || c->state == C_CONNECTING) {
		if (c->sends_due < MAX_PENDING)
			c->sends_due++;
		else
			st.skipped++; /* not even writeable: don't let the backlog grow */
		want_write(c);
	}
	c->next_send_us += step;
	if (c->next_send_us < now - 1000000)
		c->next_send_us = now; /* fell more than a second behind: don't burst */
	lws_sul_schedule(ctx, 0, &c->sul, on_pace, c->next_send_us > now ? c->next_send_us - now : 0);
}

/* --- connections -------------------------------------------------------- */

static void open_slot(conn *c)
{
	struct lws_client_connect_info ci;
	memset(&ci, 0, sizeof ci);
	ci.context = ctx;
	ci.address = o.host;
	ci.port = o.port;
	ci.path = o.path;
	ci.host = o.hosthdr;
	ci.origin = o.origin;
	ci.protocol = o.protocol;
	ci.local_protocol_name = "loadgen";
	ci.opaque_user_data = c;
	ci.pwsi = &c->wsi;
	c->state = C_CONNECTING;
	c->npend = 0;
	c->sent_here = 0;
	c->rotate_now = 0;
	c->hello_due = 0;
	c->rx_len = 0;
	inflight++;
	if (!lws_client_connect_via_info(&ci) && c->state == C_CONNECTING) {
		/* refused before any callback could say so */
		c->state = C_DEAD;
		c->wsi = NULL;
		inflight--;
		st.failed++;
	}
}

static void ramp(void)
{
	while (next_open < o.conns && inflight < o.ramp && !interrupted)
		open_slot(&slots[next_open++]);
}

static void became_ready(conn *c)
{
	c->state = C_READY;
	if (!c->counted) {
		c->counted = 1;
		st.opened++;
	}
	if (o.idle)
		return;
	if (o.rate > 0) {
		if (c->sends_due)
			want_write(c);
		return;
	}
	next_closed_loop(c);
}

static pending *find_pending(conn *c, int by_ack, int64_t key)
{
	for (unsigned i = 0; i < c->npend; i++) {
		if (by_ack ? c->pend[i].ack_id == key : (int64_t)c->pend[i].seq == key)
			return &c->pend[i];
	}
	return NULL;
}

static void drop_pending(conn *c, pending *p)
{
	unsigned i = (unsigned)(p - c->pend);
	memmove(&c->pend[i], &c->pend[i + 1], (c->npend - i - 1) * sizeof *p);
	c->npend--;
}

static int in_window(int64_t now)
{
	return phase == PH_MEASURE && now <= measure_end;
}

static void got_reply(conn *c, pending *p, int64_t now)
{
	if (in_window(now))
		hist_add(&st.lat, now - p->t_send);
	drop_pending(c, p);
}

/* One whole frame from the server. */
static void on_frame(conn *c, const char *buf, size_t len)
{
	int64_t now = mono_us();
	json_error_t jerr;
	json_t *j;
	const char *type;

	if (o.mode == MODE_ECHO) {
		if (c->npend) {
			if (in_window(now))
				st.answers++;
			got_reply(c, &c->pend[0], now);
		} else {
			st.bad_frames++;
		}
		after_reply(c);
		return;
	}
	j = json_loadb(buf, len, 0, &jerr);
	type = json_string_value(json_object_get(j, "type"));
	if (!type) {
		st.bad_frames++;
	} else if (strcmp(type, "welcome") == 0) {
		became_ready(c);
	} else if (strcmp(type, "ack") == 0) {
		const char *cid = json_string_value(json_object_get(j, "client_id"));
		pending *p = cid ? find_pending(c, 0, strtoll(cid, NULL, 10)) : NULL;
		if (p) {
			p->ack_id = json_integer_value(json_object_get(j, "id"));
			if (in_window(now))
				hist_add(&st.ack, now - p->t_send);
		} else {
			st.bad_frames++;
		}
	} else if (strcmp(type, "answer") == 0 || strcmp(type, "handoff") == 0 ||
		   strcmp(type, "emergency") == 0) {
		pending *p = find_pending(c, 1, json_integer_value(json_object_get(j, "reply_to")));
		if (p) {
			if (in_window(now)) {
				st.answers++;
				if (type[0] == 'h')
					st.handoffs++;
				else if (type[0] == 'e')
					st.emergencies++;
			}
			got_reply(c, p, now);
		} else {
			st.bad_frames++;
		}
		after_reply(c);
	} else if (strcmp(type, "error") == 0) {
		const char *code = json_string_value(json_object_get(j, "code"));
		if (in_window(now)) {
			st.errors++;
			if (code && strcmp(code, "rate_limited") == 0)
				st.rate_limited++;
		}
		if (!st.first_error[0])
			snprintf(st.first_error, sizeof st.first_error, "error frame: %s",
				 code ? code : "?");
		/* Frames are handled in order: the error is for the oldest
		 * message not yet acknowledged. */
		for (unsigned i = 0; i < c->npend; i++)
			if (c->pend[i].ack_id < 0) {
				drop_pending(c, &c->pend[i]);
				break;
			}
		if (!o.idle && o.rate <= 0 && c->state == C_READY && !c->rotate_now) {
			c->backoff = 1;
			lws_sul_schedule(ctx, 0, &c->sul, on_pace, BACKOFF_US);
		} else {
			after_reply(c);
		}
	}
	/* pong, feedback_ok: nothing to do */
	json_decref(j);
}

static int on_receive(conn *c, struct lws *wsi, const char *in, size_t len)
{
	int whole = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
	if (!c->rx_len && whole) {
		on_frame(c, in, len);
		return 0;
	}
	if (c->rx_len + len > MAX_FRAME) {
		st.bad_frames++;
		return -1;
	}
	if (c->rx_len + len > c->rx_cap) {
		size_t cap = c->rx_cap ? c->rx_cap * 2 : 8192;
		char *p;
		while (cap < c->rx_len + len)
			cap *= 2;
		if (!(p = realloc(c->rx, cap)))
			return -1;
		c->rx = p;
		c->rx_cap = cap;
	}
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	if (whole) {
		on_frame(c, c->rx, c->rx_len);
		c->rx_len = 0;
	}
	return 0;
}

static int cb_client(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		     void *in, size_t len)
{
	conn *c = wsi ? lws_get_opaque_user_data(wsi) : NULL;
	(void)user;

	if (!c)
		return 0; /* not one of ours (protocol init and the like) */
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (c->state == C_CONNECTING) {
			inflight--;
			st.failed++;
		} else if (phase != PH_DONE) {
			st.unexpected_closes++;
		}
		if (!st.first_error[0])
			snprintf(st.first_error, sizeof st.first_error, "connect: %.120s",
				 in ? (const char *)in : "(no reason)");
		c->state = C_DEAD;
		c->wsi = NULL;
		ramp();
		break;

	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (c->state == C_CONNECTING)
			inflight--;
		c->state = C_OPEN;
		c->wsi = wsi;
		if (o.mode == MODE_ECHO) {
			became_ready(c);
		} else {
			c->hello_due = 1;
			lws_callback_on_writable(wsi);
		}
		ramp();
		break;

	case LWS_CALLBACK_CLIENT_RECEIVE:
		return on_receive(c, wsi, in, len);

	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (phase == PH_DONE)
			break;
		if (c->hello_due) {
			if (send_hello(c) < 0)
				return -1;
		} else if (c->rotate_now && c->npend == 0) {
			c->state = C_CLOSING;
			lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"rotate", 6);
			return -1;
		} else if (c->sends_due && c->state == C_READY) {
			if (o.rotate && c->sent_here >= o.rotate) {
				c->rotate_now = 1; /* the rest waits for the next connection */
			} else if (send_message(c) < 0) {
				return -1;
			}
		}
		if (c->hello_due || (c->sends_due && c->state == C_READY && !c->rotate_now) ||
		    (c->rotate_now && c->npend == 0))
			lws_callback_on_writable(wsi);
		break;

	case LWS_CALLBACK_CLIENT_CLOSED:
		c->wsi = NULL;
		if (c->state == C_CLOSING && phase != PH_DONE && !interrupted) {
			st.reconnects++;
			open_slot(c);
			break;
		}
		if (phase != PH_DONE && c->state != C_DEAD)
			st.unexpected_closes++;
		if (c->state == C_CONNECTING)
			inflight--;
		c->state = C_DEAD;
		break;

	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "loadgen", cb_client, 0, 16384, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* --- phases ------------------------------------------------------------- */

static long rss_start = -1, rss_end = -1;
static double srv_cpu0 = -1, srv_cpu1 = -1, self_cpu0, self_cpu1;

static void start_pacing(void)
{
	/* Rate mode: every connection gets its own timer at a random phase, so
	 * the load is smooth rather than N messages at each tick. */
	int64_t step = (int64_t)(1e6 / o.rate), now = mono_us();
	for (unsigned i = 0; i < o.conns; i++) {
		int64_t off = (int64_t)((double)rand() / RAND_MAX * (double)step);
		slots[i].next_send_us = now + off;
		lws_sul_schedule(ctx, 0, &slots[i].sul, on_pace, off);
	}
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
	int64_t now = mono_us();
	(void)sul;
	ramp();
	switch (phase) {
	case PH_CONNECT:
		if ((next_open >= o.conns && inflight == 0) || now - phase_start > CONNECT_TIMEOUT_US) {
			connect_us = now - phase_start;
			phase = PH_WARMUP;
			phase_start = now;
			if (o.rate > 0 && !o.idle)
				start_pacing();
		}
		break;
	case PH_WARMUP:
		if (now - phase_start >= (int64_t)(o.warmup * 1e6)) {
			phase = PH_MEASURE;
			measure_start = now;
			measure_end = now + (int64_t)(o.duration * 1e6);
			if (o.server_pid > 0)
				srv_cpu0 = proc_cpu_s(o.server_pid);
			self_cpu0 = self_cpu_s();
		}
		break;
	case PH_MEASURE:
		if (now >= measure_end) {
			if (o.server_pid > 0) {
				rss_end = proc_rss_kib(o.server_pid);
				srv_cpu1 = proc_cpu_s(o.server_pid);
			}
			self_cpu1 = self_cpu_s();
			phase = PH_DONE;
		}
		break;
	case PH_DONE:
		break;
	}
	/* Fast while connecting; slower after, since every wakeup is a poll()
	 * over all the connections (10,000 of them in the idle scenario). */
	if (phase != PH_DONE)
		lws_sul_schedule(ctx, 0, &tick_sul, on_tick, phase == PH_CONNECT ? 10000 : 50000);
}

/* --- options and output ------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: loadgen --url ws://127.0.0.1:PORT/ws [--origin URL] [--conns N]\n"
	      "               [--rate R] [--duration S] [--warmup S] [--questions FILE]\n"
	      "               [--idle] [--protocol frontdesk-chat|echo] [--server-pid PID]\n"
	      "               [--rotate N] [--ramp N] [--loop auto|ev|poll]\n"
	      "  --rate R     messages per second per connection; 0 (default): the next\n"
	      "               message when the reply to the last one arrives\n"
	      "  --rotate N   after N messages a connection closes and a new one takes its\n"
	      "               place (to stay under a per-connection rate limit); 0 = never\n"
	      "  --ramp N     handshakes in flight at once while connecting (default 256)\n"
	      "  --loop L     the client's event loop: poll, ev (libev), or auto (default):\n"
	      "               libev with --rate or above 500 connections, else poll()\n"
	      "prints one JSON line; latencies in microseconds, RSS in KiB\n", f);
}

static int parse_url(const char *url)
{
	const char *p, *slash, *colon;
	if (strncmp(url, "ws://", 5) != 0)
		return -1;
	p = url + 5;
	slash = strchr(p, '/');
	if (!slash)
		slash = p + strlen(p);
	colon = memchr(p, ':', (size_t)(slash - p));
	if (!colon || (size_t)(colon - p) >= sizeof o.host)
		return -1;
	snprintf(o.host, sizeof o.host, "%.*s", (int)(colon - p), p);
	o.port = atoi(colon + 1);
	if (o.port <= 0 || o.port > 65535)
		return -1;
	snprintf(o.path, sizeof o.path, "%s", *slash ? slash : "/");
	snprintf(o.hosthdr, sizeof o.hosthdr, "%s:%d", o.host, o.port);
	return 0;
}

static int parse_args(int argc, char **argv)
{
	o.conns = 1;
	o.duration = 10;
	o.warmup = 2;
	o.protocol = "frontdesk-chat";
	o.questions = "tests/data/answers.tsv";
	o.ramp = RAMP_INFLIGHT;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--idle") == 0) {
			o.idle = 1;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		}
		if (!v) {
			fprintf(stderr, "loadgen: %s needs a value\n", a);
			return -1;
		}
		i++;
		if (strcmp(a, "--url") == 0) o.url = v;
		else if (strcmp(a, "--origin") == 0) o.origin = v;
		else if (strcmp(a, "--conns") == 0) o.conns = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--rate") == 0) o.rate = strtod(v, NULL);
		else if (strcmp(a, "--duration") == 0) o.duration = strtod(v, NULL);
		else if (strcmp(a, "--warmup") == 0) o.warmup = strtod(v, NULL);
		else if (strcmp(a, "--questions") == 0) o.questions = v;
		else if (strcmp(a, "--protocol") == 0) o.protocol = v;
		else if (strcmp(a, "--server-pid") == 0) o.server_pid = strtol(v, NULL, 10);
		else if (strcmp(a, "--rotate") == 0) o.rotate = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--ramp") == 0) o.ramp = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--loop") == 0 && strcmp(v, "auto") == 0) o.loop = LOOP_AUTO;
		else if (strcmp(a, "--loop") == 0 && strcmp(v, "poll") == 0) o.loop = LOOP_POLL;
		else if (strcmp(a, "--loop") == 0 && strcmp(v, "ev") == 0) o.loop = LOOP_EV;
		else {
			fprintf(stderr, "loadgen: unknown option %s\n", a);
			return -1;
		}
	}
	if (!o.url || parse_url(o.url) < 0) {
		fprintf(stderr, "loadgen: --url ws://HOST:PORT/PATH is required\n");
		return -1;
	}
	if (strcmp(o.protocol, "echo") == 0)
		o.mode = MODE_ECHO;
	else if (strcmp(o.protocol, "frontdesk-chat") == 0)
		o.mode = MODE_CHAT;
	else {
		fprintf(stderr, "loadgen: --protocol is frontdesk-chat or echo\n");
		return -1;
	}
	if (!o.origin) {
		snprintf(o.origin_buf, sizeof o.origin_buf, "http://%s:%d", o.host, o.port);
		o.origin = o.origin_buf;
	}
	if (o.conns < 1 || o.conns > 100000 || o.duration <= 0 || o.duration > 3600 ||
	    o.warmup < 0 || o.warmup > 600 || o.rate < 0 || o.rate > 100000 || o.ramp < 1) {
		fprintf(stderr, "loadgen: an option is out of range\n");
		return -1;
	}
	return 0;
}

/* Enough descriptors for every connection, up to the hard limit. */
static int raise_fd_limit(unsigned need)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < (rlim_t)need + 32) {
		fprintf(stderr, "loadgen: %u connections need %u descriptors; the limit is %lu "
			"(raise ulimit -n)\n", need, need + 32, (unsigned long)rl.rlim_cur);
		return -1;
	}
	return 0;
}

static void print_result(void)
{
	double secs = measure_start && measure_end ? (double)(measure_end - measure_start) / 1e6 : 0;
	double srv_cpu = srv_cpu0 >= 0 && srv_cpu1 >= 0 && secs > 0 ? (srv_cpu1 - srv_cpu0) / secs * 100 : -1;
	double self_cpu = secs > 0 ? (self_cpu1 - self_cpu0) / secs * 100 : -1;
	printf("{\"protocol\":\"%s\",\"loop\":\"%s\",\"conns\":%u,\"rate\":%g,\"idle\":%s,\"rotate\":%u,"
	       "\"duration_s\":%.1f,\"connect_s\":%.2f,\"opened\":%" PRIu64 ",\"failed\":%" PRIu64 ","
	       "\"answers\":%" PRIu64 ",\"answers_per_s\":%.1f,\"handoffs\":%" PRIu64 ","
	       "\"emergencies\":%" PRIu64 ",\"p50_us\":%" PRIu64 ",\"p99_us\":%" PRIu64 ","
	       "\"p999_us\":%" PRIu64 ",\"max_us\":%" PRIu64 ",\"ack_p50_us\":%" PRIu64 ","
	       "\"ack_p99_us\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"rate_limited\":%" PRIu64 ","
	       "\"unexpected_closes\":%" PRIu64 ",\"reconnects\":%" PRIu64 ",\"skipped\":%" PRIu64 ","
	       "\"bad_frames\":%" PRIu64 ",",
	       o.protocol, o.loop == LOOP_EV ? "ev" : "poll", o.conns, o.rate, o.idle ? "true" : "false", o.rotate, secs,
	       connect_us >= 0 ? (double)connect_us / 1e6 : -1.0,
	       st.opened, st.failed, st.answers, secs > 0 ? (double)st.answers / secs : 0,
	       st.handoffs, st.emergencies, hist_quantile(&st.lat, 0.50),
	       hist_quantile(&st.lat, 0.99), hist_quantile(&st.lat, 0.999), st.lat.max,
	       hist_quantile(&st.ack, 0.50), hist_quantile(&st.ack, 0.99), st.errors,
	       st.rate_limited, st.unexpected_closes, st.reconnects, st.skipped, st.bad_frames);
	if (rss_end >= 0)
		printf("\"server_rss_kib\":%ld,\"server_rss_start_kib\":%ld,\"rss_per_conn_kib\":%.2f,",
		       rss_end, rss_start, rss_start >= 0 && st.opened
		       ? (double)(rss_end - rss_start) / (double)st.opened : 0.0);
	else
		printf("\"server_rss_kib\":null,\"server_rss_start_kib\":null,\"rss_per_conn_kib\":null,");
	if (srv_cpu >= 0)
		printf("\"server_cpu_pct\":%.1f,", srv_cpu);
	else
		printf("\"server_cpu_pct\":null,");
	printf("\"client_cpu_pct\":%.1f}\n", self_cpu);
	fflush(stdout);
	if (st.first_error[0])
		fprintf(stderr, "loadgen: first problem seen: %s\n", st.first_error);
}

int main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct ev_loop *evloop = NULL;
	void *foreign_loops[1];
	int64_t deadline;
	int rc = 1;

	if (parse_args(argc, argv) < 0) {
		usage(stderr);
		return 2;
	}
	if (o.mode == MODE_CHAT || !o.idle)
		if (load_questions(o.questions) < 0)
			return 1;
	if (raise_fd_limit(o.conns) < 0)
		return 1;
	slots = calloc(o.conns, sizeof *slots);
	if (!slots) {
		fprintf(stderr, "loadgen: out of memory\n");
		return 1;
	}
	for (unsigned i = 0; i < o.conns; i++)
		slots[i].idx = i;
	srand((unsigned)getpid());

	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	/* send --origin as given: by default lws 4.1 prepends "http://" */
	info.options = LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN;
	/* The loop, measured on 2 cores: with 1,000 connections at 1 msg/s,
	 * poll() over every socket at each wakeup took 80% of this process
	 * (50% CPU) and added milliseconds to what it measured; libev (epoll)
	 * took 8%. With 200 busy connections poll() is cheaper: libev costs an
	 * epoll_ctl() each time lws asks for or drops POLLOUT (twice a message),
	 * and this client saturated at 65k echoes/s on libev, 90k on poll().
	 * But an open loop (--rate) on poll() spins: lws's poll timeout is in
	 * ms and the timers are sub-ms apart (200 connections at 7.4/s: 64%
	 * CPU on poll(), 7% on libev, and a lower p99).
	 * The libev loop is ours ("foreign") so that we can run it one
	 * iteration at a time: lws 4.1's own libev loop never returns from
	 * lws_service(). Debian's libwebsockets-dev brings the lws plugin. */
	if (o.loop == LOOP_AUTO)
		o.loop = o.conns > AUTO_EV_ABOVE || o.rate > 0 ? LOOP_EV : LOOP_POLL;
	if (o.loop == LOOP_EV) {
		if (!(evloop = ev_loop_new(EVFLAG_AUTO))) {
			fprintf(stderr, "loadgen: could not create a libev loop\n");
			goto out;
		}
		foreign_loops[0] = evloop;
		info.foreign_loops = foreign_loops;
		info.options |= LWS_SERVER_OPTION_LIBEV;
	}
	info.protocols = protocols;
	info.timeout_secs = 20;
	info.connect_timeout_secs = 20;
	ctx = lws_create_context(&info);
	if (!ctx) {
		fprintf(stderr, "loadgen: could not create the libwebsockets context\n");
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	if (o.server_pid > 0)
		rss_start = proc_rss_kib(o.server_pid);
	phase_start = mono_us();
	/* Bounded whatever happens: connect timeout + warmup + duration + slack. */
	deadline = phase_start + CONNECT_TIMEOUT_US + (int64_t)((o.warmup + o.duration) * 1e6) + 5000000;
	ramp();
	lws_sul_schedule(ctx, 0, &tick_sul, on_tick, 10000);
	while (phase != PH_DONE && !interrupted && mono_us() < deadline) {
		if (evloop)
			ev_run(evloop, EVRUN_ONCE); /* the tick timer wakes it at least every 50 ms */
		else if (lws_service(ctx, 0) < 0)
			break;
	}
	if (phase != PH_DONE) {
		/* interrupted or out of time: report what was measured so far */
		int64_t now = mono_us();
		if (phase == PH_MEASURE)
			measure_end = now;
		if (o.server_pid > 0) {
			rss_end = proc_rss_kib(o.server_pid);
			srv_cpu1 = proc_cpu_s(o.server_pid);
		}
		self_cpu1 = self_cpu_s();
		phase = PH_DONE;
	}
	print_result();
	rc = st.opened ? 0 : 1;
	/* Done: let the kernel close the sockets. lws_context_destroy() closes
	 * them one by one and took 25 s for 10,000 connections here. */
	_exit(rc);
out:
	if (ctx)
		lws_context_destroy(ctx);
	if (evloop)
		ev_loop_destroy(evloop);
	for (unsigned i = 0; i < o.conns; i++)
		free(slots[i].rx);
	free(slots);
	for (size_t i = 0; i < n_questions; i++)
		free(frames[i]);
	free(frames);
	free(frame_lens);
	return rc;
}
