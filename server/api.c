/* api: see api.h. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util.h"

typedef enum need { NEED_NONE, NEED_STAFF, NEED_ADMIN } need;

static void reply(api_response *resp, int status, json_t *body)
{
	resp->status = status;
	free(resp->body);
	resp->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
}

static void error(api_response *resp, int status, const char *code, const char *message)
{
	reply(resp, status, json_pack("{s:s, s:s}", "error", code, "message", message));
}

static int64_t now_of(const api_ctx *ctx)
{
	return ctx->now_unix ? ctx->now_unix() : util_now_us() / 1000000;
}

static void set_cookie(const api_ctx *ctx, api_response *resp, const char *token, int max_age)
{
	snprintf(resp->set_cookie, sizeof resp->set_cookie,
		 "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s%d", API_COOKIE, token,
		 ctx->tls ? "; Secure" : "", "; Max-Age=", max_age);
}

/* The session of the request: 0 valid, 1 none/expired (401 written), -1 error (500). */
static int session_of(api_ctx *ctx, const char *cookie, auth_session *out,
		      char token[AUTH_TOKEN_LEN + 1])
{
	char err[256];
	int rc;
	if (auth_cookie_get(cookie, API_COOKIE, token, AUTH_TOKEN_LEN + 1) != 0)
		return 1;
	rc = auth_session_check(ctx->au, token, now_of(ctx), out, err, sizeof err);
	if (rc < 0)
		util_log("error", "api: session check: %s", err);
	return rc;
}

int api_staff_session(api_ctx *ctx, const char *cookie, auth_session *out,
		      char token_out[AUTH_TOKEN_LEN + 1])
{
	int rc = session_of(ctx, cookie, out, token_out);
	if (rc != 0)
		return rc;
	return out->user.role == AUTH_ROLE_STAFF || out->user.role == AUTH_ROLE_ADMIN ? 0 : 1;
}

static json_t *user_json(const auth_user *u)
{
	return json_pack("{s:s, s:s, s:s}", "name", u->name, "display", u->display,
			 "role", auth_role_name(u->role));
}

/* --- routes --------------------------------------------------------------- */

static void r_login(api_ctx *ctx, const api_request *req, api_response *resp)
{
	json_error_t jerr;
	json_t *body = json_loadb(req->body ? req->body : "", req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	const char *name = json_string_value(json_object_get(body, "name"));
	const char *password = json_string_value(json_object_get(body, "password"));
	char token[AUTH_TOKEN_LEN + 1], err[256];
	auth_session sess;
	int retry_after = 0;

	if (!json_is_object(body)) {
		error(resp, 400, "bad_json", "the body must be a JSON object");
		goto out;
	}
	if (!name || !password) {
		error(resp, 400, "missing_field", "\"name\" and \"password\" are required");
		goto out;
	}
	switch (auth_login(ctx->au, name, password, req->peer, now_of(ctx), token, &sess,
			   &retry_after, err, sizeof err)) {
	case AUTH_LOGIN_OK:
		set_cookie(ctx, resp, token, 12 * 3600);
		util_log("info", "login: %s from %s", sess.user.name, req->peer);
		reply(resp, 200, json_pack("{s:o, s:s, s:i}", "user", user_json(&sess.user),
					   "csrf", sess.csrf, "idle_timeout", ctx->idle_s));
		break;
	case AUTH_LOGIN_BAD:
		util_log("warn", "login: failed from %s", req->peer);
		error(resp, 401, "bad_credentials", "wrong name or password");
		break;
	case AUTH_LOGIN_THROTTLED:
		util_log("warn", "login: throttled from %s", req->peer);
		reply(resp, 429, json_pack("{s:s, s:s, s:i}", "error", "rate_limited",
					   "message", "too many failed attempts; try again later",
					   "retry_after", retry_after));
		break;
	default:
		util_log("error", "login: %s", err);
		error(resp, 500, "internal", "the login could not be checked");
	}
out:
	json_decref(body);
}

static void r_logout(api_ctx *ctx, const char *token, api_response *resp)
{
	char err[256];
	if (auth_logout(ctx->au, token, err, sizeof err) < 0)
		util_log("error", "logout: %s", err);
	set_cookie(ctx, resp, "", 0);
	reply(resp, 200, json_object());
}

static void r_me(api_ctx *ctx, const auth_session *sess, api_response *resp)
{
	reply(resp, 200, json_pack("{s:o, s:s, s:i}", "user", user_json(&sess->user),
				   "csrf", sess->csrf, "idle_timeout", ctx->idle_s));
}

static void r_queue(api_ctx *ctx, api_response *resp)
{
	char err[256];
	json_t *q = desk_queue_json(ctx->desk, err, sizeof err);
	if (!q)
		error(resp, 500, "internal", err);
	else
		reply(resp, 200, q);
}

static void r_conversation(api_ctx *ctx, const char *id, api_response *resp)
{
	char err[256];
	json_t *c;
	if (strlen(id) != STORE_CONV_ID_LEN || strncmp(id, "c_", 2) != 0 ||
	    strspn(id + 2, "0123456789abcdef") != STORE_CONV_ID_LEN - 2) {
		error(resp, 404, "not_found", "no such conversation");
		return;
	}
	if (!(c = desk_conversation_json(ctx->desk, id, err, sizeof err)))
		error(resp, 404, "not_found", "no such conversation");
	else
		reply(resp, 200, c);
}

/* --- the gate --------------------------------------------------------------- */

static const struct page {
	const char *path;
	const char *file;
	need role;
} pages[] = {
	{ "/login", "login.html", NEED_NONE },
	{ "/staff", "staff.html", NEED_STAFF },
};

int api_is_page(const char *path)
{
	for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
		if (strcmp(path, pages[i].path) == 0)
			return 1;
	return 0;
}

static int role_ok(need n, const auth_user *u)
{
	if (n == NEED_ADMIN)
		return u->role == AUTH_ROLE_ADMIN;
	if (n == NEED_STAFF)
		return u->role == AUTH_ROLE_STAFF || u->role == AUTH_ROLE_ADMIN;
	return 1;
}

void api_handle(api_ctx *ctx, const api_request *req, api_response *resp)
{
	auth_session sess;
	char token[AUTH_TOKEN_LEN + 1] = "";
	int is_get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
	int rc;

	memset(resp, 0, sizeof *resp);
	resp->status = 500;

	for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
		if (strcmp(req->path, pages[i].path) != 0)
			continue;
		if (!is_get) {
			error(resp, 405, "method_not_allowed", "pages are read with GET");
			return;
		}
		if (pages[i].role != NEED_NONE &&
		    (session_of(ctx, req->cookie, &sess, token) != 0 || !role_ok(pages[i].role, &sess.user))) {
			resp->status = 303;
			snprintf(resp->location, sizeof resp->location, "/login?next=%s", pages[i].path);
			return;
		}
		resp->status = 200;
		resp->page = pages[i].file;
		return;
	}

	if (strncmp(req->path, "/api/", 5) != 0) {
		error(resp, 404, "not_found", "no such route");
		return;
	}
	if (req->body_too_big) {
		error(resp, 413, "too_big", "the body is over 64 KiB");
		return;
	}
	if (strcmp(req->path, "/api/login") == 0) {
		if (strcmp(req->method, "POST") != 0) {
			error(resp, 405, "method_not_allowed", "use POST");
			return;
		}
		/* A login from another site's page would plant a session: same origin only. */
		if (!req->same_origin) {
			error(resp, 403, "csrf", "cross-origin request refused");
			return;
		}
		r_login(ctx, req, resp);
		return;
	}

	/* Everything else needs a session. */
	rc = session_of(ctx, req->cookie, &sess, token);
	if (rc < 0) {
		error(resp, 500, "internal", "the session could not be checked");
		return;
	}
	if (rc != 0) {
		error(resp, 401, "no_session", "sign in first (the session is missing or has expired)");
		return;
	}
	if (!is_get && (!req->same_origin || !req->origin_present ||
			strcmp(req->csrf, sess.csrf) != 0)) {
		error(resp, 403, "csrf", "missing or wrong X-CSRF-Token, or a foreign Origin");
		return;
	}

	if (strcmp(req->path, "/api/logout") == 0) {
		if (is_get)
			error(resp, 405, "method_not_allowed", "use POST");
		else
			r_logout(ctx, token, resp);
	} else if (strcmp(req->path, "/api/me") == 0) {
		if (!is_get)
			error(resp, 405, "method_not_allowed", "use GET");
		else
			r_me(ctx, &sess, resp);
	} else if (!role_ok(NEED_STAFF, &sess.user)) {
		error(resp, 403, "forbidden", "staff only");
	} else if (strcmp(req->path, "/api/queue") == 0) {
		if (!is_get)
			error(resp, 405, "method_not_allowed", "use GET");
		else
			r_queue(ctx, resp);
	} else if (strncmp(req->path, "/api/conversations/", 19) == 0) {
		if (!is_get)
			error(resp, 405, "method_not_allowed", "use GET");
		else
			r_conversation(ctx, req->path + 19, resp);
	} else {
		error(resp, 404, "not_found", "no such route");
	}
}
