/* Direct tests of server/desk.c (docs/staff-protocol.md): staff consoles
 * drive desk_staff_handle, patients drive chat_handle with ctx.desk set, and
 * a sink records every frame the desk pushes to other connections (patients
 * by conversation id, and the staff consoles). No sockets.
 *
 * The cases run in order over one store and tell one story: conversations
 * are handed off, queued, claimed, answered, transferred, handed back and
 * resolved; each case says which state it starts from. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "auth.h"
#include "chat.h"
#include "desk.h"
#include "harness.h"
#include "notify.h"

int test_open_default(store **st, engine **eng);

#define PW "correct horse battery"
#define T_WED_0900 1773237600LL /* 2026-03-11 09:00 CDT: open (kb/hours.json) */
#define T_WED_2100 1773280800LL /* 2026-03-11 21:00 CDT: closed */

#define Q_UNSURE "what is the capital of france"
#define Q_PERSON "can I talk to a real person"
#define Q_EMERGENCY "I have chest pain"
#define Q_KNOWN "what are your opening hours?"

/* --- clocks ------------------------------------------------------------------ */

static int64_t wall_now = T_WED_0900;   /* the engine's wall clock (opening hours) */
static int64_t mono_now = 1000000;      /* chat's monotonic clock */

static int64_t wall_clock(void)
{
	return wall_now;
}

static int64_t mono_clock(void)
{
	return mono_now;
}

/* queued_at is wall-clock milliseconds taken inside desk.c (not injectable);
 * a few ms between two handoffs keeps "oldest first" deterministic. */
static void next_ms(void)
{
	struct timespec ts = { 0, 3 * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

/* --- what the sink was given ------------------------------------------------- */

typedef struct sent {
	char conv[STORE_CONV_ID_LEN + 1];   /* "" for staff frames */
	json_t *frame;
} sent;

typedef struct recorder {
	sent *v;
	size_t n, cap;
} recorder;

static recorder to_pat, to_stf;

static void rec_add(recorder *r, const char *conv, const char *frame, size_t len)
{
	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 64;
		sent *v = realloc(r->v, ncap * sizeof *v);
		if (!v)
			return;
		r->v = v;
		r->cap = ncap;
	}
	snprintf(r->v[r->n].conv, sizeof r->v[r->n].conv, "%s", conv ? conv : "");
	r->v[r->n].frame = json_loadb(frame, len, JSON_REJECT_DUPLICATES, NULL);
	r->n++;
}

static void rec_clear(recorder *r)
{
	for (size_t i = 0; i < r->n; i++)
		json_decref(r->v[i].frame);
	r->n = 0;
}

static void rec_free(recorder *r)
{
	rec_clear(r);
	free(r->v);
	r->v = NULL;
	r->cap = 0;
}

static void sink_patients(void *user, const char *conv, const char *frame, size_t len)
{
	(void)user;
	rec_add(&to_pat, conv, frame, len);
}

/* A conversation whose patient is not connected (NULL: all are). */
static const char *gone_conv;

static int sink_has_patient(void *user, const char *conv)
{
	(void)user;
	return !gone_conv || strcmp(conv, gone_conv) != 0;
}

static void sink_staff(void *user, const char *frame, size_t len)
{
	(void)user;
	rec_add(&to_stf, NULL, frame, len);
}

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* Frames conv's patients were sent with this "type" (NULL: any). */
static size_t count_pat(const char *conv, const char *type)
{
	size_t n = 0;
	for (size_t i = 0; i < to_pat.n; i++)
		n += strcmp(to_pat.v[i].conv, conv) == 0 &&
		     (!type || strcmp(jstr(to_pat.v[i].frame, "type"), type) == 0);
	return n;
}

/* The last of them (borrowed), or NULL. */
static json_t *last_pat(const char *conv, const char *type)
{
	for (size_t i = to_pat.n; i-- > 0;)
		if (strcmp(to_pat.v[i].conv, conv) == 0 &&
		    strcmp(jstr(to_pat.v[i].frame, "type"), type) == 0)
			return to_pat.v[i].frame;
	return NULL;
}

/* The position in the last queue frame conv's patients got, 0 without one. */
static json_int_t last_position(const char *conv)
{
	return json_integer_value(json_object_get(last_pat(conv, "queue"), "position"));
}

/* The last {"type":"event"} frame to the consoles for an event of conv of
 * type evtype: the event (borrowed), or NULL. */
static json_t *stf_event(const char *conv, const char *evtype)
{
	for (size_t i = to_stf.n; i-- > 0;) {
		json_t *f = to_stf.v[i].frame, *ev = json_object_get(f, "event");
		if (strcmp(jstr(f, "type"), "event") == 0 && strcmp(jstr(ev, "conversation"), conv) == 0 &&
		    strcmp(jstr(ev, "type"), evtype) == 0)
			return ev;
	}
	return NULL;
}

/* The last queue item pushed to the consoles for conv (borrowed), or NULL. */
static json_t *stf_item(const char *conv)
{
	for (size_t i = to_stf.n; i-- > 0;) {
		json_t *f = to_stf.v[i].frame, *item = json_object_get(f, "item");
		if (strcmp(jstr(f, "type"), "queue") == 0 && strcmp(jstr(item, "conversation"), conv) == 0)
			return item;
	}
	return NULL;
}

static int stf_removed(const char *conv)
{
	for (size_t i = 0; i < to_stf.n; i++)
		if (strcmp(jstr(to_stf.v[i].frame, "type"), "queue") == 0 &&
		    strcmp(jstr(to_stf.v[i].frame, "removed"), conv) == 0)
			return 1;
	return 0;
}

/* The last presence frame's row for login name (borrowed), or NULL; *rows
 * gets the number of rows of that frame. */
static json_t *stf_presence(const char *name, size_t *rows)
{
	*rows = 0;
	for (size_t i = to_stf.n; i-- > 0;) {
		json_t *f = to_stf.v[i].frame, *list = json_object_get(f, "staff");
		if (strcmp(jstr(f, "type"), "presence") != 0)
			continue;
		*rows = json_array_size(list);
		for (size_t k = 0; k < *rows; k++)
			if (strcmp(jstr(json_array_get(list, k), "name"), name) == 0)
				return json_array_get(list, k);
		return NULL;
	}
	return NULL;
}

/* --- the frames one call answers with ----------------------------------------- */

static const char *str_of(const frames *f, size_t i, const char *key)
{
	return i < f->n ? jstr(f->v[i], key) : "";
}

/* One error frame with this code. */
static int is_error(const frames *f, const char *code)
{
	return f->n == 1 && strcmp(frames_type(f, 0), "error") == 0 && strcmp(str_of(f, 0, "code"), code) == 0;
}

/* One ack. */
static int is_ack(const frames *f)
{
	return f->n == 1 && strcmp(frames_type(f, 0), "ack") == 0 && json_integer_value(json_object_get(f->v[0], "id")) > 0;
}

/* --- the fixture -------------------------------------------------------------- */

static struct fixture {
	store *st;
	engine *eng;
	auth *au;
	notify *nt;
	desk *d;
	chat_ctx ctx;
	auth_user maria, joe, ana;
} fx;

typedef struct patient {
	chat_session s;
	frames f;
	char token[STORE_TOKEN_LEN + 1];
	int rc;
} patient;

static void patient_frame(patient *p, const char *frame)
{
	frames_clear(&p->f);
	mono_now += 1000000;
	p->rc = chat_handle(&fx.ctx, &p->s, frame, strlen(frame), frames_collect, &p->f);
}

/* Steals frame. */
static void patient_json(patient *p, json_t *frame)
{
	char *s = json_dumps(frame, JSON_COMPACT);
	patient_frame(p, s ? s : "");
	free(s);
	json_decref(frame);
}

static void patient_say(patient *p, const char *text)
{
	patient_json(p, json_pack("{s:s, s:s}", "type", "message", "text", text));
}

static void patient_hello(patient *p)
{
	memset(&p->s, 0, sizeof p->s);
	patient_frame(p, "{\"type\":\"hello\"}");
	snprintf(p->token, sizeof p->token, "%s", str_of(&p->f, 0, "token"));
}

static const char *conv_of(const patient *p)
{
	return p->s.conv_id;
}

typedef struct console {
	desk_staff s;
	frames f;
	int rc;
} console;

static int console_frame(console *c, const char *frame)
{
	frames_clear(&c->f);
	c->rc = desk_staff_handle(fx.d, &c->s, frame, strlen(frame), frames_collect, &c->f);
	return c->rc;
}

__attribute__((format(printf, 2, 3)))
static int console_send(console *c, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return console_frame(c, buf);
}

/* Steals frame. */
static int console_json(console *c, json_t *frame)
{
	char *s = json_dumps(frame, JSON_COMPACT);
	int rc = console_frame(c, s ? s : "");
	free(s);
	json_decref(frame);
	return rc;
}

static void console_join(console *c, const auth_user *u, int hello)
{
	memset(&c->s, 0, sizeof c->s);
	desk_staff_join(fx.d, &c->s, u);
	if (hello)
		console_send(c, "{\"type\":\"hello\"}");
}

static void console_leave(console *c)
{
	desk_staff_leave(fx.d, &c->s);
	frames_clear(&c->f);
}

static desk_conv state_of(const char *conv)
{
	desk_conv c;
	char err[256];
	if (desk_conv_get(fx.d, conv, &c, err, sizeof err) != 0)
		snprintf(c.status, sizeof c.status, "?");
	return c;
}

static int status_is(const char *conv, const char *status)
{
	return strcmp(state_of(conv).status, status) == 0;
}

/* conv's place in desk_queue_json (1-based; 0 when absent); *item, when
 * asked, gets a new reference to its item (NULL when absent). */
static size_t queue_pos(const char *conv, json_t **item)
{
	char err[256];
	json_t *q = desk_queue_json(fx.d, err, sizeof err), *list = json_object_get(q, "queue");
	size_t pos = 0;
	if (item)
		*item = NULL;
	for (size_t i = 0; i < json_array_size(list); i++)
		if (strcmp(jstr(json_array_get(list, i), "conversation"), conv) == 0) {
			pos = i + 1;
			if (item)
				*item = json_incref(json_array_get(list, i));
			break;
		}
	json_decref(q);
	return pos;
}

static int has_note(const json_t *events, const char *text)
{
	for (size_t i = 0; i < json_array_size(events); i++) {
		json_t *e = json_array_get(events, i);
		if (strcmp(jstr(e, "type"), "note") == 0 && (!text || strcmp(jstr(e, "text"), text) == 0))
			return 1;
	}
	return 0;
}

/* kb/hours.json as the store's opening hours, applied to the engine. */
static int set_hours(int on)
{
	char err[256];
	json_t *j = on ? json_load_file("kb/hours.json", 0, NULL) : NULL;
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int rc = (on && !text) ? -1 : store_meta_set(fx.st, "hours", on ? text : "", err, sizeof err);
	free(text);
	json_decref(j);
	if (rc == 0)
		rc = engine_reload(fx.eng, err, sizeof err);
	return rc;
}

static int fixture_open(void)
{
	static const notify_hook hook = { "http://127.0.0.1:9/hook", NOTIFY_GENERIC };
	desk_sink sink = { NULL, sink_patients, sink_staff, sink_has_patient };
	char err[256];
	auth_user gone;

	if (test_open_default(&fx.st, &fx.eng) < 0)
		return -1;
	engine_set_clock(fx.eng, wall_clock);
	if (auth_open(fx.st, 0, &fx.au, err, sizeof err) < 0 ||
	    auth_user_add(fx.au, "maria", "Maria", AUTH_ROLE_STAFF, PW, err, sizeof err) < 0 ||
	    auth_user_add(fx.au, "joe", "Joe", AUTH_ROLE_STAFF, PW, err, sizeof err) < 0 ||
	    auth_user_add(fx.au, "ana", "Ana", AUTH_ROLE_ADMIN, PW, err, sizeof err) < 0 ||
	    auth_user_add(fx.au, "gone", "Gone", AUTH_ROLE_STAFF, PW, err, sizeof err) < 0 ||
	    auth_user_disable(fx.au, "gone", 1, err, sizeof err) != 0 ||
	    auth_user_get(fx.au, "maria", &fx.maria, err, sizeof err) != 0 ||
	    auth_user_get(fx.au, "joe", &fx.joe, err, sizeof err) != 0 ||
	    auth_user_get(fx.au, "ana", &fx.ana, err, sizeof err) != 0 ||
	    auth_user_get(fx.au, "gone", &gone, err, sizeof err) != 0 || !gone.disabled ||
	    notify_open(fx.st, &hook, 1, "s3cret-for-tests", "https://clinic.example/staff", &fx.nt,
			err, sizeof err) < 0 ||
	    desk_open(fx.st, fx.eng, fx.au, fx.nt, &sink, &fx.d, err, sizeof err) < 0) {
		fprintf(stderr, "  desk fixture: %s\n", err);
		return -1;
	}
	fx.ctx.st = fx.st;
	fx.ctx.eng = fx.eng;
	fx.ctx.desk = fx.d;
	fx.ctx.now_us = mono_clock;
	chat_default_messages(&fx.ctx.msg);
	return 0;
}

static void fixture_close(void)
{
	desk_close(fx.d);
	notify_close(fx.nt);
	auth_close(fx.au);
	engine_free(fx.eng);
	store_close(fx.st);
	rec_free(&to_pat);
	rec_free(&to_stf);
	memset(&fx, 0, sizeof fx);
}

/* --- the cases ---------------------------------------------------------------- */

void test_desk(void)
{
	console cm = { 0 }, cm2 = { 0 }, cj = { 0 }, ca = { 0 }, cx = { 0 };
	patient pn = { 0 }, pc = { 0 }, pt = { 0 }, p1 = { 0 }, p2 = { 0 }, p3 = { 0 }, p4 = { 0 };
	char err[256];
	int64_t rows;

	CASE_BEGIN("desk: opens over a store with the KB, two staff, an admin and a disabled account");
	CHECK(fixture_open() == 0);
	CASE_END();
	if (!fx.d) {
		fixture_close();
		return;
	}
	wall_now = T_WED_0900;

	CASE_BEGIN("desk: availability: nobody online, someone online, closed hours, no hours set");
	{
		json_t *row;
		size_t n;
		CHECK(desk_online_count(fx.d) == 0 && desk_available(fx.d) == DESK_NOBODY);
		console_join(&cm, &fx.maria, 0);
		row = stf_presence("maria", &n);
		CHECK(row && n == 1 && strcmp(jstr(row, "status"), "online") == 0 &&
		      strcmp(jstr(row, "display"), "Maria") == 0);
		CHECK(desk_online_count(fx.d) == 1 && desk_available(fx.d) == DESK_AVAILABLE);
		/* a second tab of the same account is one person, one row */
		console_join(&cm2, &fx.maria, 0);
		CHECK(desk_online_count(fx.d) == 1);
		CHECK(stf_presence("maria", &n) && n == 1);
		console_leave(&cm2);
		console_leave(&cm2); /* twice: harmless */
		CHECK(desk_online_count(fx.d) == 1);
		/* Wednesday 21:00: closed, even with someone online */
		wall_now = T_WED_2100;
		CHECK(desk_available(fx.d) == DESK_CLOSED);
		/* without opening hours the desk is never closed */
		CHECK(set_hours(0) == 0 && engine_hours(fx.eng) == NULL);
		CHECK(desk_available(fx.d) == DESK_AVAILABLE);
		CHECK(set_hours(1) == 0 && engine_hours(fx.eng) != NULL);
		CHECK(desk_available(fx.d) == DESK_CLOSED);
		wall_now = T_WED_0900;
		CHECK(desk_available(fx.d) == DESK_AVAILABLE);
		rec_clear(&to_stf);
		console_leave(&cm);
		CHECK(stf_presence("maria", &n) == NULL && n == 0);
		CHECK(desk_online_count(fx.d) == 0 && desk_available(fx.d) == DESK_NOBODY);
		/* a console that never joined can leave without harm */
		desk_staff_leave(fx.d, &cx.s);
		CHECK(desk_online_count(fx.d) == 0);
	}
	CASE_END();

	CASE_BEGIN("desk: a handoff with nobody online or after hours offers to leave a message");
	rows = notify_pending(fx.nt);
	patient_hello(&pn);
	patient_say(&pn, Q_UNSURE);
	CHECK(pn.f.n == 2 && strcmp(frames_type(&pn.f, 0), "ack") == 0 && strcmp(frames_type(&pn.f, 1), "handoff") == 0);
	CHECK(json_is_true(json_object_get(pn.f.v[1], "nobody_online")) &&
	      json_is_true(json_object_get(pn.f.v[1], "leave_message")) &&
	      !json_object_get(pn.f.v[1], "after_hours"));
	CHECK(strstr(str_of(&pn.f, 1, "text"), "can't join the chat right now") != NULL);
	CHECK(status_is(conv_of(&pn), "waiting") && queue_pos(conv_of(&pn), NULL) == 1);
	CHECK(notify_pending(fx.nt) == rows + 1);
	next_ms();
	wall_now = T_WED_2100;
	patient_hello(&pc);
	patient_say(&pc, Q_UNSURE);
	CHECK(pc.f.n == 2 && strcmp(frames_type(&pc.f, 1), "handoff") == 0);
	CHECK(json_is_true(json_object_get(pc.f.v[1], "after_hours")) &&
	      json_is_true(json_object_get(pc.f.v[1], "leave_message")) &&
	      !json_object_get(pc.f.v[1], "nobody_online"));
	CHECK(strstr(str_of(&pc.f, 1, "text"), "closed right now") != NULL);
	CHECK(json_is_false(json_object_get(last_pat(conv_of(&pc), "queue"), "open")));
	CHECK(notify_pending(fx.nt) == rows + 2);
	wall_now = T_WED_0900;
	CASE_END();

	CASE_BEGIN("desk: leave_message: missing or bad fields are refused, a good one becomes a ticket");
	{
		static const char *const bad[] = {
			"{\"type\":\"leave_message\"}",
			"{\"type\":\"leave_message\",\"name\":\"Ann Lee\",\"contact\":\"555-0100\"}",
			"{\"type\":\"leave_message\",\"name\":\"Ann Lee\",\"text\":\"call me\"}",
			"{\"type\":\"leave_message\",\"contact\":\"555-0100\",\"text\":\"call me\"}",
			"{\"type\":\"leave_message\",\"name\":\"  \",\"contact\":\"555-0100\",\"text\":\"call me\"}",
			"{\"type\":\"leave_message\",\"name\":5,\"contact\":\"555-0100\",\"text\":\"call me\"}",
			"{\"type\":\"leave_message\",\"name\":\"Ann\",\"contact\":\"555-0100\",\"text\":\"\"}",
		};
		char contact[202];
		json_t *item = NULL, *ticket;
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			patient_frame(&pc, bad[i]);
			CHECKF(is_error(&pc.f, "missing_field") && pc.rc == -1, "%s -> %s", bad[i],
			       str_of(&pc.f, 0, "code"));
		}
		memset(contact, '5', 201);
		contact[201] = '\0';
		patient_json(&pc, json_pack("{s:s, s:s, s:s, s:s}", "type", "leave_message", "name", "Ann",
					    "contact", contact, "text", "call me"));
		CHECK(is_error(&pc.f, "missing_field"));
		CHECK(status_is(conv_of(&pc), "waiting"));

		rows = notify_pending(fx.nt);
		patient_frame(&pc, "{\"type\":\"leave_message\",\"name\":\"Ann Lee\",\"contact\":\"ann@example.com\","
			      "\"text\":\"Please call me about my bill\"}");
		CHECK(pc.rc == 0 && pc.f.n == 1 && strcmp(frames_type(&pc.f, 0), "ticket_ok") == 0 &&
		      json_integer_value(json_object_get(pc.f.v[0], "id")) > 0);
		CHECK(status_is(conv_of(&pc), "ticket"));
		CHECK(queue_pos(conv_of(&pc), &item) > 0);
		ticket = json_object_get(item, "ticket");
		CHECK(strcmp(jstr(item, "status"), "ticket") == 0);
		CHECK(strcmp(jstr(ticket, "name"), "Ann Lee") == 0 &&
		      strcmp(jstr(ticket, "contact"), "ann@example.com") == 0 &&
		      strcmp(jstr(ticket, "text"), "Please call me about my bill") == 0);
		/* it was already queued: no second notification */
		CHECK(notify_pending(fx.nt) == rows);
		json_decref(item);

		/* from a chat the bot was handling, a message enters the queue itself */
		patient_hello(&pt);
		patient_frame(&pt, "{\"type\":\"leave_message\",\"name\":\"Bo\",\"contact\":\"555-0199\","
			      "\"text\":\"Is my lab result in?\"}");
		CHECK(strcmp(frames_type(&pt.f, 0), "ticket_ok") == 0);
		CHECK(status_is(conv_of(&pt), "ticket") && queue_pos(conv_of(&pt), &item) > 0);
		CHECK(strcmp(jstr(item, "reason"), "ticket") == 0);
		CHECK(notify_pending(fx.nt) == rows + 1);
		json_decref(item);
		/* An emergency in a ticket nobody has taken flags it (first in the
		 * queue) and notifies again: nobody is with that patient. */
		patient_say(&pt, Q_EMERGENCY);
		CHECK(strcmp(frames_type(&pt.f, 1), "emergency") == 0);
		CHECK(queue_pos(conv_of(&pt), &item) == 1 && json_is_true(json_object_get(item, "emergency")));
		CHECK(notify_pending(fx.nt) == rows + 2);
		json_decref(item);
	}
	CASE_END();

	CASE_BEGIN("desk: staff frames before hello, bad JSON, unknown types and bad fields get errors");
	{
		static const char *const bad[][2] = {
			{ "{oops", "bad_json" }, { "[1,2]", "bad_json" }, { "\"str\"", "bad_json" }, { "", "bad_json" },
			{ "{\"type\":\"claim\",\"conversation\":\"a\",\"conversation\":\"b\"}", "bad_json" },
			{ "{}", "unknown_type" }, { "{\"type\":7}", "unknown_type" },
			{ "{\"type\":\"dance\"}", "unknown_type" },
			{ "{\"type\":\"claim\"}", "missing_field" },
			{ "{\"type\":\"claim\",\"conversation\":5}", "missing_field" },
			{ "{\"type\":\"claim\",\"conversation\":\"c_nope\"}", "not_found" },
			{ "{\"type\":\"open\",\"conversation\":\"c_nope\"}", "not_found" },
			{ "{\"type\":\"open\"}", "missing_field" },
			{ "{\"type\":\"reply\",\"conversation\":\"c_nope\",\"text\":\"hi\"}", "not_found" },
			{ "{\"type\":\"transfer\",\"conversation\":\"c_nope\",\"to\":\"joe\"}", "not_found" },
			{ "{\"type\":\"resolve\",\"conversation\":\"c_nope\"}", "not_found" },
			{ "{\"type\":\"presence\",\"status\":\"busy\"}", "missing_field" },
			{ "{\"type\":\"presence\"}", "missing_field" },
			{ "{\"type\":\"hello\",\"since\":\"x\"}", "missing_field" },
		};
		static const char *const before_hello[] = {
			"{\"type\":\"claim\",\"conversation\":\"c_nope\"}", "{\"type\":\"open\",\"conversation\":\"x\"}",
			"{\"type\":\"presence\",\"status\":\"away\"}", "{\"type\":\"dance\"}",
		};
		console_join(&cx, &fx.joe, 0);
		for (size_t i = 0; i < sizeof before_hello / sizeof before_hello[0]; i++) {
			console_frame(&cx, before_hello[i]);
			CHECKF(is_error(&cx.f, "no_session") && cx.rc == -1 &&
			       cx.s.last_error && strcmp(cx.s.last_error, "no_session") == 0,
			       "%s -> %s", before_hello[i], str_of(&cx.f, 0, "code"));
		}
		console_frame(&cx, "{\"type\":\"ping\"}");
		CHECK(cx.rc == 0 && cx.f.n == 1 && strcmp(frames_type(&cx.f, 0), "pong") == 0 && !cx.s.last_error);
		console_frame(&cx, "{\"type\":\"hello\"}");
		CHECK(cx.rc == 0 && cx.f.n == 1 && strcmp(frames_type(&cx.f, 0), "welcome") == 0);
		if (cx.f.n == 1) {
			json_t *w = cx.f.v[0], *u = json_object_get(w, "user");
			CHECK(strcmp(jstr(u, "name"), "joe") == 0 && strcmp(jstr(u, "display"), "Joe") == 0 &&
			      strcmp(jstr(u, "role"), "staff") == 0);
			CHECK(json_array_size(json_object_get(w, "queue")) == 3); /* pn, pc, pt */
			CHECK(json_array_size(json_object_get(w, "staff")) == 1);
			CHECK(json_integer_value(json_object_get(w, "last_event")) > 0);
			CHECK(json_is_array(json_object_get(w, "missed")) &&
			      json_array_size(json_object_get(w, "missed")) == 0);
		}
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			console_frame(&cx, bad[i][0]);
			CHECKF(is_error(&cx.f, bad[i][1]) && cx.rc == -1 && cx.s.last_error &&
			       strcmp(cx.s.last_error, bad[i][1]) == 0,
			       "%s -> %s", bad[i][0], str_of(&cx.f, 0, "code"));
		}
		/* the console still works */
		console_frame(&cx, "{\"type\":\"ping\"}");
		CHECK(cx.rc == 0 && strcmp(frames_type(&cx.f, 0), "pong") == 0);
	}
	CASE_END();

	CASE_BEGIN("desk: hello with since replays the desk's events after it, once, in id order");
	{
		json_int_t since = 0, last = 0, prev = 0;
		json_t *missed;
		int ok = 1;
		console_frame(&cx, "{\"type\":\"hello\"}");
		last = json_integer_value(json_object_get(cx.f.v[0], "last_event"));
		/* everything since the first event of pc (its own queue history) */
		console_send(&cx, "{\"type\":\"open\",\"conversation\":\"%s\"}", conv_of(&pc));
		CHECK(strcmp(frames_type(&cx.f, 0), "transcript") == 0);
		since = json_integer_value(json_object_get(json_array_get(json_object_get(cx.f.v[0], "events"), 0), "id"));
		console_send(&cx, "{\"type\":\"hello\",\"since\":%lld}", (long long)since);
		missed = json_object_get(cx.f.v[0], "missed");
		CHECK(json_array_size(missed) > 0);
		for (size_t i = 0; i < json_array_size(missed); i++) {
			json_t *e = json_array_get(missed, i);
			json_int_t id = json_integer_value(json_object_get(e, "id"));
			ok &= id > since && id > prev && id <= last && jstr(e, "conversation")[0] != '\0';
			prev = id;
		}
		CHECK(ok);
		CHECK(prev == last);
	}
	CASE_END();

	CASE_BEGIN("desk: an unclaimed chat or ticket may be resolved by anyone");
	console_join(&cm, &fx.maria, 1);
	CHECK(strcmp(frames_type(&cm.f, 0), "welcome") == 0);
	rec_clear(&to_pat);
	rec_clear(&to_stf);
	CHECK(console_send(&cm, "{\"type\":\"resolve\",\"conversation\":\"%s\"}", conv_of(&pn)) == 0 && is_ack(&cm.f));
	CHECK(console_send(&cm, "{\"type\":\"resolve\",\"conversation\":\"%s\"}", conv_of(&pc)) == 0 && is_ack(&cm.f));
	CHECK(console_send(&cx, "{\"type\":\"resolve\",\"conversation\":\"%s\"}", conv_of(&pt)) == 0 && is_ack(&cx.f));
	CHECK(status_is(conv_of(&pn), "resolved") && status_is(conv_of(&pc), "resolved") &&
	      status_is(conv_of(&pt), "resolved"));
	CHECK(queue_pos(conv_of(&pn), NULL) == 0 && queue_pos(conv_of(&pc), NULL) == 0 &&
	      queue_pos(conv_of(&pt), NULL) == 0);
	CHECK(stf_removed(conv_of(&pn)) && stf_removed(conv_of(&pc)) && stf_removed(conv_of(&pt)));
	CHECK(count_pat(conv_of(&pn), "resolved") == 1 &&
	      strcmp(jstr(last_pat(conv_of(&pn), "resolved"), "text"),
		     "Maria closed this chat. If you need anything else, just write here.") == 0);
	/* resolved twice: refused */
	console_send(&cm, "{\"type\":\"resolve\",\"conversation\":\"%s\"}", conv_of(&pn));
	CHECK(is_error(&cm.f, "resolved"));
	console_leave(&cx);
	CASE_END();

	/* From here: maria (cm) and joe (cj) online, started. */
	console_join(&cj, &fx.joe, 1);

	CASE_BEGIN("desk: a handoff enters the queue with its reason, questions and the bot's confidence");
	{
		json_t *item = NULL, *bot, *qs, *pos;
		double conf, diff;
		rows = notify_pending(fx.nt);
		rec_clear(&to_pat);
		rec_clear(&to_stf);
		patient_hello(&p1);
		patient_say(&p1, Q_UNSURE);
		CHECK(p1.f.n == 2 && strcmp(frames_type(&p1.f, 1), "handoff") == 0 &&
		      strcmp(str_of(&p1.f, 1, "reason"), "low_confidence") == 0);
		CHECK(!json_object_get(p1.f.v[1], "nobody_online") && !json_object_get(p1.f.v[1], "after_hours"));
		conf = json_number_value(json_object_get(p1.f.v[1], "confidence"));
		CHECK(status_is(conv_of(&p1), "waiting"));
		CHECK(queue_pos(conv_of(&p1), &item) == 1);
		bot = json_object_get(item, "bot");
		qs = json_object_get(item, "questions");
		CHECK(strcmp(jstr(item, "status"), "waiting") == 0 && strcmp(jstr(item, "reason"), "low_confidence") == 0);
		CHECK(json_is_false(json_object_get(item, "emergency")) && json_is_null(json_object_get(item, "owner")));
		CHECK(strcmp(jstr(item, "lang"), "en") == 0 && strlen(jstr(item, "queued_at")) == 20);
		CHECK(json_array_size(qs) == 1 && strcmp(json_string_value(json_array_get(qs, 0)), Q_UNSURE) == 0);
		CHECK(json_is_number(json_object_get(bot, "confidence")));
		diff = json_number_value(json_object_get(bot, "confidence")) - conf;
		CHECK(conf >= 0 && conf <= 1 && diff < 1e-9 && diff > -1e-9);
		CHECK(strcmp(jstr(bot, "reason"), "low_confidence") == 0 && json_is_array(json_object_get(bot, "tried")));
		CHECK(json_is_null(json_object_get(item, "ticket")));
		CHECK(json_integer_value(json_object_get(item, "last_event")) ==
		      json_integer_value(json_object_get(p1.f.v[1], "id")));
		json_decref(item);
		/* the waiting patient is told their place; the consoles get the item and both events */
		pos = last_pat(conv_of(&p1), "queue");
		CHECK(json_integer_value(json_object_get(pos, "position")) == 1 &&
		      json_integer_value(json_object_get(pos, "staff_online")) == 2 &&
		      json_is_true(json_object_get(pos, "open")));
		CHECK(stf_item(conv_of(&p1)) != NULL);
		CHECK(stf_event(conv_of(&p1), "message") != NULL && stf_event(conv_of(&p1), "handoff") != NULL);
		CHECK(notify_pending(fx.nt) == rows + 1);
	}
	CASE_END();

	CASE_BEGIN("desk: emergencies go first; waiting patients are told their place as it changes");
	{
		json_t *item = NULL;
		next_ms();
		patient_hello(&p2);
		patient_say(&p2, Q_PERSON);
		CHECK(strcmp(frames_type(&p2.f, 1), "handoff") == 0 && strcmp(str_of(&p2.f, 1, "reason"), "asked_for_person") == 0);
		CHECK(last_position(conv_of(&p2)) == 2 && last_position(conv_of(&p1)) == 1);
		next_ms();
		patient_hello(&p3);
		patient_say(&p3, Q_EMERGENCY);
		CHECK(strcmp(frames_type(&p3.f, 1), "emergency") == 0 && strstr(str_of(&p3.f, 1, "text"), "911"));
		CHECK(queue_pos(conv_of(&p3), &item) == 1 && queue_pos(conv_of(&p1), NULL) == 2 &&
		      queue_pos(conv_of(&p2), NULL) == 3);
		CHECK(strcmp(jstr(item, "reason"), "emergency") == 0 && json_is_true(json_object_get(item, "emergency")));
		json_decref(item);
		CHECK(last_position(conv_of(&p3)) == 1 && last_position(conv_of(&p1)) == 2 &&
		      last_position(conv_of(&p2)) == 3);
		CHECK(notify_pending(fx.nt) == rows + 3);

		/* another unsure question while queued: "added for the team", same place, no new webhook */
		patient_say(&p1, "what is the capital of peru");
		CHECK(strcmp(frames_type(&p1.f, 1), "handoff") == 0 &&
		      strstr(str_of(&p1.f, 1, "text"), "added that to your conversation") != NULL);
		CHECK(queue_pos(conv_of(&p1), &item) == 2 && json_array_size(json_object_get(item, "questions")) == 2);
		json_decref(item);
		CHECK(notify_pending(fx.nt) == rows + 3);

		/* a patient reconnecting while waiting gets the place after the welcome */
		{
			patient again = { 0 };
			char hello[200];
			snprintf(hello, sizeof hello, "{\"type\":\"hello\",\"token\":\"%s\"}", p2.token);
			patient_frame(&again, hello);
			CHECK(again.f.n == 2 && strcmp(frames_type(&again.f, 0), "welcome") == 0 &&
			      strcmp(frames_type(&again.f, 1), "queue") == 0 &&
			      json_integer_value(json_object_get(again.f.v[1], "position")) == 3);
			frames_clear(&again.f);
		}

		/* the emergency is claimed: the others move up; one whose patient
		 * is not connected is not told (a frame for nobody), and hears the
		 * new place on coming back */
		rec_clear(&to_pat);
		gone_conv = conv_of(&p2);
		CHECK(console_send(&cm, "{\"type\":\"claim\",\"conversation\":\"%s\"}", conv_of(&p3)) == 0 && is_ack(&cm.f));
		gone_conv = NULL;
		CHECK(last_position(conv_of(&p1)) == 1 && count_pat(conv_of(&p2), "queue") == 0);
		CHECK(count_pat(conv_of(&p3), "queue") == 0);
		{
			patient again = { 0 };
			char hello[200];
			snprintf(hello, sizeof hello, "{\"type\":\"hello\",\"token\":\"%s\"}", p2.token);
			patient_frame(&again, hello);
			CHECK(again.f.n == 2 && strcmp(frames_type(&again.f, 1), "queue") == 0 &&
			      json_integer_value(json_object_get(again.f.v[1], "position")) == 2);
			frames_clear(&again.f);
		}
		CHECK(queue_pos(conv_of(&p3), NULL) == 1); /* still on the desk, owned */
	}
	CASE_END();

	CASE_BEGIN("desk: one owner at a time; a chat the bot is handling cannot be claimed");
	{
		json_t *ev = last_pat(conv_of(&p3), "claimed"), *item = NULL;
		CHECK(status_is(conv_of(&p3), "owned") && state_of(conv_of(&p3)).owner_id == fx.maria.id);
		CHECK(ev && strcmp(jstr(ev, "role"), "system") == 0 && strcmp(jstr(ev, "name"), "Maria") == 0 &&
		      strcmp(jstr(ev, "text"), "Maria from our front desk joined the chat.") == 0);
		CHECK(console_send(&cj, "{\"type\":\"claim\",\"conversation\":\"%s\"}", conv_of(&p3)) == -1);
		CHECK(is_error(&cj.f, "already_claimed") && strstr(str_of(&cj.f, 0, "message"), "Maria") != NULL);
		console_send(&cm, "{\"type\":\"claim\",\"conversation\":\"%s\"}", conv_of(&p3));
		CHECK(is_error(&cm.f, "already_claimed"));
		CHECK(state_of(conv_of(&p3)).owner_id == fx.maria.id);
		queue_pos(conv_of(&p3), &item);
		CHECK(strcmp(jstr(json_object_get(item, "owner"), "name"), "maria") == 0 &&
		      strcmp(jstr(item, "status"), "owned") == 0);
		json_decref(item);

		rec_clear(&to_pat);
		CHECK(console_send(&cj, "{\"type\":\"claim\",\"conversation\":\"%s\"}", conv_of(&p1)) == 0 && is_ack(&cj.f));
		CHECK(state_of(conv_of(&p1)).owner_id == fx.joe.id);
		CHECK(strcmp(jstr(last_pat(conv_of(&p1), "claimed"), "name"), "Joe") == 0);
		CHECK(last_position(conv_of(&p2)) == 1);

		patient_hello(&p4);
		patient_say(&p4, Q_KNOWN);
		CHECK(strcmp(frames_type(&p4.f, 1), "answer") == 0 && status_is(conv_of(&p4), "bot"));
		console_send(&cj, "{\"type\":\"claim\",\"conversation\":\"%s\"}", conv_of(&p4));
		CHECK(is_error(&cj.f, "not_found") && status_is(conv_of(&p4), "bot"));
	}
	CASE_END();

	/* From here: p1 owned by joe, p2 waiting, p3 (emergency) owned by maria, p4 with the bot. */

	CASE_BEGIN("desk: replies: only the owner, with text of 1..4000 characters; the patient sees them");
	{
		static const struct { const char *text; const char *code; } bad[] = {
			{ "", "empty" }, { "   \n\t", "empty" },
		};
		json_t *ev;
		char *big = malloc(4001 * 2 + 1);
		console_send(&cm, "{\"type\":\"reply\",\"conversation\":\"%s\",\"text\":\"hello\"}", conv_of(&p1));
		CHECK(is_error(&cm.f, "not_owner") && strstr(str_of(&cm.f, 0, "message"), "Joe owns this chat"));
		console_send(&cm, "{\"type\":\"reply\",\"conversation\":\"%s\",\"text\":\"hello\"}", conv_of(&p2));
		CHECK(is_error(&cm.f, "not_owner"));
		console_send(&cj, "{\"type\":\"reply\",\"conversation\":\"%s\"}", conv_of(&p1));
		CHECK(is_error(&cj.f, "missing_field"));
		console_send(&cj, "{\"type\":\"reply\",\"conversation\":\"%s\",\"text\":7}", conv_of(&p1));
		CHECK(is_error(&cj.f, "missing_field"));
		console_send(&cj, "{\"type\":\"reply\",\"conversation\":\"%s\",\"text\":\"x\",\"client_id\":[]}", conv_of(&p1));
		CHECK(is_error(&cj.f, "missing_field"));
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			console_json(&cj, json_pack("{s:s, s:s, s:s}", "type", "reply", "conversation", conv_of(&p1),
						    "text", bad[i].text));
			CHECKF(is_error(&cj.f, bad[i].code), "\"%s\" -> %s", bad[i].text, str_of(&cj.f, 0, "code"));
		}
		if (big) {
			/* 4001 characters: too long; 4000 two-byte characters: fine (characters, not bytes) */
			memset(big, 'a', 4001);
			big[4001] = '\0';
			console_json(&cj, json_pack("{s:s, s:s, s:s}", "type", "reply", "conversation", conv_of(&p1),
						    "text", big));
			CHECK(is_error(&cj.f, "too_long"));
			for (size_t i = 0; i < 4000; i++)
				memcpy(big + 2 * i, "\xc3\xa9", 2);
			big[8000] = '\0';
			console_json(&cj, json_pack("{s:s, s:s, s:s}", "type", "reply", "conversation", conv_of(&p1),
						    "text", big));
			CHECK(is_ack(&cj.f));
			free(big);
		}
		rec_clear(&to_pat);
		rec_clear(&to_stf);
		CHECK(console_send(&cj, "{\"type\":\"reply\",\"conversation\":\"%s\",\"text\":\"Hi, this is Joe.\","
				   "\"client_id\":\"r1\"}", conv_of(&p1)) == 0);
		CHECK(is_ack(&cj.f) && strcmp(str_of(&cj.f, 0, "client_id"), "r1") == 0);
		ev = last_pat(conv_of(&p1), "message");
		CHECK(count_pat(conv_of(&p1), NULL) == 1);
		CHECK(ev && strcmp(jstr(ev, "role"), "staff") == 0 && strcmp(jstr(ev, "name"), "Joe") == 0 &&
		      strcmp(jstr(ev, "text"), "Hi, this is Joe.") == 0 &&
		      json_integer_value(json_object_get(ev, "id")) == json_integer_value(json_object_get(cj.f.v[0], "id")));
		/* The patient sees the display name, never the login name: that
		 * would be half a credential for /login. */
		CHECK(json_object_get(ev, "by") == NULL && json_object_get(ev, "to") == NULL);
		CHECK(stf_event(conv_of(&p1), "message") != NULL && stf_item(conv_of(&p1)) != NULL);
		/* and it is in the patient's history */
		{
			json_t *h = store_events_since(fx.st, conv_of(&p1), 0, err, sizeof err);
			json_t *last = json_array_get(h, json_array_size(h) - 1);
			CHECK(strcmp(jstr(last, "role"), "staff") == 0 && strcmp(jstr(last, "text"), "Hi, this is Joe.") == 0);
			json_decref(h);
		}
	}
	CASE_END();

	CASE_BEGIN("desk: notes reach the consoles and the transcript, never the patient");
	{
		json_t *h, *t, *ev;
		rec_clear(&to_pat);
		rec_clear(&to_stf);
		/* anyone on the desk may note, owner or not */
		CHECK(console_send(&cm, "{\"type\":\"note\",\"conversation\":\"%s\",\"text\":\"Insurance: BlueCross\"}",
				   conv_of(&p1)) == 0 && is_ack(&cm.f));
		CHECK(console_send(&cj, "{\"type\":\"note\",\"conversation\":\"%s\",\"text\":\"asked twice\"}",
				   conv_of(&p2)) == 0 && is_ack(&cj.f));
		console_send(&cj, "{\"type\":\"note\",\"conversation\":\"%s\",\"text\":\"  \"}", conv_of(&p1));
		CHECK(is_error(&cj.f, "empty"));
		CHECK(count_pat(conv_of(&p1), NULL) == 0 && count_pat(conv_of(&p2), NULL) == 0);
		ev = stf_event(conv_of(&p1), "note");
		CHECK(ev && strcmp(jstr(ev, "text"), "Insurance: BlueCross") == 0 && strcmp(jstr(ev, "by"), "maria") == 0);
		h = store_events_since(fx.st, conv_of(&p1), 0, err, sizeof err);
		CHECK(h && json_array_size(h) > 0 && !has_note(h, NULL));
		json_decref(h);
		t = desk_conversation_json(fx.d, conv_of(&p1), err, sizeof err);
		CHECK(t && has_note(json_object_get(t, "events"), "Insurance: BlueCross"));
		CHECK(strcmp(jstr(json_object_get(t, "item"), "status"), "owned") == 0);
		json_decref(t);
		console_send(&cm, "{\"type\":\"open\",\"conversation\":\"%s\"}", conv_of(&p1));
		CHECK(strcmp(frames_type(&cm.f, 0), "transcript") == 0 &&
		      has_note(json_object_get(cm.f.v[0], "events"), "Insurance: BlueCross"));
		/* nor in the history a reconnecting patient is given */
		{
			patient again = { 0 };
			char hello[200];
			snprintf(hello, sizeof hello, "{\"type\":\"hello\",\"token\":\"%s\"}", p1.token);
			patient_frame(&again, hello);
			CHECK(strcmp(frames_type(&again.f, 0), "welcome") == 0 &&
			      json_array_size(json_object_get(again.f.v[0], "history")) > 0 &&
			      !has_note(json_object_get(again.f.v[0], "history"), NULL));
			CHECK(again.f.n == 1); /* owned: no queue place */
			frames_clear(&again.f);
		}
	}
	CASE_END();

	CASE_BEGIN("desk: while a person owns the chat the bot is quiet, except for emergencies");
	{
		json_t *item = NULL;
		int64_t before = notify_pending(fx.nt);
		rec_clear(&to_stf);
		patient_say(&p1, Q_KNOWN);
		CHECK(p1.rc == 0 && p1.f.n == 1 && strcmp(frames_type(&p1.f, 0), "ack") == 0);
		CHECK(stf_event(conv_of(&p1), "message") != NULL);
		patient_say(&p1, Q_UNSURE);
		CHECK(p1.f.n == 1 && strcmp(frames_type(&p1.f, 0), "ack") == 0);
		patient_say(&p1, Q_EMERGENCY);
		CHECK(p1.f.n == 2 && strcmp(frames_type(&p1.f, 1), "emergency") == 0);
		CHECK(status_is(conv_of(&p1), "owned") && state_of(conv_of(&p1)).owner_id == fx.joe.id);
		CHECK(queue_pos(conv_of(&p1), &item) > 0 && json_is_true(json_object_get(item, "emergency")));
		json_decref(item);
		CHECK(notify_pending(fx.nt) == before); /* a person is already there */
	}
	CASE_END();

	CASE_BEGIN("desk: while a chat waits, the bot still answers what it knows");
	patient_say(&p2, Q_KNOWN);
	CHECK(p2.f.n == 2 && strcmp(frames_type(&p2.f, 0), "ack") == 0 && strcmp(frames_type(&p2.f, 1), "answer") == 0 &&
	      strncmp(str_of(&p2.f, 1, "entry"), "hours", 5) == 0);
	CHECK(status_is(conv_of(&p2), "waiting") && queue_pos(conv_of(&p2), NULL) > 0);
	CASE_END();

	CASE_BEGIN("desk: typing: the owner's reaches the patient, the patient's reaches the consoles");
	rec_clear(&to_pat);
	rec_clear(&to_stf);
	CHECK(console_send(&cj, "{\"type\":\"typing\",\"conversation\":\"%s\",\"typing\":true}", conv_of(&p1)) == 0);
	CHECK(cj.f.n == 0);
	CHECK(strcmp(jstr(last_pat(conv_of(&p1), "typing"), "name"), "Joe") == 0 &&
	      json_is_true(json_object_get(last_pat(conv_of(&p1), "typing"), "typing")));
	console_send(&cm, "{\"type\":\"typing\",\"conversation\":\"%s\",\"typing\":true}", conv_of(&p1));
	CHECK(is_error(&cm.f, "not_owner") && count_pat(conv_of(&p1), "typing") == 1);
	patient_frame(&p1, "{\"type\":\"typing\",\"typing\":true}");
	CHECK(p1.f.n == 0 && to_stf.n == 1 && strcmp(jstr(to_stf.v[0].frame, "type"), "patient_typing") == 0 &&
	      strcmp(jstr(to_stf.v[0].frame, "conversation"), conv_of(&p1)) == 0);
	CASE_END();

	CASE_BEGIN("desk: transfer: to an enabled account only, by the owner or an admin");
	{
		json_t *ev;
		console_join(&ca, &fx.ana, 1);
		console_send(&cm, "{\"type\":\"transfer\",\"conversation\":\"%s\"}", conv_of(&p3));
		CHECK(is_error(&cm.f, "missing_field"));
		console_send(&cj, "{\"type\":\"transfer\",\"conversation\":\"%s\",\"to\":\"joe\"}", conv_of(&p3));
		CHECK(is_error(&cj.f, "not_owner"));
		console_send(&cm, "{\"type\":\"transfer\",\"conversation\":\"%s\",\"to\":\"nobody\"}", conv_of(&p3));
		CHECK(is_error(&cm.f, "no_such_user"));
		console_send(&cm, "{\"type\":\"transfer\",\"conversation\":\"%s\",\"to\":\"gone\"}", conv_of(&p3));
		CHECK(is_error(&cm.f, "no_such_user"));
		console_send(&cm, "{\"type\":\"transfer\",\"conversation\":\"%s\",\"to\":\"maria\"}", conv_of(&p3));
		CHECK(is_error(&cm.f, "already_claimed"));
		console_send(&cm, "{\"type\":\"transfer\",\"conversation\":\"%s\",\"to\":\"joe\"}", conv_of(&p2));
		CHECK(is_error(&cm.f, "not_owner")); /* waiting: nobody's to give */
		CHECK(state_of(conv_of(&p3)).owner_id == fx.maria.id);

		rec_clear(&to_pat);
		CHECK(console_send(&cm, "{\"type\":\"transfer\",\"conversation\":\"%s\",\"to\":\"joe\"}", conv_of(&p3)) == 0 &&
		      is_ack(&cm.f));
		CHECK(status_is(conv_of(&p3), "owned") && state_of(conv_of(&p3)).owner_id == fx.joe.id);
		ev = last_pat(conv_of(&p3), "transferred");
		CHECK(ev && strcmp(jstr(ev, "name"), "Joe") == 0 &&
		      strcmp(jstr(ev, "text"), "Joe from our front desk is taking over this chat.") == 0);
		console_send(&cm, "{\"type\":\"reply\",\"conversation\":\"%s\",\"text\":\"still me\"}", conv_of(&p3));
		CHECK(is_error(&cm.f, "not_owner"));
		CHECK(console_send(&cj, "{\"type\":\"reply\",\"conversation\":\"%s\",\"text\":\"Joe here\"}", conv_of(&p3)) == 0);
		/* an admin may move anyone's chat */
		CHECK(console_send(&ca, "{\"type\":\"transfer\",\"conversation\":\"%s\",\"to\":\"maria\"}", conv_of(&p3)) == 0 &&
		      is_ack(&ca.f));
		CHECK(state_of(conv_of(&p3)).owner_id == fx.maria.id);
		console_leave(&ca);
	}
	CASE_END();

	CASE_BEGIN("desk: handback: back to the bot, which answers the next question");
	rec_clear(&to_pat);
	rec_clear(&to_stf);
	console_send(&cm, "{\"type\":\"handback\",\"conversation\":\"%s\"}", conv_of(&p1));
	CHECK(is_error(&cm.f, "not_owner"));
	console_send(&cm, "{\"type\":\"handback\",\"conversation\":\"%s\"}", conv_of(&p2));
	CHECK(is_error(&cm.f, "not_owner")); /* waiting: claim it first */
	CHECK(console_send(&cj, "{\"type\":\"handback\",\"conversation\":\"%s\"}", conv_of(&p1)) == 0 && is_ack(&cj.f));
	CHECK(status_is(conv_of(&p1), "bot") && queue_pos(conv_of(&p1), NULL) == 0);
	CHECK(count_pat(conv_of(&p1), "handback") == 1 &&
	      strstr(jstr(last_pat(conv_of(&p1), "handback"), "text"), "chatting with our assistant again"));
	CHECK(stf_removed(conv_of(&p1)) && stf_event(conv_of(&p1), "handback") != NULL);
	patient_say(&p1, Q_KNOWN);
	CHECK(p1.f.n == 2 && strcmp(frames_type(&p1.f, 1), "answer") == 0);
	console_send(&cj, "{\"type\":\"reply\",\"conversation\":\"%s\",\"text\":\"one more thing\"}", conv_of(&p1));
	CHECK(is_error(&cj.f, "not_owner"));
	console_send(&cj, "{\"type\":\"handback\",\"conversation\":\"%s\"}", conv_of(&p1));
	CHECK(is_error(&cj.f, "not_owner"));
	CASE_END();

	CASE_BEGIN("desk: resolve: closed for staff; the patient writing again is back with the bot");
	CHECK(console_send(&cm, "{\"type\":\"claim\",\"conversation\":\"%s\"}", conv_of(&p2)) == 0);
	CHECK(console_send(&cm, "{\"type\":\"reply\",\"conversation\":\"%s\",\"text\":\"Done!\"}", conv_of(&p2)) == 0);
	console_send(&cj, "{\"type\":\"resolve\",\"conversation\":\"%s\"}", conv_of(&p2));
	CHECK(is_error(&cj.f, "not_owner"));
	rec_clear(&to_pat);
	CHECK(console_send(&cm, "{\"type\":\"resolve\",\"conversation\":\"%s\"}", conv_of(&p2)) == 0 && is_ack(&cm.f));
	CHECK(status_is(conv_of(&p2), "resolved") && queue_pos(conv_of(&p2), NULL) == 0);
	CHECK(strcmp(jstr(last_pat(conv_of(&p2), "resolved"), "name"), "Maria") == 0);
	console_send(&cm, "{\"type\":\"reply\",\"conversation\":\"%s\",\"text\":\"P.S.\"}", conv_of(&p2));
	CHECK(is_error(&cm.f, "resolved"));
	console_send(&cm, "{\"type\":\"handback\",\"conversation\":\"%s\"}", conv_of(&p2));
	CHECK(is_error(&cm.f, "resolved"));
	console_send(&cm, "{\"type\":\"claim\",\"conversation\":\"%s\"}", conv_of(&p2));
	CHECK(is_error(&cm.f, "not_found"));
	patient_say(&p2, Q_KNOWN);
	CHECK(p2.f.n == 2 && strcmp(frames_type(&p2.f, 1), "answer") == 0 && status_is(conv_of(&p2), "bot"));
	/* and a new handoff queues it again, with nobody owning it */
	patient_say(&p2, Q_PERSON);
	CHECK(status_is(conv_of(&p2), "waiting") && state_of(conv_of(&p2)).owner_id == 0 &&
	      queue_pos(conv_of(&p2), NULL) > 0);
	CHECK(console_send(&cj, "{\"type\":\"resolve\",\"conversation\":\"%s\"}", conv_of(&p2)) == 0);
	CHECK(console_send(&cm, "{\"type\":\"resolve\",\"conversation\":\"%s\"}", conv_of(&p3)) == 0);
	CASE_END();

	CASE_BEGIN("desk: presence: away and back, and leaving, are told to the consoles and the patients");
	{
		json_t *row;
		size_t n;
		patient pw = { 0 };
		patient_hello(&pw);
		patient_say(&pw, Q_PERSON);
		CHECK(last_position(conv_of(&pw)) == 1 &&
		      json_integer_value(json_object_get(last_pat(conv_of(&pw), "queue"), "staff_online")) == 2);
		/* becoming an emergency while waiting is one more webhook, once */
		rows = notify_pending(fx.nt);
		patient_say(&pw, Q_EMERGENCY);
		CHECK(strcmp(frames_type(&pw.f, 1), "emergency") == 0 && notify_pending(fx.nt) == rows + 1);
		patient_say(&pw, Q_EMERGENCY);
		CHECK(notify_pending(fx.nt) == rows + 1);
		{
			json_t *item = NULL;
			CHECK(queue_pos(conv_of(&pw), &item) == 1 && strcmp(jstr(item, "reason"), "emergency") == 0);
			json_decref(item);
		}
		rec_clear(&to_pat);
		rec_clear(&to_stf);
		CHECK(console_send(&cm, "{\"type\":\"presence\",\"status\":\"away\"}") == 0 && cm.f.n == 0);
		row = stf_presence("maria", &n);
		CHECK(row && n == 2 && strcmp(jstr(row, "status"), "away") == 0);
		CHECK(desk_online_count(fx.d) == 1);
		CHECK(json_integer_value(json_object_get(last_pat(conv_of(&pw), "queue"), "staff_online")) == 1);
		console_send(&cm, "{\"type\":\"hello\"}");
		CHECK(strcmp(str_of(&cm.f, 0, "presence"), "away") == 0);
		console_send(&cj, "{\"type\":\"presence\",\"status\":\"away\"}");
		CHECK(desk_online_count(fx.d) == 0 && desk_available(fx.d) == DESK_NOBODY);
		console_send(&cm, "{\"type\":\"presence\",\"status\":\"online\"}");
		CHECK(desk_online_count(fx.d) == 1 && desk_available(fx.d) == DESK_AVAILABLE);
		rec_clear(&to_stf);
		console_leave(&cj);
		CHECK(stf_presence("joe", &n) == NULL && n == 1 && stf_presence("maria", &n) != NULL);
		CHECK(console_send(&cm, "{\"type\":\"resolve\",\"conversation\":\"%s\"}", conv_of(&pw)) == 0);
		frames_clear(&pw.f);
	}
	CASE_END();

	CASE_BEGIN("desk: more than 60 frames at once from one console are rate limited");
	{
		int served = 0, limited = 0, first_ok = 1;
		console_join(&cx, &fx.joe, 0);
		for (int i = 0; i < 200; i++) {
			console_frame(&cx, "{\"type\":\"ping\"}");
			if (strcmp(frames_type(&cx.f, 0), "pong") == 0) {
				served++;
			} else if (is_error(&cx.f, "rate_limited") && cx.rc == -1) {
				limited++;
			}
			if (i < 60)
				first_ok &= strcmp(frames_type(&cx.f, 0), "pong") == 0;
		}
		/* 60 at once, then 20 a second: 200 pings take far less than 7 s */
		CHECKF(first_ok && limited > 0 && served + limited == 200, "served %d, limited %d", served, limited);
		console_leave(&cx);
	}
	CASE_END();

	CASE_BEGIN("desk: places deferred (the server): the chat that joins or jumps the line hears its "
		   "place at once, the ones it moved within a second");
	{
		patient pa = { 0 }, pb = { 0 };
		desk_defer_places(fx.d, 1);
		patient_hello(&pa);
		patient_say(&pa, Q_PERSON);
		desk_flush_places(fx.d);
		CHECK(last_position(conv_of(&pa)) == (json_int_t)queue_pos(conv_of(&pa), NULL));
		/* an emergency jumps the line within the second: it alone is told now */
		rec_clear(&to_pat);
		next_ms();
		patient_hello(&pb);
		patient_say(&pb, Q_EMERGENCY);
		desk_flush_places(fx.d);
		CHECKF(last_position(conv_of(&pb)) == (json_int_t)queue_pos(conv_of(&pb), NULL) &&
		       queue_pos(conv_of(&pb), NULL) < queue_pos(conv_of(&pa), NULL),
		       "told %lld, at %zu", (long long)last_position(conv_of(&pb)),
		       queue_pos(conv_of(&pb), NULL));
		CHECK(count_pat(conv_of(&pa), "queue") == 0);
		desk_defer_places(fx.d, 0);
		frames_clear(&pa.f);
		frames_clear(&pb.f);
	}
	CASE_END();

	CASE_BEGIN("desk: places deferred: the whole line is told in slices of at most "
		   "DESK_PLACES_PER_PASS a flush, and every waiting patient gets their true place");
	{
		enum { N_WAIT = 2 * DESK_PLACES_PER_PASS + 10 };
		static patient many[N_WAIT];
		size_t before, first = 0, total = 0, passes = 0, wrong = 0;
		desk_defer_places(fx.d, 1);
		for (int i = 0; i < N_WAIT; i++) {
			patient_hello(&many[i]);
			patient_say(&many[i], Q_PERSON);
		}
		desk_flush_places(fx.d);
		while (passes < 50) { /* the joins' own places, and any sweep already due */
			before = to_pat.n;
			desk_flush_places(fx.d);
			passes++;
			if (to_pat.n == before)
				break;
		}
		/* staff coming online: everyone waiting should hear it */
		rec_clear(&to_pat);
		console_join(&cx, &fx.joe, 0);
		console_send(&cx, "{\"type\":\"presence\",\"status\":\"online\"}");
		CHECK(count_pat(conv_of(&many[0]), "queue") == 0); /* deferred: not in the staff's frame */
		for (passes = 0; passes < 50; passes++) {
			before = to_pat.n;
			desk_flush_places(fx.d);
			if (passes == 0)
				first = to_pat.n - before;
			total += to_pat.n - before;
			if (to_pat.n == before)
				break;
		}
		for (int i = 0; i < N_WAIT; i++)
			wrong += last_position(conv_of(&many[i])) != (json_int_t)queue_pos(conv_of(&many[i]), NULL);
		CHECKF(first > 0 && first <= DESK_PLACES_PER_PASS, "first flush told %zu", first);
		CHECKF(total >= N_WAIT && passes >= 3 && wrong == 0, "told %zu in %zu flushes, %zu wrong",
		       total, passes, wrong);
		console_leave(&cx);
		desk_defer_places(fx.d, 0);
		for (int i = 0; i < N_WAIT; i++)
			frames_clear(&many[i].f);
	}
	CASE_END();

	console_leave(&cm);
	frames_clear(&cm.f);
	frames_clear(&cm2.f);
	frames_clear(&cj.f);
	frames_clear(&ca.f);
	frames_clear(&cx.f);
	frames_clear(&pn.f);
	frames_clear(&pc.f);
	frames_clear(&pt.f);
	frames_clear(&p1.f);
	frames_clear(&p2.f);
	frames_clear(&p3.f);
	frames_clear(&p4.f);
	fixture_close();
}
