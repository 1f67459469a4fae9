#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chat.h"
#include "harness.h"

int test_open_default(store **st, engine **eng);

static int64_t fake_now;
static int64_t fake_clock(void)
{
	return fake_now;
}

static const char *str_of(const frames *f, size_t i, const char *key)
{
	const char *s = i < f->n ? json_string_value(json_object_get(f->v[i], key)) : NULL;
	return s ? s : "";
}

static void send(chat_ctx *ctx, chat_session *s, frames *f, const char *frame)
{
	frames_clear(f);
	chat_handle(ctx, s, frame, strlen(frame), frames_collect, f);
}

void test_chat(void)
{
	store *st = NULL;
	engine *eng = NULL;
	chat_ctx ctx = { 0 };
	chat_session s = { 0 }, s2 = { 0 };
	frames f = { 0 };
	char token[80], hello[200];
	json_int_t reply_id;

	if (test_open_default(&st, &eng) < 0)
		return;
	ctx.st = st;
	ctx.eng = eng;
	ctx.now_us = fake_clock;
	chat_default_messages(&ctx.msg);
	fake_now = 1000000;

	CASE_BEGIN("chat: message before hello is refused with no_session");
	send(&ctx, &s, &f, "{\"type\":\"message\",\"text\":\"hi\"}");
	CHECK(f.n == 1 && strcmp(frames_type(&f, 0), "error") == 0 &&
	      strcmp(str_of(&f, 0, "code"), "no_session") == 0);
	CASE_END();

	CASE_BEGIN("chat: hello starts a conversation with an unguessable token");
	send(&ctx, &s, &f, "{\"type\":\"hello\"}");
	CHECK(f.n == 1 && strcmp(frames_type(&f, 0), "welcome") == 0);
	CHECK(strlen(str_of(&f, 0, "token")) == 64 && strncmp(str_of(&f, 0, "conversation"), "c_", 2) == 0);
	CHECK(json_array_size(json_object_get(f.v[0], "history")) == 0);
	CHECK(json_is_false(json_object_get(f.v[0], "resumed")));
	snprintf(token, sizeof token, "%s", str_of(&f, 0, "token"));
	CASE_END();

	CASE_BEGIN("chat: a question is acknowledged, then answered from the hours entry");
	fake_now += 2000000;
	send(&ctx, &s, &f, "{\"type\":\"message\",\"text\":\"what are your opening hours?\",\"client_id\":\"c1\"}");
	CHECK(f.n == 2 && strcmp(frames_type(&f, 0), "ack") == 0 && strcmp(str_of(&f, 0, "client_id"), "c1") == 0);
	CHECK(strcmp(frames_type(&f, 1), "answer") == 0 && strncmp(str_of(&f, 1, "entry"), "hours", 5) == 0);
	CHECK(json_integer_value(json_object_get(f.v[1], "reply_to")) ==
	      json_integer_value(json_object_get(f.v[0], "id")));
	reply_id = json_integer_value(json_object_get(f.v[1], "id"));
	CHECK(reply_id > json_integer_value(json_object_get(f.v[0], "id")));
	CASE_END();

	CASE_BEGIN("chat: off-topic is handed off, a person request too, an emergency gets 911");
	send(&ctx, &s, &f, "{\"type\":\"message\",\"text\":\"what is the capital of france\"}");
	CHECK(strcmp(frames_type(&f, 1), "handoff") == 0 && strcmp(str_of(&f, 1, "reason"), "low_confidence") == 0);
	send(&ctx, &s, &f, "{\"type\":\"message\",\"text\":\"can I talk to a real person\"}");
	CHECK(strcmp(frames_type(&f, 1), "handoff") == 0 && strcmp(str_of(&f, 1, "reason"), "asked_for_person") == 0);
	send(&ctx, &s, &f, "{\"type\":\"message\",\"text\":\"I have chest pain\"}");
	CHECK(strcmp(frames_type(&f, 1), "emergency") == 0 && strstr(str_of(&f, 1, "text"), "911"));
	CASE_END();

	CASE_BEGIN("chat: feedback on a reply is stored; on another's reply it is not_found");
	snprintf(hello, sizeof hello, "{\"type\":\"feedback\",\"message\":%lld,\"helpful\":true}", (long long)reply_id);
	send(&ctx, &s, &f, hello);
	CHECK(strcmp(frames_type(&f, 0), "feedback_ok") == 0);
	send(&ctx, &s2, &f, "{\"type\":\"hello\"}");
	send(&ctx, &s2, &f, hello);
	CHECK(strcmp(frames_type(&f, 0), "error") == 0 && strcmp(str_of(&f, 0, "code"), "not_found") == 0);
	CASE_END();

	CASE_BEGIN("chat: resuming with the token replays the history once, in order");
	{
		chat_session s3 = { 0 };
		json_t *h;
		fake_now += 20000000;
		snprintf(hello, sizeof hello, "{\"type\":\"hello\",\"token\":\"%s\"}", token);
		send(&ctx, &s3, &f, hello);
		h = json_object_get(f.v[0], "history");
		CHECK(strcmp(frames_type(&f, 0), "welcome") == 0 && json_is_true(json_object_get(f.v[0], "resumed")));
		CHECK(json_array_size(h) == 8);
		CHECK(strcmp(json_string_value(json_object_get(json_array_get(h, 0), "role")), "patient") == 0);
		CHECK(json_is_true(json_object_get(json_array_get(h, 1), "helpful")));
		CHECK(strcmp(str_of(&f, 0, "status"), "waiting") == 0);
		snprintf(hello, sizeof hello, "{\"type\":\"hello\",\"token\":\"%s\",\"since\":%lld}", token,
			 (long long)reply_id);
		send(&ctx, &s3, &f, hello);
		CHECK(json_array_size(json_object_get(f.v[0], "history")) == 6);
	}
	CASE_END();

	CASE_BEGIN("chat: bad frames get clear errors");
	{
		static const char *const bad[][2] = {
			{ "{oops", "bad_json" }, { "[1,2]", "bad_json" }, { "\"str\"", "bad_json" },
			{ "{\"type\":\"dance\"}", "unknown_type" }, { "{}", "unknown_type" },
			{ "{\"type\":\"message\"}", "missing_field" },
			{ "{\"type\":\"message\",\"text\":5}", "missing_field" },
			{ "{\"type\":\"message\",\"text\":\"  \"}", "empty" },
			{ "{\"type\":\"feedback\",\"message\":\"x\",\"helpful\":true}", "missing_field" },
			{ "{\"type\":\"hello\",\"token\":\"nope\"}", "bad_token" },
			{ "{\"type\":\"hello\",\"token\":7}", "missing_field" },
			{ "{\"type\":\"message\",\"text\":\"a\",\"text\":\"b\"}", "bad_json" },
		};
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			fake_now += 2000000;
			send(&ctx, &s, &f, bad[i][0]);
			CHECKF(f.n == 1 && strcmp(frames_type(&f, 0), "error") == 0 &&
			       strcmp(str_of(&f, 0, "code"), bad[i][1]) == 0,
			       "%s -> %s", bad[i][0], str_of(&f, 0, "code"));
		}
		/* too long */
		static char big[4200];
		int n = snprintf(big, sizeof big, "{\"type\":\"message\",\"text\":\"");
		memset(big + n, 'a', 4050);
		strcpy(big + n + 4050, "\"}");
		send(&ctx, &s, &f, big);
		CHECK(strcmp(str_of(&f, 0, "code"), "too_long") == 0);
		/* and the session still works */
		send(&ctx, &s, &f, "{\"type\":\"message\",\"text\":\"where do I park\"}");
		CHECK(strcmp(frames_type(&f, 0), "ack") == 0);
	}
	CASE_END();

	CASE_BEGIN("chat: a flood is rate limited, then served again after a pause");
	{
		int limited = 0, served = 0;
		fake_now += 60000000;
		for (int i = 0; i < 30; i++) {
			send(&ctx, &s, &f, "{\"type\":\"ping\"}");
			if (strcmp(frames_type(&f, 0), "pong") == 0)
				served++;
			else if (strcmp(str_of(&f, 0, "code"), "rate_limited") == 0)
				limited++;
		}
		CHECK(served == CHAT_BURST && limited == 30 - CHAT_BURST);
		fake_now += 3000000;
		send(&ctx, &s, &f, "{\"type\":\"ping\"}");
		CHECK(strcmp(frames_type(&f, 0), "pong") == 0);
	}
	CASE_END();

	frames_clear(&f);
	engine_free(eng);
	store_close(st);
}
