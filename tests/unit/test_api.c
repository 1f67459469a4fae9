/* Direct tests of server/api.c: api_handle over a real auth and desk, with
 * the wall clock injected. A table of requests (method, path, cookie, CSRF
 * token, origin, body) and the status and error code each must get. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "auth.h"
#include "desk.h"
#include "harness.h"

int test_open_default(store **st, engine **eng);

#define API_T0 1773237600LL   /* a fixed "now" (unix seconds) */
#define API_PW "correct horse battery"

static int64_t api_now = API_T0;
static int64_t api_clock(void)
{
	return api_now;
}

/* What a row sends as the Cookie and X-CSRF-Token headers. */
enum { CK_NONE, CK_GOOD, CK_BOGUS, CK_CROWDED };
enum { CS_NONE, CS_GOOD, CS_WRONG };

typedef struct api_row {
	const char *method, *path;
	int cookie, csrf;
	int same_origin, origin_present;
	const char *body;             /* NULL: none */
	int too_big;
	int status;
	const char *error;            /* the body's "error", NULL: no JSON error expected */
	const char *where;            /* 303: the Location; 200 pages: the page; else NULL */
} api_row;

/* The session the rows use (filled by a login). */
static char sess_token[AUTH_TOKEN_LEN + 1], sess_csrf[80];

static void api_call(api_ctx *ctx, const char *method, const char *path, const char *cookie,
		     const char *csrf, int same_origin, int origin_present, const char *body,
		     int too_big, api_response *resp)
{
	api_request req = {
		.method = method, .path = path, .query = "", .cookie = cookie, .csrf = csrf,
		.same_origin = same_origin, .origin_present = origin_present, .peer = "192.0.2.7",
		.body = body, .body_len = body ? strlen(body) : 0, .body_too_big = too_big,
	};
	api_handle(ctx, &req, resp);
}

/* The response body parsed (new reference; NULL when none or not JSON). */
static json_t *body_of(const api_response *resp)
{
	return resp->body ? json_loads(resp->body, JSON_REJECT_DUPLICATES, NULL) : NULL;
}

static const char *jget(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static void run_row(api_ctx *ctx, const api_row *r)
{
	char cookie[256] = "", label[200];
	const char *csrf = r->csrf == CS_GOOD ? sess_csrf : r->csrf == CS_WRONG ? "0123abcd" : "";
	api_response resp;
	json_t *b;

	if (r->cookie == CK_GOOD)
		snprintf(cookie, sizeof cookie, "%s=%s", API_COOKIE, sess_token);
	else if (r->cookie == CK_BOGUS)
		snprintf(cookie, sizeof cookie, "%s=%064d", API_COOKIE, 7);
	else if (r->cookie == CK_CROWDED)
		snprintf(cookie, sizeof cookie, "theme=dark; x%s=zzz; %s=%s; lang=es", API_COOKIE, API_COOKIE,
			 sess_token);
	api_call(ctx, r->method, r->path, cookie, csrf, r->same_origin, r->origin_present, r->body,
		 r->too_big, &resp);
	b = body_of(&resp);
	snprintf(label, sizeof label, "%s %s (cookie %d, csrf %d, origin %d/%d)", r->method, r->path,
		 r->cookie, r->csrf, r->same_origin, r->origin_present);
	CHECKF(resp.status == r->status, "%s: status %d, want %d (%s)", label, resp.status, r->status,
	       resp.body ? resp.body : "no body");
	if (r->error)
		CHECKF(b && strcmp(jget(b, "error"), r->error) == 0 && jget(b, "message")[0],
		       "%s: body %s, want error %s", label, resp.body ? resp.body : "none", r->error);
	if (r->status == 303) {
		CHECKF(r->where && strcmp(resp.location, r->where) == 0 && !resp.body && !resp.page,
		       "%s: location \"%s\"", label, resp.location);
	} else if (r->where) {
		CHECKF(resp.page && strcmp(resp.page, r->where) == 0 && !resp.body, "%s: page %s", label,
		       resp.page ? resp.page : "NULL");
	} else {
		CHECKF(!resp.page && resp.location[0] == '\0' && b, "%s: no JSON body", label);
	}
	/* only a login or a logout sets a cookie */
	CHECKF(resp.set_cookie[0] == '\0', "%s: Set-Cookie %s", label, resp.set_cookie);
	json_decref(b);
	free(resp.body);
}

static void run_rows(api_ctx *ctx, const api_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		run_row(ctx, &rows[i]);
}

/* POST /api/login; fills the session's token and csrf on 200. */
static int api_login(api_ctx *ctx, const char *name, const char *password, api_response *resp,
		     char token[AUTH_TOKEN_LEN + 1], char csrf[80])
{
	json_t *j = json_pack("{s:s, s:s}", "name", name, "password", password), *b;
	char *body = json_dumps(j, JSON_COMPACT);
	const char *eq, *semi;
	api_call(ctx, "POST", "/api/login", "", "", 1, 1, body, 0, resp);
	free(body);
	json_decref(j);
	if (resp->status != 200)
		return resp->status;
	b = body_of(resp);
	snprintf(csrf, 80, "%s", jget(b, "csrf"));
	json_decref(b);
	eq = strchr(resp->set_cookie, '=');
	semi = eq ? strchr(eq, ';') : NULL;
	if (eq && semi && semi - eq - 1 == AUTH_TOKEN_LEN)
		snprintf(token, AUTH_TOKEN_LEN + 1, "%.*s", AUTH_TOKEN_LEN, eq + 1);
	else
		token[0] = '\0';
	return 200;
}

static int is_hex64(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

void test_api(void)
{
	store *st = NULL;
	engine *eng = NULL;
	auth *au = NULL;
	desk *d = NULL;
	api_ctx ctx = { 0 };
	api_response resp;
	char err[256], conv[STORE_CONV_ID_LEN + 1], token[STORE_TOKEN_LEN + 1], path[128];
	char cookie[128];
	int64_t ev_id;
	json_t *b;

	CASE_BEGIN("api: opens over a real auth and desk");
	if (test_open_default(&st, &eng) == 0) {
		CHECKF(auth_open(st, 0, &au, err, sizeof err) == 0, "%s", err);
		CHECKF(au && auth_user_add(au, "maria", "Maria", AUTH_ROLE_STAFF, API_PW, err, sizeof err) == 0,
		       "%s", err);
		CHECKF(au && desk_open(st, eng, au, NULL, NULL, &d, err, sizeof err) == 0, "%s", err);
	} else {
		CHECK(0);
	}
	CASE_END();
	if (!d)
		goto out;
	ctx.au = au;
	ctx.desk = d;
	ctx.idle_s = AUTH_IDLE_DEFAULT_S;
	ctx.now_unix = api_clock;

	/* one conversation waiting on the desk, for the queue and transcript routes */
	CASE_BEGIN("api: a conversation is queued for the routes to read");
	CHECK(store_conv_create(st, "en", conv, token, err, sizeof err) == 0);
	CHECK(store_begin(st, err, sizeof err) == 0 &&
	      store_event_add(st, conv, "patient", "message", "can I talk to a person", NULL, &ev_id, err, sizeof err) == 0 &&
	      desk_enqueue_tx(d, conv, "asked_for_person", 0, "en", err, sizeof err) == 0 &&
	      store_commit(st, err, sizeof err) == 0);
	CASE_END();

	CASE_BEGIN("api: without a session every route is refused, pages redirect to the login");
	{
		static const api_row rows[] = {
			{ "GET", "/api/me", CK_NONE, CS_NONE, 1, 0, NULL, 0, 401, "no_session", NULL },
			{ "GET", "/api/queue", CK_NONE, CS_NONE, 1, 0, NULL, 0, 401, "no_session", NULL },
			{ "GET", "/api/conversations/c_00000000000000000000000000000000", CK_NONE, CS_NONE, 1, 0, NULL, 0,
			  401, "no_session", NULL },
			{ "GET", "/api/conversations/nope", CK_NONE, CS_NONE, 1, 0, NULL, 0, 401, "no_session", NULL },
			{ "POST", "/api/logout", CK_NONE, CS_NONE, 1, 1, NULL, 0, 401, "no_session", NULL },
			{ "GET", "/api/logout", CK_NONE, CS_NONE, 1, 0, NULL, 0, 401, "no_session", NULL },
			{ "GET", "/api/nothing-here", CK_NONE, CS_NONE, 1, 0, NULL, 0, 401, "no_session", NULL },
			{ "GET", "/api/me", CK_BOGUS, CS_NONE, 1, 0, NULL, 0, 401, "no_session", NULL },
			{ "GET", "/api/queue", CK_BOGUS, CS_NONE, 1, 0, NULL, 0, 401, "no_session", NULL },
			{ "GET", "/staff", CK_NONE, CS_NONE, 1, 0, NULL, 0, 303, NULL, "/login?next=/staff" },
			{ "HEAD", "/staff", CK_NONE, CS_NONE, 1, 0, NULL, 0, 303, NULL, "/login?next=/staff" },
			{ "GET", "/staff", CK_BOGUS, CS_NONE, 1, 0, NULL, 0, 303, NULL, "/login?next=/staff" },
			{ "GET", "/login", CK_NONE, CS_NONE, 1, 0, NULL, 0, 200, NULL, "login.html" },
			{ "POST", "/staff", CK_NONE, CS_NONE, 1, 1, NULL, 0, 405, "method_not_allowed", NULL },
			{ "POST", "/login", CK_NONE, CS_NONE, 1, 1, NULL, 0, 405, "method_not_allowed", NULL },
			{ "GET", "/elsewhere", CK_NONE, CS_NONE, 1, 0, NULL, 0, 404, "not_found", NULL },
		};
		run_rows(&ctx, rows, sizeof rows / sizeof rows[0]);
	}
	CASE_END();

	CASE_BEGIN("api: login refuses bad requests before checking any password");
	{
		static const api_row rows[] = {
			{ "GET", "/api/login", CK_NONE, CS_NONE, 1, 0, NULL, 0, 405, "method_not_allowed", NULL },
			{ "PUT", "/api/login", CK_NONE, CS_NONE, 1, 1, "{}", 0, 405, "method_not_allowed", NULL },
			{ "POST", "/api/login", CK_NONE, CS_NONE, 0, 1,
			  "{\"name\":\"maria\",\"password\":\"" API_PW "\"}", 0, 403, "csrf", NULL },
			{ "POST", "/api/login", CK_NONE, CS_NONE, 1, 1, "{}", 1, 413, "too_big", NULL },
			{ "POST", "/api/login", CK_NONE, CS_NONE, 1, 1, NULL, 0, 400, "bad_json", NULL },
			{ "POST", "/api/login", CK_NONE, CS_NONE, 1, 1, "{oops", 0, 400, "bad_json", NULL },
			{ "POST", "/api/login", CK_NONE, CS_NONE, 1, 1, "[\"maria\"]", 0, 400, "bad_json", NULL },
			{ "POST", "/api/login", CK_NONE, CS_NONE, 1, 1,
			  "{\"name\":\"maria\",\"name\":\"x\",\"password\":\"" API_PW "\"}", 0, 400, "bad_json", NULL },
			{ "POST", "/api/login", CK_NONE, CS_NONE, 1, 1, "{\"name\":\"maria\"}", 0, 400, "missing_field", NULL },
			{ "POST", "/api/login", CK_NONE, CS_NONE, 1, 1, "{\"password\":\"" API_PW "\"}", 0, 400,
			  "missing_field", NULL },
			{ "POST", "/api/login", CK_NONE, CS_NONE, 1, 1, "{\"name\":\"maria\",\"password\":5}", 0, 400,
			  "missing_field", NULL },
			{ "POST", "/api/queue", CK_NONE, CS_NONE, 1, 1, "{}", 1, 413, "too_big", NULL },
		};
		run_rows(&ctx, rows, sizeof rows / sizeof rows[0]);
	}
	CASE_END();

	CASE_BEGIN("api: a wrong password is 401 bad_credentials, with no cookie");
	{
		char tok[AUTH_TOKEN_LEN + 1], cs[80];
		CHECK(api_login(&ctx, "maria", "wrong password!", &resp, tok, cs) == 401);
		b = body_of(&resp);
		CHECK(strcmp(jget(b, "error"), "bad_credentials") == 0 && resp.set_cookie[0] == '\0');
		json_decref(b);
		free(resp.body);
		CHECK(api_login(&ctx, "nobody", API_PW, &resp, tok, cs) == 401);
		free(resp.body);
	}
	CASE_END();

	CASE_BEGIN("api: login sets an HttpOnly SameSite=Strict cookie, Secure only with TLS");
	{
		char tok2[AUTH_TOKEN_LEN + 1], cs2[80];
		CHECK(api_login(&ctx, "maria", API_PW, &resp, sess_token, sess_csrf) == 200);
		CHECK(is_hex64(sess_token) && sess_csrf[0] != '\0');
		CHECKF(strstr(resp.set_cookie, "fd_session=") == resp.set_cookie &&
		       strstr(resp.set_cookie, "; HttpOnly") && strstr(resp.set_cookie, "; SameSite=Strict") &&
		       strstr(resp.set_cookie, "; Path=/") && !strstr(resp.set_cookie, "Secure"),
		       "Set-Cookie: %s", resp.set_cookie);
		b = body_of(&resp);
		CHECK(strcmp(jget(json_object_get(b, "user"), "name"), "maria") == 0 &&
		      strcmp(jget(json_object_get(b, "user"), "display"), "Maria") == 0 &&
		      strcmp(jget(json_object_get(b, "user"), "role"), "staff") == 0 &&
		      json_integer_value(json_object_get(b, "idle_timeout")) == AUTH_IDLE_DEFAULT_S);
		CHECK(!json_object_get(json_object_get(b, "user"), "pw_hash"));
		json_decref(b);
		free(resp.body);

		ctx.tls = 1;
		CHECK(api_login(&ctx, "maria", API_PW, &resp, tok2, cs2) == 200);
		CHECKF(strstr(resp.set_cookie, "; Secure") && strstr(resp.set_cookie, "; HttpOnly") &&
		       strstr(resp.set_cookie, "; SameSite=Strict"), "Set-Cookie: %s", resp.set_cookie);
		CHECK(strcmp(tok2, sess_token) != 0 && strcmp(cs2, sess_csrf) != 0);
		free(resp.body);
		ctx.tls = 0;
	}
	CASE_END();

	CASE_BEGIN("api: with a session: the routes, their methods, and CSRF on every change");
	{
		static const api_row rows[] = {
			{ "GET", "/api/me", CK_GOOD, CS_NONE, 1, 0, NULL, 0, 200, NULL, NULL },
			{ "GET", "/api/me", CK_CROWDED, CS_NONE, 1, 0, NULL, 0, 200, NULL, NULL },
			{ "GET", "/api/queue", CK_GOOD, CS_NONE, 1, 0, NULL, 0, 200, NULL, NULL },
			{ "GET", "/api/conversations/c_bad", CK_GOOD, CS_NONE, 1, 0, NULL, 0, 404, "not_found", NULL },
			{ "GET", "/api/conversations/", CK_GOOD, CS_NONE, 1, 0, NULL, 0, 404, "not_found", NULL },
			{ "GET", "/api/conversations/c_0000000000000000000000000000000g", CK_GOOD, CS_NONE, 1, 0, NULL, 0,
			  404, "not_found", NULL },
			{ "GET", "/api/conversations/c_00000000000000000000000000000000", CK_GOOD, CS_NONE, 1, 0, NULL, 0,
			  404, "not_found", NULL },
			{ "GET", "/api/conversations/../me", CK_GOOD, CS_NONE, 1, 0, NULL, 0, 404, "not_found", NULL },
			{ "GET", "/api/nothing-here", CK_GOOD, CS_NONE, 1, 0, NULL, 0, 404, "not_found", NULL },
			{ "GET", "/staff", CK_GOOD, CS_NONE, 1, 0, NULL, 0, 200, NULL, "staff.html" },
			{ "HEAD", "/staff", CK_GOOD, CS_NONE, 1, 0, NULL, 0, 200, NULL, "staff.html" },
			{ "GET", "/login", CK_GOOD, CS_NONE, 1, 0, NULL, 0, 200, NULL, "login.html" },
			{ "GET", "/api/logout", CK_GOOD, CS_NONE, 1, 0, NULL, 0, 405, "method_not_allowed", NULL },
			{ "POST", "/api/me", CK_GOOD, CS_GOOD, 1, 1, "{}", 0, 405, "method_not_allowed", NULL },
			{ "POST", "/api/queue", CK_GOOD, CS_GOOD, 1, 1, "{}", 0, 405, "method_not_allowed", NULL },
			{ "DELETE", "/api/queue", CK_GOOD, CS_GOOD, 1, 1, NULL, 0, 405, "method_not_allowed", NULL },
			{ "PUT", "/api/conversations/c_00000000000000000000000000000000", CK_GOOD, CS_GOOD, 1, 1, "{}", 0,
			  405, "method_not_allowed", NULL },
			/* a change without the token, with a wrong one, or from another origin */
			{ "POST", "/api/logout", CK_GOOD, CS_NONE, 1, 1, NULL, 0, 403, "csrf", NULL },
			{ "POST", "/api/logout", CK_GOOD, CS_WRONG, 1, 1, NULL, 0, 403, "csrf", NULL },
			{ "POST", "/api/logout", CK_GOOD, CS_GOOD, 0, 1, NULL, 0, 403, "csrf", NULL },
			{ "POST", "/api/logout", CK_GOOD, CS_GOOD, 1, 0, NULL, 0, 403, "csrf", NULL },
			{ "DELETE", "/api/me", CK_GOOD, CS_NONE, 1, 1, NULL, 0, 403, "csrf", NULL },
			{ "POST", "/api/nothing-here", CK_GOOD, CS_NONE, 1, 1, NULL, 0, 403, "csrf", NULL },
		};
		run_rows(&ctx, rows, sizeof rows / sizeof rows[0]);
	}
	CASE_END();

	snprintf(cookie, sizeof cookie, "%s=%s", API_COOKIE, sess_token);

	CASE_BEGIN("api: GET /api/me gives the user, the CSRF token and the idle timeout");
	api_call(&ctx, "GET", "/api/me", cookie, "", 1, 0, NULL, 0, &resp);
	b = body_of(&resp);
	CHECK(resp.status == 200 && b);
	CHECK(strcmp(jget(json_object_get(b, "user"), "name"), "maria") == 0 &&
	      strcmp(jget(json_object_get(b, "user"), "display"), "Maria") == 0 &&
	      strcmp(jget(json_object_get(b, "user"), "role"), "staff") == 0);
	CHECK(strcmp(jget(b, "csrf"), sess_csrf) == 0);
	CHECK(json_integer_value(json_object_get(b, "idle_timeout")) == AUTH_IDLE_DEFAULT_S);
	CHECK(json_object_size(b) == 3 && json_object_size(json_object_get(b, "user")) == 3);
	json_decref(b);
	free(resp.body);
	CASE_END();

	CASE_BEGIN("api: GET /api/queue and /api/conversations/ID read the desk");
	api_call(&ctx, "GET", "/api/queue", cookie, "", 1, 0, NULL, 0, &resp);
	b = body_of(&resp);
	CHECK(resp.status == 200 && json_array_size(json_object_get(b, "queue")) == 1);
	CHECK(strcmp(jget(json_array_get(json_object_get(b, "queue"), 0), "conversation"), conv) == 0 &&
	      strcmp(jget(json_array_get(json_object_get(b, "queue"), 0), "reason"), "asked_for_person") == 0);
	json_decref(b);
	free(resp.body);
	snprintf(path, sizeof path, "/api/conversations/%s", conv);
	api_call(&ctx, "GET", path, cookie, "", 1, 0, NULL, 0, &resp);
	b = body_of(&resp);
	CHECK(resp.status == 200 && strcmp(jget(json_object_get(b, "item"), "status"), "waiting") == 0 &&
	      json_array_size(json_object_get(b, "events")) == 1);
	json_decref(b);
	free(resp.body);
	CASE_END();

	CASE_BEGIN("api: api_staff_session accepts a staff session cookie, nothing else");
	{
		auth_session s;
		char tok[AUTH_TOKEN_LEN + 1];
		char crowded[256], bogus[128];
		snprintf(crowded, sizeof crowded, "a=b; %s=%s", API_COOKIE, sess_token);
		snprintf(bogus, sizeof bogus, "%s=%064d", API_COOKIE, 9);
		CHECK(api_staff_session(&ctx, cookie, &s, tok) == 0 && strcmp(s.user.name, "maria") == 0 &&
		      strcmp(tok, sess_token) == 0 && strcmp(s.csrf, sess_csrf) == 0);
		CHECK(api_staff_session(&ctx, crowded, &s, tok) == 0 && strcmp(tok, sess_token) == 0);
		CHECK(api_staff_session(&ctx, "", &s, tok) == 1);
		CHECK(api_staff_session(&ctx, NULL, &s, tok) == 1);
		CHECK(api_staff_session(&ctx, bogus, &s, tok) == 1);
		CHECK(api_staff_session(&ctx, "fd_session=", &s, tok) == 1);
	}
	CASE_END();

	CASE_BEGIN("api: a session ends after AUTH_IDLE_DEFAULT_S idle seconds (injected clock)");
	{
		auth_session s;
		char tok[AUTH_TOKEN_LEN + 1];
		/* each use restarts the idle timer */
		api_now += AUTH_IDLE_DEFAULT_S - 1;
		api_call(&ctx, "GET", "/api/me", cookie, "", 1, 0, NULL, 0, &resp);
		CHECK(resp.status == 200);
		free(resp.body);
		api_now += AUTH_IDLE_DEFAULT_S;
		CHECK(api_staff_session(&ctx, cookie, &s, tok) == 0);
		/* then past the timeout */
		api_now += AUTH_IDLE_DEFAULT_S + 1;
		api_call(&ctx, "GET", "/api/queue", cookie, "", 1, 0, NULL, 0, &resp);
		b = body_of(&resp);
		CHECK(resp.status == 401 && strcmp(jget(b, "error"), "no_session") == 0);
		json_decref(b);
		free(resp.body);
		api_call(&ctx, "GET", "/staff", cookie, "", 1, 0, NULL, 0, &resp);
		CHECK(resp.status == 303 && strcmp(resp.location, "/login?next=/staff") == 0);
		free(resp.body);
		CHECK(api_staff_session(&ctx, cookie, &s, tok) == 1);
	}
	CASE_END();

	CASE_BEGIN("api: logout with the CSRF token ends the session and clears the cookie");
	{
		auth_session s;
		char tok[AUTH_TOKEN_LEN + 1];
		CHECK(api_login(&ctx, "maria", API_PW, &resp, sess_token, sess_csrf) == 200);
		free(resp.body);
		snprintf(cookie, sizeof cookie, "%s=%s", API_COOKIE, sess_token);
		api_call(&ctx, "POST", "/api/logout", cookie, sess_csrf, 1, 1, NULL, 0, &resp);
		b = body_of(&resp);
		CHECK(resp.status == 200 && json_is_object(b) && json_object_size(b) == 0);
		CHECKF(strstr(resp.set_cookie, "fd_session=;") == resp.set_cookie &&
		       strstr(resp.set_cookie, "Max-Age=0") && strstr(resp.set_cookie, "HttpOnly"),
		       "Set-Cookie: %s", resp.set_cookie);
		json_decref(b);
		free(resp.body);
		api_call(&ctx, "GET", "/api/me", cookie, "", 1, 0, NULL, 0, &resp);
		CHECK(resp.status == 401);
		free(resp.body);
		api_call(&ctx, "POST", "/api/logout", cookie, sess_csrf, 1, 1, NULL, 0, &resp);
		CHECK(resp.status == 401);
		free(resp.body);
		CHECK(api_staff_session(&ctx, cookie, &s, tok) == 1);
	}
	CASE_END();

out:
	desk_close(d);
	auth_close(au);
	engine_free(eng);
	store_close(st);
}
