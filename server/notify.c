/* notify: see notify.h. */
#include "notify.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "util.h"

#define POLL_MS 10            /* pump interval while transfers run (no fd watching) */
#define MAX_URL 2048
#define MAX_CONSOLE_URL 512

/* One delivery attempt in flight. Freed by end_transfer. */
typedef struct transfer {
	CURL *easy;
	struct curl_slist *headers;
	int64_t id;
	int64_t created_at;          /* ms */
	int attempts;                /* before this one */
	char host[256];              /* for logs: never the path, never the body */
	struct transfer *next;
} transfer;

struct notify {
	store *st;
	sqlite3 *db;                 /* borrowed from st */
	notify_hook hooks[NOTIFY_MAX_HOOKS];   /* urls owned */
	size_t n_hooks;
	char *secret;
	char *console_url;
	long timeout_ms;
	CURLM *multi;
	int curl_ready;              /* curl_global_init succeeded */
	transfer *inflight;
	int n_inflight;
	sqlite3_stmt *ins, *set_body, *due, *mark_sending, *delivered, *retry, *give_up,
		*next_due, *count;
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS outbox("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  url TEXT NOT NULL, format TEXT NOT NULL, body TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL, next_at_ms INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  state TEXT NOT NULL DEFAULT 'pending'"
	"    CHECK(state IN ('pending', 'sending', 'delivered', 'failed')),"
	"  last_status INTEGER, last_error TEXT);"
	"CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_at_ms);";

static int db_fail(notify *n, char *err, size_t errsz, const char *what)
{
	snprintf(err, errsz, "notify: %s: %s", what, sqlite3_errmsg(n->db));
	return -1;
}

static int prepare(notify *n, sqlite3_stmt **out, const char *sql, char *err, size_t errsz)
{
	if (sqlite3_prepare_v3(n->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK)
		return db_fail(n, err, errsz, "prepare");
	return 0;
}

/* ---- input checks: nothing unchecked reaches a body, a header or Slack's
 * <link|text> syntax. */

static int is_http_url(const char *url)
{
	size_t len = strlen(url);
	if (len >= MAX_URL)
		return 0;
	if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)url; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return 0;
	return 1;
}

static int is_console_url(const char *url)
{
	if (!is_http_url(url) || strlen(url) >= MAX_CONSOLE_URL)
		return 0;
	return strpbrk(url, "<>|\"\\") == NULL;
}

/* 1 if s is 1..max characters, each a lowercase letter, a digit, '_' or
 * (when upper is set) an uppercase letter or '-'. */
static int is_token(const char *s, size_t max, int upper)
{
	size_t len = s ? strlen(s) : 0;
	if (len == 0 || len > max)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')
			continue;
		if (upper && ((c >= 'A' && c <= 'Z') || c == '-'))
			continue;
		return 0;
	}
	return 1;
}

/* The url's host, for logs only; "?" if it cannot be parsed. */
static void url_host(const char *url, char *out, size_t outsz)
{
	CURLU *u = curl_url();
	char *host = NULL;
	snprintf(out, outsz, "?");
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		snprintf(out, outsz, "%s", host);
	curl_free(host);
	curl_url_cleanup(u);
}

/* ---- signing */

void notify_sign(const char *secret, int64_t timestamp, const char *body, size_t len,
		 char out[72])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char stackbuf[2048], *msg = stackbuf;
	int head;

	out[0] = '\0';
	head = snprintf(stackbuf, sizeof stackbuf, "%lld.", (long long)timestamp);
	assert(head > 0 && (size_t)head < 32);
	if (len > sizeof stackbuf - (size_t)head) {
		if (len > SIZE_MAX - 32 || !(msg = malloc((size_t)head + len)))
			return;            /* out stays "": the caller refuses to send */
		memcpy(msg, stackbuf, (size_t)head);
	}
	if (len)
		memcpy(msg + head, body, len);
	if (HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg,
		 (size_t)head + len, md, &mdlen) && mdlen == 32) {
		memcpy(out, "sha256=", 7);
		util_hex(md, mdlen, out + 7);
	}
	if (msg != stackbuf)
		free(msg);
}

/* ---- bodies */

/* New string (free()): the body of one row. NULL when out of memory. */
static char *build_body(const notify *n, notify_format format, int64_t id, const char *conv_id,
			const char *reason, int64_t now_unix)
{
	char when[21], link[MAX_CONSOLE_URL + 80], delivery[24], text[MAX_CONSOLE_URL + 200];
	json_t *o;
	char *body;

	util_iso8601(now_unix, when);
	snprintf(link, sizeof link, "%s#%s", n->console_url, conv_id);
	snprintf(delivery, sizeof delivery, "%lld", (long long)id);
	if (format == NOTIFY_SLACK) {
		/* every part is checked: no &, <, > or | that Slack would read as markup */
		snprintf(text, sizeof text, "<%s|Chat waiting> (%s), queued %s", link, reason, when);
		o = json_pack("{s:s}", "text", text);
	} else {
		o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "event", "chat.queued",
			      "delivery", delivery, "conversation", conv_id, "reason", reason,
			      "queued_at", when, "url", link);
	}
	body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return body;
}

/* Marks failed the pending rows whose url is not a configured hook, with one
 * log line per such url (its host). */
static int drop_removed_hooks(notify *n, char *err, size_t errsz)
{
	json_t *list = json_array();
	char *urls = NULL;
	sqlite3_stmt *s = NULL;
	int rc = -1, step;

	for (size_t i = 0; list && i < n->n_hooks; i++)
		if (json_array_append_new(list, json_string(n->hooks[i].url)) < 0)
			break;
	if (!list || !(urls = json_dumps(list, JSON_COMPACT))) {
		snprintf(err, errsz, "notify: out of memory");
		goto out;
	}
	if (prepare(n, &s, "SELECT DISTINCT url FROM outbox WHERE state = 'pending'"
		    " AND url NOT IN (SELECT value FROM json_each(?1))", err, errsz))
		goto out;
	sqlite3_bind_text(s, 1, urls, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *url = (const char *)sqlite3_column_text(s, 0);
		char host[256];
		url_host(url ? url : "", host, sizeof host);
		LOG_WARN("notify: the webhook to %s is no longer configured: its pending deliveries"
			 " are dropped", host);
	}
	if (step != SQLITE_DONE) {
		db_fail(n, err, errsz, "outbox");
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (prepare(n, &s, "UPDATE outbox SET state = 'failed', last_error = 'hook removed'"
		    " WHERE state = 'pending' AND url NOT IN (SELECT value FROM json_each(?1))",
		    err, errsz))
		goto out;
	sqlite3_bind_text(s, 1, urls, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE) {
		db_fail(n, err, errsz, "outbox");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(s);
	free(urls);
	json_decref(list);
	return rc;
}

/* ---- open / close */

int notify_open(store *st, const notify_hook *hooks, size_t n_hooks, const char *secret,
		const char *console_url, notify **out, char *err, size_t errsz)
{
	notify *n = NULL;
	char *msg = NULL;

	*out = NULL;
	if (n_hooks > NOTIFY_MAX_HOOKS) {
		snprintf(err, errsz, "notify: at most %d webhooks", NOTIFY_MAX_HOOKS);
		return -1;
	}
	for (size_t i = 0; i < n_hooks; i++) {
		if (!hooks[i].url || !is_http_url(hooks[i].url) ||
		    (hooks[i].format != NOTIFY_GENERIC && hooks[i].format != NOTIFY_SLACK)) {
			snprintf(err, errsz, "notify: webhook %zu: an http:// or https:// url is needed", i + 1);
			return -1;
		}
	}
	if (n_hooks > 0 && (!secret || !*secret)) {
		snprintf(err, errsz, "notify: webhooks need a signing secret");
		return -1;
	}
	if (!console_url || !is_console_url(console_url)) {
		snprintf(err, errsz, "notify: the console url must be http(s), without spaces, quotes, <, > or |");
		return -1;
	}
	if (!(n = calloc(1, sizeof *n)))
		goto oom;
	n->st = st;
	n->db = store_db(st);
	n->timeout_ms = NOTIFY_TIMEOUT_MS;
	if (!(n->secret = strdup(secret ? secret : "")) || !(n->console_url = strdup(console_url)))
		goto oom;
	for (size_t i = 0; i < n_hooks; i++) {
		if (!(n->hooks[i].url = strdup(hooks[i].url)))
			goto oom;
		n->hooks[i].format = hooks[i].format;
		n->n_hooks++;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errsz, "notify: curl_global_init failed");
		goto bad;
	}
	n->curl_ready = 1;
	if (!(n->multi = curl_multi_init()))
		goto oom;

	if (sqlite3_exec(n->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errsz, "notify: outbox: %s", msg ? msg : "schema");
		sqlite3_free(msg);
		goto bad;
	}
	if (prepare(n, &n->ins,
		    "INSERT INTO outbox(url, format, body, created_at, next_at_ms)"
		    " VALUES(?1, ?2, '', ?3, ?3)", err, errsz) ||
	    prepare(n, &n->set_body, "UPDATE outbox SET body = ?2 WHERE id = ?1", err, errsz) ||
	    prepare(n, &n->due,
		    "SELECT id, url, body, attempts, created_at FROM outbox"
		    " WHERE state = 'pending' AND next_at_ms <= ?1 ORDER BY next_at_ms, id LIMIT ?2",
		    err, errsz) ||
	    prepare(n, &n->mark_sending,
		    "UPDATE outbox SET state = 'sending' WHERE id = ?1 AND state = 'pending'", err, errsz) ||
	    prepare(n, &n->delivered,
		    "UPDATE outbox SET state = 'delivered', attempts = attempts + 1,"
		    " last_status = ?2, last_error = NULL WHERE id = ?1", err, errsz) ||
	    prepare(n, &n->retry,
		    "UPDATE outbox SET state = 'pending', attempts = attempts + 1, next_at_ms = ?2,"
		    " last_status = ?3, last_error = ?4 WHERE id = ?1", err, errsz) ||
	    prepare(n, &n->give_up,
		    "UPDATE outbox SET state = 'failed', attempts = attempts + ?2,"
		    " last_status = coalesce(?3, last_status), last_error = ?4 WHERE id = ?1",
		    err, errsz) ||
	    prepare(n, &n->next_due,
		    "SELECT min(next_at_ms) FROM outbox WHERE state = 'pending'", err, errsz) ||
	    prepare(n, &n->count,
		    "SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')", err, errsz))
		goto bad;

	/* A crash left these mid-send: send them again (at least once). */
	if (sqlite3_exec(n->db, "UPDATE outbox SET state = 'pending' WHERE state = 'sending'",
			 NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(n, err, errsz, "recover");
		goto bad;
	}
	if (sqlite3_changes(n->db) > 0)
		LOG_INFO("notify: %d deliveries interrupted by a stop will be sent again",
			 sqlite3_changes(n->db));

	/* Rows for webhooks no longer configured are dropped, not sent. */
	if (drop_removed_hooks(n, err, errsz) < 0)
		goto bad;
	*out = n;
	return 0;
oom:
	snprintf(err, errsz, "notify: out of memory");
bad:
	notify_close(n);
	return -1;
}

static void end_transfer(notify *n, transfer *t)
{
	transfer **p = &n->inflight;
	while (*p && *p != t)
		p = &(*p)->next;
	if (*p) {
		*p = t->next;
		n->n_inflight--;
	}
	if (t->easy) {
		curl_multi_remove_handle(n->multi, t->easy);
		curl_easy_cleanup(t->easy);
	}
	curl_slist_free_all(t->headers);
	free(t);
}

void notify_close(notify *n)
{
	if (!n)
		return;
	if (n->inflight) {
		/* Aborted, not counted as an attempt: due again at the next start. */
		if (sqlite3_exec(n->db, "UPDATE outbox SET state = 'pending' WHERE state = 'sending'",
				 NULL, NULL, NULL) != SQLITE_OK)
			LOG_ERR("notify: cannot release deliveries in flight: %s (sent at the next start)",
				sqlite3_errmsg(n->db));
		while (n->inflight)
			end_transfer(n, n->inflight);
	}
	sqlite3_finalize(n->ins);
	sqlite3_finalize(n->set_body);
	sqlite3_finalize(n->due);
	sqlite3_finalize(n->mark_sending);
	sqlite3_finalize(n->delivered);
	sqlite3_finalize(n->retry);
	sqlite3_finalize(n->give_up);
	sqlite3_finalize(n->next_due);
	sqlite3_finalize(n->count);
	if (n->multi)
		curl_multi_cleanup(n->multi);
	if (n->curl_ready)
		curl_global_cleanup();
	for (size_t i = 0; i < n->n_hooks; i++)
		free((char *)n->hooks[i].url);
	free(n->secret);
	free(n->console_url);
	free(n);
}

void notify_set_timeout_ms(notify *n, long ms)
{
	if (ms > 0)
		n->timeout_ms = ms;
}

/* ---- enqueue */

int notify_enqueue(notify *n, const char *conv_id, const char *reason, int64_t now_unix,
		   char *err, size_t errsz)
{
	int rc = -1;

	if (!is_token(conv_id, 64, 1) || !is_token(reason, 32, 0)) {
		snprintf(err, errsz, "notify: bad conversation id or reason");
		return -1;
	}
	if (n->n_hooks == 0)
		return 0;
	/* A savepoint nests in the caller's transaction (or is one on its own),
	 * and on failure undoes only what was done here. */
	if (sqlite3_exec(n->db, "SAVEPOINT notify_enqueue", NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(n, err, errsz, "savepoint");
	for (size_t i = 0; i < n->n_hooks; i++) {
		const notify_hook *h = &n->hooks[i];
		int64_t id;
		char *body;
		int ok;

		sqlite3_bind_text(n->ins, 1, h->url, -1, SQLITE_STATIC);
		sqlite3_bind_text(n->ins, 2, h->format == NOTIFY_SLACK ? "slack" : "generic", -1,
				  SQLITE_STATIC);
		sqlite3_bind_int64(n->ins, 3, now_unix * 1000);
		ok = sqlite3_step(n->ins) == SQLITE_DONE;
		sqlite3_reset(n->ins);
		if (!ok) {
			db_fail(n, err, errsz, "enqueue");
			goto out;
		}
		id = sqlite3_last_insert_rowid(n->db);
		/* The generic body names its own delivery id, known only now. */
		if (!(body = build_body(n, h->format, id, conv_id, reason, now_unix))) {
			snprintf(err, errsz, "notify: out of memory");
			goto out;
		}
		sqlite3_bind_int64(n->set_body, 1, id);
		sqlite3_bind_text(n->set_body, 2, body, -1, free);
		ok = sqlite3_step(n->set_body) == SQLITE_DONE;
		sqlite3_reset(n->set_body);
		sqlite3_clear_bindings(n->set_body);
		if (!ok) {
			db_fail(n, err, errsz, "enqueue");
			goto out;
		}
	}
	rc = 0;
out:
	if (rc < 0)
		sqlite3_exec(n->db, "ROLLBACK TO notify_enqueue", NULL, NULL, NULL);
	if (sqlite3_exec(n->db, "RELEASE notify_enqueue", NULL, NULL, NULL) != SQLITE_OK && rc == 0)
		rc = db_fail(n, err, errsz, "release");
	return rc;
}

/* ---- delivery */

static int64_t backoff_ms(int attempts)
{
	int64_t d = NOTIFY_BACKOFF_FIRST_MS;
	for (int i = 1; i < attempts && d < NOTIFY_BACKOFF_CAP_MS; i++)
		d *= 2;
	return d < NOTIFY_BACKOFF_CAP_MS ? d : NOTIFY_BACKOFF_CAP_MS;
}

static void run_update(notify *n, sqlite3_stmt *s, int64_t id)
{
	if (sqlite3_step(s) != SQLITE_DONE)
		LOG_ERR("notify: delivery %lld: cannot update the outbox: %s", (long long)id,
			sqlite3_errmsg(n->db));
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

static void mark_failed(notify *n, int64_t id, int counted, long status, const char *why)
{
	sqlite3_bind_int64(n->give_up, 1, id);
	sqlite3_bind_int(n->give_up, 2, counted);
	if (counted)
		sqlite3_bind_int64(n->give_up, 3, status);
	sqlite3_bind_text(n->give_up, 4, why, -1, SQLITE_TRANSIENT);
	run_update(n, n->give_up, id);
}

/* Records the outcome of one attempt. status: the HTTP code, 0 without an
 * answer; why: the curl error, or NULL when an answer came. */
static void record(notify *n, int64_t id, int64_t created_at, int attempts, const char *host,
		   long status, const char *why, int64_t now_ms)
{
	char what[160];
	int64_t delay;

	if (!why && status >= 200 && status <= 299) {
		sqlite3_bind_int64(n->delivered, 1, id);
		sqlite3_bind_int64(n->delivered, 2, status);
		run_update(n, n->delivered, id);
		return;
	}
	if (why)
		snprintf(what, sizeof what, "%s", why);
	else
		snprintf(what, sizeof what, "HTTP %ld", status);
	attempts++;
	delay = backoff_ms(attempts);
	if (now_ms + delay >= created_at + NOTIFY_GIVE_UP_MS) {
		LOG_WARN("notify: delivery %lld to %s given up after %d attempts (last: %s)",
			 (long long)id, host, attempts, what);
		mark_failed(n, id, 1, status, what);
		return;
	}
	LOG_WARN("notify: delivery %lld to %s failed (%s), attempt %d; retry in %lld s",
		 (long long)id, host, what, attempts, (long long)(delay / 1000));
	sqlite3_bind_int64(n->retry, 1, id);
	sqlite3_bind_int64(n->retry, 2, now_ms + delay);
	sqlite3_bind_int64(n->retry, 3, status);
	sqlite3_bind_text(n->retry, 4, what, -1, SQLITE_TRANSIENT);
	run_update(n, n->retry, id);
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *user)
{
	(void)ptr;
	(void)user;
	return size * nmemb;
}

/* Starts one attempt; 0 started, -1 with why set (the attempt failed before
 * reaching the network). */
static int start(notify *n, int64_t id, const char *url, const char *body, int attempts,
		 int64_t created_at, int64_t now_ms, const char **why)
{
	transfer *t = calloc(1, sizeof *t);
	char sig[72], line[128];
	int64_t ts = now_ms / 1000;
	struct curl_slist *h;
	CURL *e;

	if (!t) {
		*why = "out of memory";
		return -1;
	}
	t->id = id;
	t->created_at = created_at;
	t->attempts = attempts;
	url_host(url, t->host, sizeof t->host);
	notify_sign(n->secret, ts, body, strlen(body), sig);
	*why = "cannot set up the request";
	if (!sig[0] || !(t->easy = e = curl_easy_init()))
		goto bad;
#define ADD(s) do { if (!(h = curl_slist_append(t->headers, (s)))) goto bad; t->headers = h; } while (0)
	ADD("Content-Type: application/json");
	ADD("Expect:");
	snprintf(line, sizeof line, "X-Frontdesk-Delivery: %lld", (long long)id);
	ADD(line);
	snprintf(line, sizeof line, "X-Frontdesk-Timestamp: %lld", (long long)ts);
	ADD(line);
	snprintf(line, sizeof line, "X-Frontdesk-Signature: %s", sig);
	ADD(line);
#undef ADD
	if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, n->timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			     n->timeout_ms < 5000 ? n->timeout_ms : 5000L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_USERAGENT, "frontdesk-webhook/1") != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body)) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)t) != CURLE_OK)
		goto bad;
	/* 'sending' first: a crash from here on means "send again at start". */
	sqlite3_bind_int64(n->mark_sending, 1, id);
	if (sqlite3_step(n->mark_sending) != SQLITE_DONE || sqlite3_changes(n->db) != 1) {
		sqlite3_reset(n->mark_sending);
		*why = "cannot update the outbox";
		goto bad;
	}
	sqlite3_reset(n->mark_sending);
	if (curl_multi_add_handle(n->multi, e) != CURLM_OK)
		goto bad;
	t->next = n->inflight;
	n->inflight = t;
	n->n_inflight++;
	return 0;
bad:
	if (t->easy)
		curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->headers);
	free(t);
	return -1;
}

/* Collects finished transfers. */
static void collect(notify *n, int64_t now_ms)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(n->multi, &left))) {
		transfer *t;
		char *priv = NULL;
		CURLcode res;
		long status = 0;

		if (m->msg != CURLMSG_DONE)
			continue;
		res = m->data.result;     /* m is invalid once the handle is removed */
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		t = (transfer *)(void *)priv;
		assert(t);
		record(n, t->id, t->created_at, t->attempts, t->host, res == CURLE_OK ? status : 0,
		       res == CURLE_OK ? NULL : curl_easy_strerror(res), now_ms);
		end_transfer(n, t);
	}
}

typedef struct due_row {
	int64_t id, created_at;
	int attempts;
	char *url, *body;
} due_row;

/* Starts due rows while there is room. */
static void start_due(notify *n, int64_t now_ms)
{
	due_row rows[NOTIFY_MAX_INFLIGHT];
	int k = 0, room = NOTIFY_MAX_INFLIGHT - n->n_inflight, rc;

	if (room <= 0)
		return;
	/* Read first, then update: no writes under a running SELECT. */
	sqlite3_bind_int64(n->due, 1, now_ms);
	sqlite3_bind_int(n->due, 2, room);
	while (k < room && (rc = sqlite3_step(n->due)) == SQLITE_ROW) {
		const char *url = (const char *)sqlite3_column_text(n->due, 1);
		const char *body = (const char *)sqlite3_column_text(n->due, 2);
		due_row *r = &rows[k];
		r->id = sqlite3_column_int64(n->due, 0);
		r->attempts = sqlite3_column_int(n->due, 3);
		r->created_at = sqlite3_column_int64(n->due, 4);
		r->url = strdup(url ? url : "");
		r->body = strdup(body ? body : "");
		k++;
	}
	sqlite3_reset(n->due);
	for (int i = 0; i < k; i++) {
		due_row *r = &rows[i];
		const char *why = NULL;
		char host[256];

		if (!r->url || !r->body) {
			why = "out of memory";
		} else if (now_ms >= r->created_at + NOTIFY_GIVE_UP_MS) {
			url_host(r->url, host, sizeof host);
			LOG_WARN("notify: delivery %lld to %s expired unsent after %d attempts",
				 (long long)r->id, host, r->attempts);
			mark_failed(n, r->id, 0, 0, "expired");
		} else if (start(n, r->id, r->url, r->body, r->attempts, r->created_at, now_ms, &why) == 0) {
			why = NULL;
		}
		if (why) {
			url_host(r->url ? r->url : "", host, sizeof host);
			record(n, r->id, r->created_at, r->attempts, host, 0, why, now_ms);
		}
		free(r->url);
		free(r->body);
	}
}

int notify_pump(notify *n, int64_t now_ms)
{
	int running = 0, wait = 1000;

	if (n->n_inflight > 0) {
		curl_multi_perform(n->multi, &running);
		collect(n, now_ms);
	}
	start_due(n, now_ms);
	if (n->n_inflight > 0) {
		/* Get new transfers going (connect starts here), collect instant failures. */
		curl_multi_perform(n->multi, &running);
		collect(n, now_ms);
	}
	if (n->n_inflight > 0)
		return POLL_MS;
	if (sqlite3_step(n->next_due) == SQLITE_ROW &&
	    sqlite3_column_type(n->next_due, 0) != SQLITE_NULL) {
		int64_t next = sqlite3_column_int64(n->next_due, 0) - now_ms;
		wait = next < 1 ? 1 : next > 1000 ? 1000 : (int)next;
	}
	sqlite3_reset(n->next_due);
	return wait;
}

int64_t notify_pending(notify *n)
{
	int64_t c = -1;
	if (sqlite3_step(n->count) == SQLITE_ROW)
		c = sqlite3_column_int64(n->count, 0);
	sqlite3_reset(n->count);
	return c;
}
