/* notify: signing, the outbox rows, and real deliveries to a loopback HTTP
 * receiver (a thread with a plain socket) that answers by a script: 500s,
 * hangs, refused connections, restarts. Time for the outbox is a now_ms the
 * test sets; real time only passes while curl talks to the receiver. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "harness.h"
#include "notify.h"
#include "store.h"
#include "util.h"

void test_notify(void);   /* registered in test_main.c */

#define SECRET "s3cret-for-tests"
#define CONSOLE "https://clinic.example/staff"
#define T0 1700000000LL   /* 2023-11-14T22:13:20Z */

/* ---- the loopback receiver */

enum { HANG = -1 };

typedef struct request {
	char method[8], path[256], content_type[128], signature[128], timestamp[32], delivery[32];
	char body[2048];
} request;

typedef struct receiver {
	pthread_t thread;
	pthread_mutex_t lock;
	int fd, port, stop;
	int script[8], n_script;     /* answer to request i; past the end: 200 */
	request req[16];
	int n_req;
	int held[16], n_held;        /* hanging connections, closed at stop */
} receiver;

static void header_value(const char *head, const char *name, char *out, size_t outsz)
{
	size_t nl = strlen(name);
	out[0] = '\0';
	for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2, *end = strstr(line, "\r\n");
		if (!end || end == line)
			return;
		if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1;
			while (*v == ' ')
				v++;
			snprintf(out, outsz, "%.*s", (int)(end - v), v);
			return;
		}
	}
}

/* Reads one request (head and Content-Length body), records it and answers
 * by the script. The connection is closed unless it is to hang. */
static void serve_one(receiver *r, int c)
{
	char buf[8192], len_s[32];
	size_t got = 0, head_len = 0, body_len;
	request q = { 0 };
	struct timeval tv = { 2, 0 };
	int action, i;

	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	for (;;) {
		ssize_t k;
		char *end;
		buf[got] = '\0';
		if ((end = strstr(buf, "\r\n\r\n"))) {
			head_len = (size_t)(end - buf) + 4;
			break;
		}
		if (got >= sizeof buf - 1 || (k = recv(c, buf + got, sizeof buf - 1 - got, 0)) <= 0)
			goto close;
		got += (size_t)k;
	}
	header_value(buf, "Content-Length", len_s, sizeof len_s);
	body_len = (size_t)strtoul(len_s, NULL, 10);
	if (body_len >= sizeof q.body || head_len + body_len >= sizeof buf)
		goto close;
	while (got < head_len + body_len) {
		ssize_t k = recv(c, buf + got, head_len + body_len - got, 0);
		if (k <= 0)
			goto close;
		got += (size_t)k;
	}
	memcpy(q.body, buf + head_len, body_len);
	buf[head_len] = '\0';
	sscanf(buf, "%7s %255s", q.method, q.path);
	header_value(buf, "Content-Type", q.content_type, sizeof q.content_type);
	header_value(buf, "X-Frontdesk-Signature", q.signature, sizeof q.signature);
	header_value(buf, "X-Frontdesk-Timestamp", q.timestamp, sizeof q.timestamp);
	header_value(buf, "X-Frontdesk-Delivery", q.delivery, sizeof q.delivery);

	pthread_mutex_lock(&r->lock);
	i = r->n_req;
	if (r->n_req < 16)
		r->req[r->n_req++] = q;
	action = i < r->n_script ? r->script[i] : 200;
	if (action == HANG && r->n_held < 16) {
		r->held[r->n_held++] = c;
		pthread_mutex_unlock(&r->lock);
		return;
	}
	pthread_mutex_unlock(&r->lock);
	if (action != HANG) {
		int n = snprintf(buf, sizeof buf, "HTTP/1.1 %d X\r\nContent-Length: 2\r\n"
				 "Connection: close\r\n\r\nok", action);
		if (send(c, buf, (size_t)n, MSG_NOSIGNAL) < 0)
			goto close;
	}
close:
	close(c);
}

static void *receiver_loop(void *arg)
{
	receiver *r = arg;
	for (;;) {
		struct pollfd p = { .fd = r->fd, .events = POLLIN };
		int stop;
		pthread_mutex_lock(&r->lock);
		stop = r->stop;
		pthread_mutex_unlock(&r->lock);
		if (stop)
			break;
		if (poll(&p, 1, 20) == 1) {
			int c = accept(r->fd, NULL, NULL);
			if (c >= 0)
				serve_one(r, c);
		}
	}
	return NULL;
}

/* Listens on 127.0.0.1:port (0: any free port, r->port tells). */
static int receiver_start(receiver *r, int port, const int *script, int n_script)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof a;
	int one = 1;

	memset(r, 0, sizeof *r);
	pthread_mutex_init(&r->lock, NULL);
	for (int i = 0; i < n_script && i < 8; i++)
		r->script[r->n_script++] = script[i];
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	if ((r->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(r->fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(r->fd, 16) < 0 ||
	    getsockname(r->fd, (struct sockaddr *)&a, &alen) < 0)
		goto bad;
	r->port = ntohs(a.sin_port);
	if (pthread_create(&r->thread, NULL, receiver_loop, r) != 0)
		goto bad;
	return 0;
bad:
	if (r->fd >= 0)
		close(r->fd);
	pthread_mutex_destroy(&r->lock);
	return -1;
}

static void receiver_stop(receiver *r)
{
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	close(r->fd);
	for (int i = 0; i < r->n_held; i++)
		close(r->held[i]);
	pthread_mutex_destroy(&r->lock);
}

static int requests(receiver *r)
{
	int n;
	pthread_mutex_lock(&r->lock);
	n = r->n_req;
	pthread_mutex_unlock(&r->lock);
	return n;
}

/* A copy of request i (0-filled if there is none). */
static request request_at(receiver *r, int i)
{
	request q = { 0 };
	pthread_mutex_lock(&r->lock);
	if (i < r->n_req)
		q = r->req[i];
	pthread_mutex_unlock(&r->lock);
	return q;
}

/* A port nobody listens on (for "connection refused"). */
static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* ---- driving the outbox */

typedef struct row {
	char state[16], format[16], url[256], last_error[128];
	char body[2048];
	int attempts;
	int64_t next_at_ms, created_at, last_status;
} row;

static int row_get(store *st, int64_t id, row *out)
{
	sqlite3_stmt *s;
	int rc = -1;
	memset(out, 0, sizeof *out);
	if (sqlite3_prepare_v2(store_db(st), "SELECT state, format, url, coalesce(last_error, ''),"
			       " body, attempts, next_at_ms, created_at, coalesce(last_status, -1)"
			       " FROM outbox WHERE id = ?1", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW) {
		snprintf(out->state, sizeof out->state, "%s", sqlite3_column_text(s, 0));
		snprintf(out->format, sizeof out->format, "%s", sqlite3_column_text(s, 1));
		snprintf(out->url, sizeof out->url, "%s", sqlite3_column_text(s, 2));
		snprintf(out->last_error, sizeof out->last_error, "%s", sqlite3_column_text(s, 3));
		snprintf(out->body, sizeof out->body, "%s", sqlite3_column_text(s, 4));
		out->attempts = sqlite3_column_int(s, 5);
		out->next_at_ms = sqlite3_column_int64(s, 6);
		out->created_at = sqlite3_column_int64(s, 7);
		out->last_status = sqlite3_column_int64(s, 8);
		rc = 0;
	}
	sqlite3_finalize(s);
	return rc;
}

static int64_t count_rows(store *st, const char *where)
{
	char sql[256];
	sqlite3_stmt *s;
	int64_t c = -1;
	snprintf(sql, sizeof sql, "SELECT count(*) FROM outbox WHERE %s", where);
	if (sqlite3_prepare_v2(store_db(st), sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		c = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return c;
}

static int64_t last_id(store *st)
{
	sqlite3_stmt *s;
	int64_t id = -1;
	if (sqlite3_prepare_v2(store_db(st), "SELECT max(id) FROM outbox", -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		id = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return id;
}

static const char *sget(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "";
}

static void nap(void)
{
	struct timespec ts = { 0, 2000000 };
	nanosleep(&ts, NULL);
}

/* What a wait is for: a number of requests seen, a row in a state after a
 * number of attempts, or the pending count. Waits are bounded (10 s) only so
 * a broken build cannot hang the suite; no test depends on how long they take. */
typedef struct want {
	receiver *r;
	int requests;
	int64_t row;
	const char *state;
	int attempts;
	int64_t pending;           /* -1: any */
} want;

static int satisfied(notify *n, store *st, const want *w)
{
	row rw;
	if (w->r && requests(w->r) < w->requests)
		return 0;
	if (w->state && (row_get(st, w->row, &rw) < 0 || strcmp(rw.state, w->state) != 0 ||
			 rw.attempts != w->attempts))
		return 0;
	return w->pending < 0 || notify_pending(n) == w->pending;
}

static int pump_until(notify *n, store *st, int64_t now_ms, want w)
{
	int64_t deadline = util_mono_us() + 10000000;
	while (util_mono_us() < deadline) {
		notify_pump(n, now_ms);
		if (satisfied(n, st, &w))
			return 1;
		nap();
	}
	return 0;
}

/* Pumps for a while of real time at a fixed now_ms (to show that nothing
 * more happens). */
static void pump_for(notify *n, int64_t now_ms, int ms)
{
	int64_t until = util_mono_us() + (int64_t)ms * 1000;
	while (util_mono_us() < until) {
		notify_pump(n, now_ms);
		nap();
	}
}

static int signature_ok(const request *q)
{
	char sig[72];
	notify_sign(SECRET, strtoll(q->timestamp, NULL, 10), q->body, strlen(q->body), sig);
	return q->signature[0] && strcmp(sig, q->signature) == 0;
}

/* Captures stderr (the log) into a temporary file between begin and end. */
typedef struct capture {
	FILE *f;
	int saved;
	char text[8192];
} capture;

static void capture_begin(capture *c)
{
	fflush(stderr);
	c->f = tmpfile();
	c->saved = dup(2);
	if (c->f)
		dup2(fileno(c->f), 2);
}

static void capture_end(capture *c)
{
	size_t n = 0;
	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	c->text[0] = '\0';
	if (c->f) {
		rewind(c->f);
		n = fread(c->text, 1, sizeof c->text - 1, c->f);
		c->text[n] = '\0';
		fclose(c->f);
	}
	fputs(c->text, stderr);   /* still shown */
}

static notify *open_hooks(store *st, const notify_hook *hooks, size_t n_hooks)
{
	notify *n = NULL;
	char err[256];
	if (notify_open(st, hooks, n_hooks, SECRET, CONSOLE, &n, err, sizeof err) < 0)
		fprintf(stderr, "  notify_open: %s\n", err);
	return n;
}

/* Opens the store at path into *st and an outbox on it with these hooks;
 * NULL (the case failed) if either fails. */
static notify *open_outbox(const char *path, store **st, const notify_hook *hooks, size_t n_hooks)
{
	notify *n = NULL;
	char err[256];
	CHECK(store_open(path, st, err, sizeof err) == 0);
	if (*st)
		n = open_hooks(*st, hooks, n_hooks);
	CHECK(n != NULL);
	return n;
}

/* ---- the cases */

static void sign_vector(void)
{
	char sig[72];
	CASE_BEGIN("notify: the signature is HMAC-SHA256 over timestamp.body (known vector)");
	/* printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret */
	notify_sign("secret", 1700000000, "{\"a\":1}", 7, sig);
	CHECK(strcmp(sig, "sha256=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686") == 0);
	notify_sign("secret", 1700000001, "{\"a\":1}", 7, sig);
	CHECK(strcmp(sig, "sha256=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686") != 0);
	CASE_END();
}

static void open_refuses(void)
{
	static const struct { const char *url, *secret, *console; } bad[] = {
		{ "ftp://hooks.example/x", SECRET, CONSOLE },
		{ "file:///etc/passwd", SECRET, CONSOLE },
		{ "javascript:alert(1)", SECRET, CONSOLE },
		{ "http://hooks.example/a b", SECRET, CONSOLE },
		{ "", SECRET, CONSOLE },
		{ "https://hooks.example/x", "", CONSOLE },
		{ "https://hooks.example/x", SECRET, "https://clinic.example/staff|<evil>" },
		{ "https://hooks.example/x", SECRET, "ftp://clinic.example/" },
	};
	store *st = NULL;
	char err[256];

	CASE_BEGIN("notify: open refuses non-http hooks, an empty secret, a bad console url");
	CHECK(store_open(":memory:", &st, err, sizeof err) == 0);
	for (size_t i = 0; st && i < sizeof bad / sizeof bad[0]; i++) {
		notify_hook h = { bad[i].url, NOTIFY_GENERIC };
		notify *n = NULL;
		int rc = notify_open(st, &h, 1, bad[i].secret, bad[i].console, &n, err, sizeof err);
		CHECKF(rc == -1 && n == NULL && err[0], "accepted %s / %s", bad[i].url, bad[i].console);
		notify_close(n);
	}
	store_close(st);
	CASE_END();
}

static void enqueue_rows(void)
{
	static const notify_hook hooks[] = {
		{ "https://hooks.example/generic", NOTIFY_GENERIC },
		{ "https://hooks.slack.example/services/T0/B0/XXXX", NOTIFY_SLACK },
	};
	static const char *const generic_keys[] = {
		"event", "delivery", "conversation", "reason", "queued_at", "url",
	};
	const char *conv = "c_0123456789abcdef0123456789abcdef";
	store *st = NULL;
	notify *n = NULL, *none = NULL;
	char err[256];
	row g, s;
	int64_t id;

	CASE_BEGIN("notify: enqueue writes one row per hook; bodies hold only the documented keys");
	if (!(n = open_outbox(":memory:", &st, hooks, 2)))
		goto out;
	CHECK(notify_enqueue(n, conv, "emergency", T0, err, sizeof err) == 0);
	id = last_id(st);
	CHECK(count_rows(st, "1") == 2 && notify_pending(n) == 2);
	CHECK(row_get(st, id - 1, &g) == 0 && row_get(st, id, &s) == 0);
	CHECK(strcmp(g.format, "generic") == 0 && strcmp(g.url, hooks[0].url) == 0);
	CHECK(strcmp(s.format, "slack") == 0 && strcmp(s.url, hooks[1].url) == 0);
	CHECK(strcmp(g.state, "pending") == 0 && g.attempts == 0 && g.next_at_ms == T0 * 1000);
	{
		json_t *b = json_loads(g.body, JSON_REJECT_DUPLICATES, NULL);
		char delivery[24];
		snprintf(delivery, sizeof delivery, "%lld", (long long)(id - 1));
		CHECK(b && json_object_size(b) == 6);
		for (size_t i = 0; i < 6; i++)
			CHECKF(json_is_string(json_object_get(b, generic_keys[i])), "key %s", generic_keys[i]);
		CHECK(strcmp(sget(b, "event"), "chat.queued") == 0);
		CHECK(strcmp(sget(b, "delivery"), delivery) == 0);
		CHECK(strcmp(sget(b, "conversation"), conv) == 0);
		CHECK(strcmp(sget(b, "reason"), "emergency") == 0);
		CHECK(strcmp(sget(b, "queued_at"),
			     "2023-11-14T22:13:20Z") == 0);
		CHECK(strcmp(sget(b, "url"),
			     CONSOLE "#c_0123456789abcdef0123456789abcdef") == 0);
		json_decref(b);
		b = json_loads(s.body, JSON_REJECT_DUPLICATES, NULL);
		CHECK(b && json_object_size(b) == 1);
		CHECK(strcmp(sget(b, "text"),
			     "<" CONSOLE "#c_0123456789abcdef0123456789abcdef|Chat waiting> (emergency),"
			     " queued 2023-11-14T22:13:20Z") == 0);
		json_decref(b);
	}
	CASE_END();

	CASE_BEGIN("notify: enqueue follows the caller's transaction (commit keeps, rollback drops)");
	CHECK(store_begin(st, err, sizeof err) == 0);
	CHECK(notify_enqueue(n, "c_2", "ticket", T0, err, sizeof err) == 0);
	CHECK(store_commit(st, err, sizeof err) == 0);
	CHECK(count_rows(st, "body LIKE '%c_2%'") == 2);
	CHECK(store_begin(st, err, sizeof err) == 0);
	CHECK(store_begin(st, err, sizeof err) == 0);          /* nested */
	CHECK(notify_enqueue(n, "c_3", "low_confidence", T0, err, sizeof err) == 0);
	CHECK(store_commit(st, err, sizeof err) == 0);
	CHECK(count_rows(st, "body LIKE '%c_3%'") == 2);       /* visible inside */
	store_rollback(st);
	CHECK(count_rows(st, "body LIKE '%c_3%'") == 0);
	CHECK(notify_pending(n) == 4);
	CASE_END();

	CASE_BEGIN("notify: enqueue refuses text where ids belong; no hooks, no rows");
	CHECK(notify_enqueue(n, "c_1 <b>", "emergency", T0, err, sizeof err) == -1);
	CHECK(notify_enqueue(n, "c_1", "I have chest pain", T0, err, sizeof err) == -1);
	CHECK(notify_enqueue(n, "", "emergency", T0, err, sizeof err) == -1);
	CHECK(notify_pending(n) == 4);
	CHECK(notify_open(st, NULL, 0, "", CONSOLE, &none, err, sizeof err) == 0);
	if (none) {
		/* and the rows of the hooks that are gone are dropped, not sent */
		CHECK(notify_pending(none) == 0);
		CHECK(count_rows(st, "state = 'failed' AND last_error = 'hook removed'") == 4);
		CHECK(notify_enqueue(none, "c_4", "emergency", T0, err, sizeof err) == 0);
		CHECK(count_rows(st, "1") == 4);
	}
	CASE_END();
out:
	notify_close(none);
	notify_close(n);
	store_close(st);
}

/* First a 500, then a 200: retried after the backoff, delivered once. */
static void retry_after_500(void)
{
	static const int script[] = { 500, 200 };
	receiver r;
	store *st = NULL;
	notify *n = NULL;
	char err[256], url[128];
	int64_t now = T0 * 1000 + 250, id, first_at;
	capture cap;
	row rw;

	CASE_BEGIN("notify: a 500 is retried after 2 s, then delivered exactly once, signed");
	if (receiver_start(&r, 0, script, 2) < 0) {
		CHECK(!"receiver");
		CASE_END();
		return;
	}
	snprintf(url, sizeof url, "http://127.0.0.1:%d/hook/T0K3N-SECRET-PATH", r.port);
	notify_hook h = { url, NOTIFY_GENERIC };
	if (!(n = open_outbox(":memory:", &st, &h, 1)))
		goto out;
	notify_set_timeout_ms(n, 5000);
	CHECK(notify_enqueue(n, "c_abc", "emergency", T0, err, sizeof err) == 0);
	id = last_id(st);
	capture_begin(&cap);
	CHECK(pump_until(n, st, now, (want){ .r = &r, .requests = 1, .row = id, .state = "pending",
					     .attempts = 1, .pending = 1 }));
	first_at = now;
	CHECK(row_get(st, id, &rw) == 0 && rw.last_status == 500 &&
	      rw.next_at_ms == first_at + NOTIFY_BACKOFF_FIRST_MS);
	{
		request q = request_at(&r, 0);
		char delivery[24];
		snprintf(delivery, sizeof delivery, "%lld", (long long)id);
		CHECK(strcmp(q.method, "POST") == 0 && strcmp(q.path, "/hook/T0K3N-SECRET-PATH") == 0);
		CHECK(strcmp(q.content_type, "application/json") == 0);
		CHECK(strcmp(q.delivery, delivery) == 0);
		CHECK(strtoll(q.timestamp, NULL, 10) == now / 1000);
		CHECK(strcmp(q.body, rw.body) == 0);
		CHECK(signature_ok(&q));
	}
	/* not before the backoff */
	pump_for(n, first_at + NOTIFY_BACKOFF_FIRST_MS - 1, 100);
	CHECK(requests(&r) == 1);
	now = first_at + NOTIFY_BACKOFF_FIRST_MS + 1000;
	CHECK(pump_until(n, st, now, (want){ .r = &r, .requests = 2, .row = id, .state = "delivered",
					     .attempts = 2, .pending = 0 }));
	{
		request a = request_at(&r, 0), b = request_at(&r, 1);
		CHECK(strcmp(a.body, b.body) == 0);           /* built once, at enqueue */
		CHECK(strtoll(b.timestamp, NULL, 10) == now / 1000);
		CHECK(signature_ok(&b));
		CHECK(strcmp(a.delivery, b.delivery) == 0);
	}
	CHECK(row_get(st, id, &rw) == 0 && rw.last_status == 200);
	/* delivered means done: no more requests, whatever the time */
	pump_for(n, now + 3600 * 1000, 100);
	CHECK(requests(&r) == 2 && notify_pending(n) == 0);
	capture_end(&cap);
	{
		char needle[64];
		snprintf(needle, sizeof needle, "delivery %lld to 127.0.0.1 failed (HTTP 500)", (long long)id);
		CHECKF(strstr(cap.text, needle) != NULL, "log: %s", cap.text);
		CHECK(strstr(cap.text, "T0K3N") == NULL && strstr(cap.text, "/hook") == NULL);
		CHECK(strstr(cap.text, "chat.queued") == NULL && strstr(cap.text, "c_abc") == NULL);
	}
out:
	CASE_END();
	notify_close(n);
	store_close(st);
	receiver_stop(&r);
}

/* One receiver hangs, the other answers: the hanging one times out and is
 * retried; the other is delivered meanwhile. */
static void hang_times_out(void)
{
	static const int hang_then_ok[] = { HANG, 200 }, ok[] = { 200 };
	receiver slow, fast;
	store *st = NULL;
	notify *n = NULL;
	char err[256], u1[128], u2[128];
	int64_t now = T0 * 1000, id;
	row rw;

	CASE_BEGIN("notify: a hanging receiver times out and is retried; others are not held up");
	if (receiver_start(&slow, 0, hang_then_ok, 2) < 0) {
		CHECK(!"receiver");
		CASE_END();
		return;
	}
	if (receiver_start(&fast, 0, ok, 1) < 0) {
		CHECK(!"receiver");
		receiver_stop(&slow);
		CASE_END();
		return;
	}
	snprintf(u1, sizeof u1, "http://127.0.0.1:%d/slow", slow.port);
	snprintf(u2, sizeof u2, "http://127.0.0.1:%d/fast", fast.port);
	notify_hook hooks[] = { { u1, NOTIFY_GENERIC }, { u2, NOTIFY_SLACK } };
	if (!(n = open_outbox(":memory:", &st, hooks, 2)))
		goto out;
	notify_set_timeout_ms(n, 1500);
	CHECK(notify_enqueue(n, "c_hang", "asked_for_person", T0, err, sizeof err) == 0);
	id = last_id(st) - 1;  /* the slow hook's row */
	CHECK(pump_until(n, st, now, (want){ .r = &fast, .requests = 1, .row = id + 1,
					     .state = "delivered", .attempts = 1, .pending = -1 }));
	CHECK(row_get(st, id, &rw) == 0 && strcmp(rw.state, "sending") == 0);
	CHECK(pump_until(n, st, now, (want){ .r = &slow, .requests = 1, .pending = -1 }));
	CHECK(pump_until(n, st, now, (want){ .row = id, .state = "pending", .attempts = 1,
					     .pending = 1 }));
	CHECK(row_get(st, id, &rw) == 0 && rw.last_status == 0 && strstr(rw.last_error, "imeout"));
	now += NOTIFY_BACKOFF_FIRST_MS;
	CHECK(pump_until(n, st, now, (want){ .r = &slow, .requests = 2, .row = id,
					     .state = "delivered", .attempts = 2, .pending = 0 }));
	CHECK(requests(&fast) == 1);
	{
		request q = request_at(&slow, 1);
		CHECK(signature_ok(&q));
	}
out:
	CASE_END();
	notify_close(n);
	store_close(st);
	receiver_stop(&slow);
	receiver_stop(&fast);
}

/* Nobody listening, then a receiver comes up on that port. */
static void refused_then_up(void)
{
	static const int ok[] = { 200 };
	receiver r;
	store *st = NULL;
	notify *n = NULL;
	char err[256], url[128];
	int64_t now = T0 * 1000, id;
	int port = free_port(), up = 0;
	row rw;

	CASE_BEGIN("notify: a receiver that is down is retried and gets it once when up");
	CHECK(port > 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", port);
	notify_hook h = { url, NOTIFY_GENERIC };
	if (!(n = open_outbox(":memory:", &st, &h, 1)))
		goto out;
	notify_set_timeout_ms(n, 3000);
	CHECK(notify_enqueue(n, "c_down", "emergency", T0, err, sizeof err) == 0);
	id = last_id(st);
	CHECK(pump_until(n, st, now, (want){ .row = id, .state = "pending", .attempts = 1, .pending = 1 }));
	CHECK(row_get(st, id, &rw) == 0 && rw.last_status == 0 && rw.last_error[0]);
	up = receiver_start(&r, port, ok, 1) == 0;
	CHECK(up);
	if (!up)
		goto out;
	now += NOTIFY_BACKOFF_FIRST_MS;
	CHECK(pump_until(n, st, now, (want){ .r = &r, .requests = 1, .row = id, .state = "delivered",
					     .attempts = 2, .pending = 0 }));
	pump_for(n, now + 600000, 50);
	CHECK(requests(&r) == 1);
out:
	CASE_END();
	notify_close(n);
	store_close(st);
	if (up)
		receiver_stop(&r);
}

/* Backoff doubles and is capped; a row is given up after 24 h. */
static void backoff_and_give_up(void)
{
	static const int fail[] = { 500, 500, 500, 500, 500, 500, 500, 500 };
	receiver r;
	store *st = NULL;
	notify *n = NULL;
	char err[256], url[128], sql[160];
	int64_t now = T0 * 1000, id;
	row rw;

	CASE_BEGIN("notify: backoff 2 s, 4 s, ... capped at 10 min; given up after 24 h");
	if (receiver_start(&r, 0, fail, 8) < 0) {
		CHECK(!"receiver");
		CASE_END();
		return;
	}
	snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", r.port);
	notify_hook h = { url, NOTIFY_GENERIC };
	if (!(n = open_outbox(":memory:", &st, &h, 1)))
		goto out;
	notify_set_timeout_ms(n, 3000);
	CHECK(notify_enqueue(n, "c_fail", "emergency", T0, err, sizeof err) == 0);
	id = last_id(st);
	CHECK(pump_until(n, st, now, (want){ .row = id, .state = "pending", .attempts = 1, .pending = -1 }));
	CHECK(row_get(st, id, &rw) == 0 && rw.next_at_ms == now + 2000);
	now += 2000;
	CHECK(pump_until(n, st, now, (want){ .row = id, .state = "pending", .attempts = 2, .pending = -1 }));
	CHECK(row_get(st, id, &rw) == 0 && rw.next_at_ms == now + 4000);
	/* after many failures the wait stops growing at 10 min */
	snprintf(sql, sizeof sql, "UPDATE outbox SET attempts = 12 WHERE id = %lld", (long long)id);
	CHECK(sqlite3_exec(store_db(st), sql, NULL, NULL, NULL) == SQLITE_OK);
	now += 4000;
	CHECK(pump_until(n, st, now, (want){ .row = id, .state = "pending", .attempts = 13, .pending = -1 }));
	CHECK(row_get(st, id, &rw) == 0 && rw.next_at_ms == now + NOTIFY_BACKOFF_CAP_MS);
	/* a failure whose retry would fall past 24 h gives the row up */
	now = rw.created_at + NOTIFY_GIVE_UP_MS - 1000;
	CHECK(pump_until(n, st, now, (want){ .row = id, .state = "failed", .attempts = 14, .pending = 0 }));
	CHECK(requests(&r) == 4);
	/* a row still due 24 h after it was queued is not sent at all */
	CHECK(notify_enqueue(n, "c_late", "emergency", T0, err, sizeof err) == 0);
	id = last_id(st);
	now = T0 * 1000 + NOTIFY_GIVE_UP_MS;
	CHECK(pump_until(n, st, now, (want){ .row = id, .state = "failed", .attempts = 0, .pending = 0 }));
	pump_for(n, now, 50);
	CHECK(requests(&r) == 4);
	CHECK(row_get(st, id, &rw) == 0 && strcmp(rw.last_error, "expired") == 0);
out:
	CASE_END();
	notify_close(n);
	store_close(st);
	receiver_stop(&r);
}

/* At most NOTIFY_MAX_INFLIGHT at once; rows in flight at notify_close, and
 * rows a crash left 'sending', are delivered after a restart on the same
 * database file. */
static void restart_delivers(void)
{
	static const int hang[] = { HANG, HANG, HANG, HANG, HANG, HANG, HANG, HANG };
	receiver a, b;
	int a_up = 0, b_up = 0, port = 0;
	store *st = NULL;
	notify *n = NULL;
	char err[256], url[128], dir[] = "/tmp/fd-notify-XXXXXX", path[96];
	int64_t now = T0 * 1000;
	row rw;

	CASE_BEGIN("notify: at most 4 in flight; rows in flight at close are sent after a restart");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/frontdesk.db", dir);
	a_up = receiver_start(&a, 0, hang, 8) == 0;
	CHECK(a_up);
	if (!a_up)
		goto out;
	port = a.port;
	snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", port);
	notify_hook h = { url, NOTIFY_GENERIC };
	if (!(n = open_outbox(path, &st, &h, 1)))
		goto out;
	notify_set_timeout_ms(n, 10000);
	for (int i = 0; i < 6; i++) {
		char conv[16];
		snprintf(conv, sizeof conv, "c_%d", i);
		CHECK(notify_enqueue(n, conv, "emergency", T0, err, sizeof err) == 0);
	}
	CHECK(pump_until(n, st, now, (want){ .r = &a, .requests = NOTIFY_MAX_INFLIGHT, .pending = 6 }));
	pump_for(n, now, 100);
	CHECK(requests(&a) == NOTIFY_MAX_INFLIGHT);
	CHECK(count_rows(st, "state = 'sending'") == NOTIFY_MAX_INFLIGHT);
	notify_close(n);
	n = NULL;
	CHECK(count_rows(st, "state = 'pending' AND attempts = 0") == 6);
	store_close(st);
	st = NULL;
	receiver_stop(&a);
	a_up = 0;

	b_up = receiver_start(&b, port, NULL, 0) == 0;
	CHECK(b_up);
	if (!b_up)
		goto out;
	if (!(n = open_outbox(path, &st, &h, 1)))
		goto out;
	CHECK(notify_pending(n) == 6);
	CHECK(pump_until(n, st, now + 1000, (want){ .r = &b, .requests = 6, .pending = 0 }));
	{
		int seen[7] = { 0 };
		for (int i = 0; i < requests(&b); i++) {
			request q = request_at(&b, i);
			long d = strtol(q.delivery, NULL, 10);
			if (d >= 1 && d <= 6)
				seen[d]++;
			CHECK(signature_ok(&q));
		}
		for (int d = 1; d <= 6; d++)
			CHECKF(seen[d] == 1, "delivery %d seen %d times", d, seen[d]);
	}
	CASE_END();

	CASE_BEGIN("notify: a row a crash left 'sending' is sent again at the next open");
	CHECK(notify_enqueue(n, "c_crash", "emergency", T0, err, sizeof err) == 0);
	CHECK(sqlite3_exec(store_db(st), "UPDATE outbox SET state = 'sending' WHERE id = 7",
			   NULL, NULL, NULL) == SQLITE_OK);
	notify_close(n);                   /* nothing in flight: the row stays as the crash left it */
	n = NULL;
	store_close(st);
	st = NULL;
	CHECK(store_open(path, &st, err, sizeof err) == 0);
	CHECK(st && row_get(st, 7, &rw) == 0 && strcmp(rw.state, "sending") == 0);
	if (st)
		n = open_hooks(st, &h, 1);
	CHECK(n != NULL && notify_pending(n) == 1 && row_get(st, 7, &rw) == 0 &&
	      strcmp(rw.state, "pending") == 0);
	if (!n)
		goto out;
	CHECK(pump_until(n, st, now + 2000, (want){ .r = &b, .requests = 7, .row = 7,
						    .state = "delivered", .attempts = 1, .pending = 0 }));
	CHECK(strcmp(request_at(&b, 6).delivery, "7") == 0);
out:
	CASE_END();
	notify_close(n);
	store_close(st);
	if (a_up)
		receiver_stop(&a);
	if (b_up)
		receiver_stop(&b);
	snprintf(path, sizeof path, "%s/frontdesk.db", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/frontdesk.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/frontdesk.db-shm", dir);
	unlink(path);
	rmdir(dir);
}

void test_notify(void)
{
	/* loopback receivers must not go through a proxy from the environment */
	setenv("no_proxy", "127.0.0.1,localhost", 1);
	setenv("NO_PROXY", "127.0.0.1,localhost", 1);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	sign_vector();
	open_refuses();
	enqueue_rows();
	retry_after_500();
	hang_times_out();
	refused_then_up();
	backoff_and_give_up();
	restart_delivers();
	curl_global_cleanup();
}
