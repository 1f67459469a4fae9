/* fuzz_common: see fuzz.h. */
#include "fuzz.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#ifndef FUZZ_ROOT
#define FUZZ_ROOT "."
#endif

/* Passwords of the fixture's accounts (an in-memory database, gone at exit). */
static const char *const names[2] = { "maria", "ana" };
static const char *const displays[2] = { "Maria", "Ana" };
static const char *const passwords[2] = { "maria-password-1", "ana-password-12" };

static int64_t wall = FUZZ_WALL_OPEN;
static int64_t mono, mono_step;

void fuzz_set_wall(int64_t unix_seconds)
{
	wall = unix_seconds;
}

int64_t fuzz_wall(void)
{
	return wall;
}

void fuzz_mono_reset(int64_t step_us)
{
	mono = 1000000;
	mono_step = step_us;
}

int64_t fuzz_mono_us(void)
{
	mono += mono_step;
	return mono;
}

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;
	fputs("fuzz: contract broken: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static void die(const char *what, const char *err)
{
	fprintf(stderr, "fuzz fixture: %s: %s\n", what, err);
	exit(1);
}

static void null_patients(void *user, const char *conv, const char *frame, size_t len)
{
	(void)user, (void)conv, (void)frame, (void)len;
}

static void null_staff(void *user, const char *frame, size_t len)
{
	(void)user, (void)frame, (void)len;
}

const desk_sink fuzz_null_sink = { NULL, null_patients, null_staff, NULL };

/* ---- the fixture ---------------------------------------------------------- */

static const char *root(void)
{
	const char *r = getenv("FRONTDESK_ROOT");
	return r && r[0] ? r : FUZZ_ROOT;
}

/* Drops every entry of l past the first n. */
static void keep_first(kb_list *l, size_t n)
{
	for (size_t i = n; i < l->n; i++)
		kb_entry_clear(&l->v[i]);
	if (l->n > n)
		l->n = n;
}

static void load_kb(store *st, int small)
{
	static const char *const files[] = { "kb/clinic.jsonl", "kb/clinic-es.jsonl" };
	static const size_t first[] = { 8, 4 };   /* small: the hours entries come first */
	char path[4096], err[256];
	json_t *hours;
	char *text = NULL;

	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		kb_list l = { 0 };
		snprintf(path, sizeof path, "%s/%s", root(), files[i]);
		if (kb_parse_file(path, &l, stderr, err, sizeof err) != 0)
			die(path, err[0] ? err : "bad lines (above)");
		if (small)
			keep_first(&l, first[i]);
		if (store_kb_upsert(st, &l, err, sizeof err) < 0)
			die("store_kb_upsert", err);
		kb_list_free(&l);
	}
	snprintf(path, sizeof path, "%s/kb/hours.json", root());
	if (!(hours = json_load_file(path, 0, NULL)) || !(text = json_dumps(hours, JSON_COMPACT)))
		die(path, "cannot read the opening hours");
	if (store_meta_set(st, "hours", text, err, sizeof err) < 0)
		die("hours", err);
	free(text);
	json_decref(hours);
}

/* Frames the fixture's own setup receives: ids to remember, errors to die of. */
typedef struct capture {
	char conv[STORE_CONV_ID_LEN + 1];
	char token[STORE_TOKEN_LEN + 1];
	char error[64];
} capture;

static void capture_emit(void *user, const char *frame, size_t len)
{
	capture *c = user;
	json_t *j = json_loadb(frame, len, 0, NULL);
	const char *type = json_string_value(json_object_get(j, "type"));
	if (type && strcmp(type, "welcome") == 0 && json_object_get(j, "token")) {
		snprintf(c->conv, sizeof c->conv, "%s",
			 json_string_value(json_object_get(j, "conversation")));
		snprintf(c->token, sizeof c->token, "%s", json_string_value(json_object_get(j, "token")));
	} else if (type && strcmp(type, "error") == 0) {
		snprintf(c->error, sizeof c->error, "%s", json_string_value(json_object_get(j, "code")));
	}
	json_decref(j);
}

/* A patient conversation: hello, then frames. */
static void patient(fuzz_fixture *f, int i, const char *const *frames)
{
	chat_session s = { 0 };
	capture c = { 0 };
	const char *hello = "{\"type\":\"hello\"}";
	chat_handle(&f->chat, &s, hello, strlen(hello), capture_emit, &c);
	for (size_t k = 0; frames[k] && !c.error[0]; k++)
		chat_handle(&f->chat, &s, frames[k], strlen(frames[k]), capture_emit, &c);
	if (c.error[0] || !c.conv[0])
		die("a conversation of the fixture", c.error[0] ? c.error : "no welcome");
	memcpy(f->conv[i], c.conv, sizeof c.conv);
	memcpy(f->token[i], c.token, sizeof c.token);
}

/* A staff frame with a conversation id spliced in; dies on an error reply. */
static void staff_frame(fuzz_fixture *f, desk_staff *s, const char *type, int conv)
{
	char frame[256];
	capture c = { 0 };
	if (conv >= 0)
		snprintf(frame, sizeof frame, "{\"type\":\"%s\",\"conversation\":\"%s\"}", type,
			 f->conv[conv]);
	else
		snprintf(frame, sizeof frame, "{\"type\":\"%s\"}", type);
	desk_staff_handle(f->dk, s, frame, strlen(frame), capture_emit, &c);
	if (c.error[0])
		die(frame, c.error);
}

static void open_staff(fuzz_fixture *f)
{
	static const char *const m_bot[] = { "{\"type\":\"message\",\"text\":\"what are your opening hours?\"}", NULL };
	static const char *const m_person[] = { "{\"type\":\"message\",\"text\":\"can i talk to a person\"}", NULL };
	static const char *const m_ticket[] = {
		"{\"type\":\"message\",\"text\":\"representative please\"}",
		"{\"type\":\"leave_message\",\"name\":\"Jo\",\"contact\":\"555 0100\",\"text\":\"call me back\"}",
		NULL };
	static const char *const m_emergency[] = { "{\"type\":\"message\",\"text\":\"I have chest pain\"}", NULL };
	char err[256], token[AUTH_TOKEN_LEN + 1];
	auth_session sess;
	desk_staff console;
	int retry;

	if (auth_open(f->st, 0, &f->au, err, sizeof err) < 0)
		die("auth_open", err);
	for (int i = 0; i < 2; i++) {
		if (auth_user_add(f->au, names[i], displays[i], i ? AUTH_ROLE_ADMIN : AUTH_ROLE_STAFF,
				  passwords[i], err, sizeof err) < 0 ||
		    auth_user_get(f->au, names[i], &f->user[i], err, sizeof err) != 0)
			die(names[i], err);
		if (auth_login(f->au, names[i], passwords[i], "192.0.2.1", FUZZ_WALL_OPEN, token, &sess,
			       &retry, err, sizeof err) != AUTH_LOGIN_OK)
			die("auth_login", err);
		memcpy(f->session[i], token, sizeof token);
		memcpy(f->csrf[i], sess.csrf, sizeof sess.csrf);
	}
	/* A disabled account, for transfers and logins that must be refused. */
	if (auth_user_add(f->au, "old", "Old", AUTH_ROLE_STAFF, "old-password-12", err, sizeof err) < 0 ||
	    auth_user_disable(f->au, "old", 1, err, sizeof err) != 0)
		die("old", err);

	if (desk_open(f->st, f->eng, f->au, NULL, &fuzz_null_sink, &f->dk, err, sizeof err) < 0)
		die("desk_open", err);
	f->chat.desk = f->dk;

	patient(f, FUZZ_CONV_BOT, m_bot);
	patient(f, FUZZ_CONV_WAITING, m_person);
	patient(f, FUZZ_CONV_OWNED, m_person);
	patient(f, FUZZ_CONV_TICKET, m_ticket);
	patient(f, FUZZ_CONV_RESOLVED, m_person);
	patient(f, FUZZ_CONV_EMERGENCY, m_emergency);

	memset(&console, 0, sizeof console);
	desk_staff_join(f->dk, &console, &f->user[FUZZ_STAFF]);
	staff_frame(f, &console, "hello", -1);
	staff_frame(f, &console, "claim", FUZZ_CONV_OWNED);
	staff_frame(f, &console, "claim", FUZZ_CONV_RESOLVED);
	staff_frame(f, &console, "resolve", FUZZ_CONV_RESOLVED);
	desk_staff_leave(f->dk, &console);
}

void fuzz_fixture_open(fuzz_fixture *f, unsigned what)
{
	char err[256];

	memset(f, 0, sizeof *f);
	if (store_open(":memory:", &f->st, err, sizeof err) < 0)
		die("store_open", err);
	load_kb(f->st, (what & FUZZ_SMALL_KB) != 0);
	if (engine_open(f->st, &f->eng, err, sizeof err) < 0)
		die("engine_open", err);
	engine_set_clock(f->eng, fuzz_wall);
	f->chat.st = f->st;
	f->chat.eng = f->eng;
	f->chat.now_us = fuzz_mono_us;
	chat_default_messages(&f->chat.msg);
	fuzz_mono_reset(10 * 1000000);
	if (what & FUZZ_STAFF_SIDE)
		open_staff(f);
}

/* ---- per input ------------------------------------------------------------ */

void fuzz_tx_begin(fuzz_fixture *f)
{
	char err[256];
	if (store_begin(f->st, err, sizeof err) < 0)
		die("store_begin", err);
}

void fuzz_tx_keep(fuzz_fixture *f)
{
	if (sqlite3_get_autocommit(store_db(f->st)))
		fuzz_tx_begin(f);
}

void fuzz_tx_end(fuzz_fixture *f)
{
	store_rollback(f->st);
}

int fuzz_next_frame(const uint8_t **data, size_t *size, const uint8_t **frame, size_t *len)
{
	const uint8_t *nl;
	if (*size == 0)
		return 0;
	nl = memchr(*data, '\n', *size);
	*frame = *data;
	*len = nl ? (size_t)(nl - *data) : *size;
	*data += *len + (nl != NULL);
	*size -= *len + (nl != NULL);
	return 1;
}

/* The text a placeholder stands for, or NULL. p points at '@', n bytes left. */
static const char *placeholder(const fuzz_fixture *f, const uint8_t *p, size_t n)
{
	int k;
	if (n < 4 || p[3] != '@' || p[2] < '0' || p[2] > '9')
		return NULL;
	k = p[2] - '0';
	switch (p[1]) {
	case 'C': return k < FUZZ_N_CONV ? f->conv[k] : NULL;
	case 'T': return k < FUZZ_N_CONV ? f->token[k] : NULL;
	case 'S': return k < 2 ? f->session[k] : NULL;
	case 'X': return k < 2 ? f->csrf[k] : NULL;
	}
	return NULL;
}

char *fuzz_expand(const fuzz_fixture *f, const uint8_t *in, size_t len, int nul, size_t *out_len)
{
	size_t n = 0;
	char *out = NULL;

	/* Two passes: measure, then copy, so the buffer is exactly n bytes. */
	for (int pass = 0; pass < 2; pass++) {
		n = 0;
		for (size_t i = 0; i < len; i++) {
			const char *s = in[i] == '@' ? placeholder(f, in + i, len - i) : NULL;
			size_t sl = s ? strlen(s) : 1;
			if (pass)
				memcpy(out + n, s ? s : (const char *)in + i, sl);
			n += sl;
			i += s ? 3 : 0;
		}
		/* malloc(0) under ASan is a valid pointer that no byte may be read from */
		if (!pass && !(out = malloc(n + (size_t)(nul != 0))) && n + (size_t)(nul != 0) > 0)
			abort();
	}
	if (nul)
		out[n] = '\0';
	*out_len = n;
	return out;
}

void fuzz_feed_frames(const fuzz_fixture *f, const uint8_t *data, size_t size, int skip_hello,
		      void (*fn)(void *ctx, const char *frame, size_t len), void *ctx)
{
	static const char hello[] = "{\"type\":\"hello\"}";
	const uint8_t *raw;
	size_t raw_len, len;
	char *frame;

	if (!skip_hello) {
		frame = fuzz_expand(f, (const uint8_t *)hello, sizeof hello - 1, 0, &len);
		fn(ctx, frame, len);
		free(frame);
	}
	while (fuzz_next_frame(&data, &size, &raw, &raw_len)) {
		frame = fuzz_expand(f, raw, raw_len, 0, &len);
		fn(ctx, frame, len);
		free(frame);
	}
}
