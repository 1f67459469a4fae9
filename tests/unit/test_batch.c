/* Group commit (batch.h), the store's nested transactions it relies on, and
 * the chat decisions the event loop's fast path uses. No sockets: the
 * "connections" are plain structs that collect what would be sent. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "batch.h"
#include "chat.h"
#include "harness.h"

int test_open_default(store **st, engine **eng);

typedef struct conn {
	char sent[8][160];
	size_t n;
} conn;

static void deliver(void *owner, const char *frame, size_t len)
{
	conn *c = owner;
	if (c->n < 8)
		snprintf(c->sent[c->n++], sizeof c->sent[0], "%.*s", (int)len, frame);
}

static int64_t fake_now;
static int64_t fake_clock(void)
{
	return fake_now += 1000000;
}

/* Events stored for conv, or -1. */
static int n_events(store *st, const char *conv)
{
	char err[256];
	json_t *h = store_events_since(st, conv, 0, err, sizeof err);
	int n = h ? (int)json_array_size(h) : -1;
	json_decref(h);
	return n;
}

/* One chat_handle into a collecting conn (what the server's queue_frame does
 * while a batch is open: hold). */
typedef struct holder {
	batch *b;
	void *owner;
} holder;

static void hold(void *user, const char *frame, size_t len)
{
	holder *h = user;
	if (batch_is_open(h->b))
		batch_hold(h->b, h->owner, frame, len);
	else
		deliver(h->owner, frame, len);
}

void test_batch(void)
{
	store *st = NULL;
	engine *eng = NULL;
	chat_ctx ctx = { 0 };
	chat_session s1 = { 0 }, s2 = { 0 };
	conn c1 = { 0 }, c2 = { 0 }, c3 = { 0 };
	holder h1, h2;
	batch *b;
	char err[256], conv1[STORE_CONV_ID_LEN + 1], conv2[STORE_CONV_ID_LEN + 1];
	static const char fail[] = "{\"type\":\"error\",\"code\":\"internal\"}";

	CASE_BEGIN("chat_queue_moves: only joining the line or jumping it as an emergency moves it");
	{
		static const struct { const char *status; int was_em, em, moves; } t[] = {
			{ "bot", 0, 0, 1 },        /* joins the line */
			{ "resolved", 0, 0, 1 },   /* comes back */
			{ "bot", 0, 1, 1 },
			{ "waiting", 0, 0, 0 },    /* asks again while waiting: nobody moves */
			{ "waiting", 0, 1, 1 },    /* becomes an emergency: jumps the line */
			{ "waiting", 1, 1, 0 },    /* already one */
			{ "owned", 0, 1, 0 },      /* not in the line */
			{ "ticket", 0, 0, 0 },
			{ "ticket", 0, 1, 0 },
		};
		for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
			CHECKF(chat_queue_moves(t[i].status, t[i].was_em, t[i].em) == t[i].moves,
			       "row %zu (%s)", i, t[i].status);
	}
	CASE_END();

	CASE_BEGIN("chat_parse_message: exactly the frames of type message, parsed");
	{
		static const struct { const char *frame; int yes; } t[] = {
			{ "{\"type\":\"message\",\"text\":\"hi\"}", 1 },
			{ "{\"text\":\"hi\",\"type\":\"message\"}", 1 },
			{ "{\"type\":\"hello\",\"text\":\"message\"}", 0 },
			{ "{\"type\":\"leave_message\",\"text\":\"x\"}", 0 },
			{ "{\"type\":\"message\"", 0 },
			{ "[\"message\"]", 0 },
			{ "\"message\"", 0 },
			{ "{\"type\":\"message\",\"type\":\"hello\"}", 0 },   /* duplicate keys: refused */
			{ "", 0 },
		};
		for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
			json_t *m = chat_parse_message(t[i].frame, strlen(t[i].frame));
			CHECKF((m != NULL) == t[i].yes, "%s", t[i].frame);
			CHECKF(!m || strcmp(json_string_value(json_object_get(m, "text")), "hi") == 0,
			       "%s", t[i].frame);
			json_decref(m);
		}
	}
	CASE_END();

	if (test_open_default(&st, &eng) < 0)
		return;
	ctx.st = st;
	ctx.eng = eng;
	ctx.now_us = fake_clock;
	ctx.burst = 1000;
	chat_default_messages(&ctx.msg);
	b = batch_new(st);
	h1 = (holder){ b, &c1 };
	h2 = (holder){ b, &c2 };

	CASE_BEGIN("store: a nested rollback undoes only the inner transaction");
	{
		char token[STORE_TOKEN_LEN + 1];
		int64_t id;
		CHECK(store_conv_create(st, "en", conv1, token, err, sizeof err) == 0);
		CHECK(store_begin(st, err, sizeof err) == 0 && store_in_tx(st));
		CHECK(store_event_add(st, conv1, "patient", "message", "kept", NULL, &id, err, sizeof err) == 0);
		CHECK(store_begin(st, err, sizeof err) == 0);
		CHECK(store_event_add(st, conv1, "patient", "message", "undone", NULL, &id, err, sizeof err) == 0);
		store_rollback(st);
		CHECK(store_in_tx(st));
		CHECK(store_begin(st, err, sizeof err) == 0);
		CHECK(store_event_add(st, conv1, "patient", "message", "kept too", NULL, &id, err, sizeof err) == 0);
		CHECK(store_commit(st, err, sizeof err) == 0);
		CHECK(store_commit(st, err, sizeof err) == 0 && !store_in_tx(st));
		CHECK(n_events(st, conv1) == 2);
		/* and the outermost rollback undoes everything in it */
		CHECK(store_begin(st, err, sizeof err) == 0 && store_begin(st, err, sizeof err) == 0);
		CHECK(store_event_add(st, conv1, "patient", "message", "gone", NULL, &id, err, sizeof err) == 0);
		CHECK(store_commit(st, err, sizeof err) == 0);
		store_rollback(st);
		CHECK(!store_in_tx(st) && n_events(st, conv1) == 2);
	}
	CASE_END();

	CASE_BEGIN("batch: two patients' messages, one commit, then every frame in order");
	{
		const char *msg = "{\"type\":\"message\",\"text\":\"what are your opening hours?\",\"client_id\":\"a\"}";
		chat_handle(&ctx, &s1, "{\"type\":\"hello\"}", 16, hold, &h1);
		chat_handle(&ctx, &s2, "{\"type\":\"hello\"}", 16, hold, &h2);
		CHECK(c1.n == 1 && c2.n == 1 && strstr(c1.sent[0], "welcome"));
		snprintf(conv1, sizeof conv1, "%s", s1.conv_id);
		snprintf(conv2, sizeof conv2, "%s", s2.conv_id);
		c1.n = c2.n = 0;
		CHECK(batch_begin(b) == 1 && batch_is_open(b) && store_in_tx(st));
		batch_count(b, &c1);
		chat_handle(&ctx, &s1, msg, strlen(msg), hold, &h1);
		batch_count(b, &c2);
		chat_handle(&ctx, &s2, msg, strlen(msg), hold, &h2);
		batch_count(b, &c1);
		chat_handle(&ctx, &s1, msg, strlen(msg), hold, &h1);
		CHECK(c1.n == 0 && c2.n == 0);            /* nothing out before the commit */
		CHECK(!batch_full(b));
		CHECK(batch_end(b, deliver, fail, err, sizeof err) == 3);
		CHECK(!batch_is_open(b) && !store_in_tx(st));
		CHECK(c1.n == 4 && c2.n == 2);
		CHECK(strstr(c1.sent[0], "\"ack\"") && strstr(c1.sent[1], "\"answer\"") &&
		      strstr(c1.sent[2], "\"ack\"") && strstr(c1.sent[3], "\"answer\""));
		CHECK(strstr(c2.sent[0], "\"ack\"") && strstr(c2.sent[1], "\"answer\""));
		CHECK(n_events(st, conv1) == 4 && n_events(st, conv2) == 2);
		CHECK(batch_end(b, deliver, fail, err, sizeof err) == 0); /* nothing open: no-op */
	}
	CASE_END();

	CASE_BEGIN("batch: a failed commit stores nothing and answers each message with the error");
	{
		const char *msg = "{\"type\":\"message\",\"text\":\"do you take insurance?\"}";
		int64_t id;
		c1.n = c2.n = c3.n = 0;
		CHECK(batch_begin(b) == 1);
		batch_count(b, &c1);
		chat_handle(&ctx, &s1, msg, strlen(msg), hold, &h1);
		batch_count(b, &c1);
		chat_handle(&ctx, &s1, msg, strlen(msg), hold, &h1);
		batch_hold(b, &c3, "{\"type\":\"queue\"}", 16);   /* a bystander's frame */
		/* A deferred foreign key that only fails at COMMIT stands in for
		 * a full disk: the whole transaction is refused. */
		CHECK(sqlite3_exec(store_db(st), "PRAGMA defer_foreign_keys = ON", NULL, NULL, NULL) == SQLITE_OK);
		CHECK(store_event_add(st, "c_nosuchconversation", "bot", "answer", "x", NULL, &id,
				      err, sizeof err) == 0);
		CHECK(batch_end(b, deliver, fail, err, sizeof err) == -1);
		CHECK(!batch_is_open(b) && !store_in_tx(st));
		CHECK(c1.n == 2 && strcmp(c1.sent[0], fail) == 0 && strcmp(c1.sent[1], fail) == 0);
		CHECK(c3.n == 0);                          /* told of rolled-back events: dropped */
		CHECK(n_events(st, conv1) == 4);           /* nothing of it stored */
	}
	CASE_END();

	CASE_BEGIN("batch: a connection that closes mid-batch is forgotten; full at the cap");
	{
		const char *msg = "{\"type\":\"message\",\"text\":\"where do I park?\"}";
		c1.n = c2.n = 0;
		CHECK(batch_begin(b) == 1);
		batch_count(b, &c1);
		chat_handle(&ctx, &s1, msg, strlen(msg), hold, &h1);
		batch_count(b, &c2);
		chat_handle(&ctx, &s2, msg, strlen(msg), hold, &h2);
		batch_forget(b, &c1);
		for (int i = 1; i < BATCH_MAX_MESSAGES; i++)
			batch_count(b, &c2);
		CHECK(batch_full(b));
		CHECK(batch_end(b, deliver, fail, err, sizeof err) == BATCH_MAX_MESSAGES);
		CHECK(c1.n == 0 && c2.n == 2);
		CHECK(n_events(st, conv1) == 6);           /* its message is stored all the same */
	}
	CASE_END();

	CASE_BEGIN("batch: never inside someone else's transaction");
	CHECK(store_begin(st, err, sizeof err) == 0);
	CHECK(batch_begin(b) == 0 && !batch_is_open(b));
	store_rollback(st);
	CASE_END();

	batch_free(b);
	engine_free(eng);
	store_close(st);
}
