/* api: see api.h. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "kbfile.h"
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
		admin_audit(auth_store(ctx->au), sess.user.name, "login", NULL, NULL, req->peer);
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

static void r_logout(api_ctx *ctx, const char *token, const auth_session *sess,
		     const api_request *req, api_response *resp)
{
	char err[256];
	admin_audit(auth_store(ctx->au), sess->user.name, "logout", NULL, NULL, req->peer);
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

/* --- admin routes ------------------------------------------------------------ */

/* The value of key in a query string "a=1&b=2" (lws has URL-decoded it),
 * copied into out; "" when absent. */
static const char *query_get(const char *query, const char *key, char *out, size_t outsz)
{
	size_t kl = strlen(key);
	const char *p = query;
	out[0] = '\0';
	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			snprintf(out, outsz, "%.*s", (int)(len - kl - 1), p + kl + 1);
			break;
		}
		p = amp ? amp + 1 : NULL;
	}
	return out;
}

static json_t *body_json(const api_request *req, api_response *resp)
{
	json_error_t jerr;
	json_t *b = json_loadb(req->body ? req->body : "", req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(b)) {
		json_decref(b);
		error(resp, 400, "bad_json", "the body must be a JSON object");
		return NULL;
	}
	return b;
}

/* Writes an admin function's result: the JSON, or its status and message. */
/* status is read through a pointer: as a plain argument it could be read
 * before the call that sets it (argument order is unspecified). */
static void admin_reply(api_response *resp, json_t *j, const int *status_p, const char *err)
{
	int status = *status_p;
	static const char *const codes[][2] = {
		{ "400", "bad_request" }, { "404", "not_found" }, { "409", "conflict" },
		{ "413", "too_big" }, { "500", "internal" },
	};
	char st[8];
	const char *code = "internal";
	if (j) {
		reply(resp, 200, j);
		return;
	}
	snprintf(st, sizeof st, "%d", status);
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		if (strcmp(codes[i][0], st) == 0)
			code = codes[i][1];
	error(resp, status ? status : 500, code, err);
}

static void r_users(api_ctx *ctx, const api_request *req, const char *rest, const auth_session *sess,
		    api_response *resp)
{
	char err[256], name[AUTH_NAME_MAX + 2];
	json_t *b;
	if (*rest == '\0') {
		if (strcmp(req->method, "GET") == 0) {
			json_t *l = auth_user_list(ctx->au, err, sizeof err);
			int st500 = 500;
			admin_reply(resp, l ? json_pack("{s:o}", "users", l) : NULL, &st500, err);
		} else if (strcmp(req->method, "POST") == 0 && (b = body_json(req, resp))) {
			const char *n = json_string_value(json_object_get(b, "name"));
			const char *d = json_string_value(json_object_get(b, "display"));
			const char *pw = json_string_value(json_object_get(b, "password"));
			auth_role role = auth_role_parse(json_string_value(json_object_get(b, "role")));
			if (!n || !pw || !role)
				error(resp, 400, "missing_field", "\"name\", \"password\" and \"role\" (staff or admin) are required");
			else if (auth_user_add(ctx->au, n, d, role, pw, err, sizeof err) < 0)
				error(resp, strstr(err, "exists") || strstr(err, "taken") ? 409 : 400, "bad_request", err);
			else {
				admin_audit(auth_store(ctx->au), sess->user.name, "user.add", n, auth_role_name(role), req->peer);
				reply(resp, 200, json_pack("{s:s}", "added", n));
			}
			json_decref(b);
		} else if (!resp->body) {
			error(resp, 405, "method_not_allowed", "GET or POST");
		}
		return;
	}
	/* /NAME/disable, /NAME/enable, /NAME/password */
	{
		const char *slash = strchr(rest + 1, '/');
		const char *what = slash ? slash + 1 : "";
		size_t nl = slash ? (size_t)(slash - rest - 1) : 0;
		int rc;
		if (!slash || nl == 0 || nl > AUTH_NAME_MAX || strcmp(req->method, "POST") != 0) {
			error(resp, 404, "not_found", "no such route");
			return;
		}
		snprintf(name, sizeof name, "%.*s", (int)nl, rest + 1);
		if (strcmp(what, "disable") == 0 || strcmp(what, "enable") == 0) {
			int dis = strcmp(what, "disable") == 0;
			if (dis && strcmp(name, sess->user.name) == 0) {
				error(resp, 400, "bad_request", "you cannot disable your own account");
				return;
			}
			rc = auth_user_disable(ctx->au, name, dis, err, sizeof err);
		} else if (strcmp(what, "password") == 0 && (b = body_json(req, resp))) {
			const char *pw = json_string_value(json_object_get(b, "password"));
			rc = pw ? auth_user_set_password(ctx->au, name, pw, err, sizeof err)
				: (snprintf(err, sizeof err, "\"password\" is required"), -1);
			json_decref(b);
		} else {
			if (!resp->body)
				error(resp, 404, "not_found", "no such route");
			return;
		}
		if (rc == 1)
			error(resp, 404, "not_found", "no such user");
		else if (rc < 0)
			error(resp, 400, "bad_request", err);
		else {
			char action[32];
			snprintf(action, sizeof action, "user.%s", what);
			admin_audit(auth_store(ctx->au), sess->user.name, action, name, NULL, req->peer);
			reply(resp, 200, json_pack("{s:s, s:s}", "user", name, "done", what));
		}
	}
}

/* "YYYY-MM-DD" (UTC midnight) in ms, or fallback. */
static int64_t day_ms(const char *s, int64_t fallback)
{
	struct tm tm = { 0 };
	if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3 ||
	    tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31)
		return fallback;
	{
		int mday = tm.tm_mday, mon = tm.tm_mon - 1;
		time_t t;
		struct tm back;
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		t = timegm(&tm);
		/* 2025-02-31 would roll over to March: not a date, so the default */
		if (!gmtime_r(&t, &back) || back.tm_mday != mday || back.tm_mon != mon)
			return fallback;
		return (int64_t)t * 1000;
	}
}

/* The analytics range: ?from=YYYY-MM-DD&to=YYYY-MM-DD (to inclusive);
 * default the last 30 days including today. */
static void range_of(const api_ctx *ctx, const api_request *req, int64_t *from, int64_t *to)
{
	char a[16], b[16];
	int64_t today = now_of(ctx) / 86400 * 86400000;
	*to = day_ms(query_get(req->query, "to", b, sizeof b), today) + 86400000;
	*from = day_ms(query_get(req->query, "from", a, sizeof a), *to - 30LL * 86400000);
}

static void r_admin(api_ctx *ctx, const api_request *req, const auth_session *sess, api_response *resp)
{
	const char *p = req->path + 10; /* after "/api/admin" */
	const char *actor = sess->user.name;
	int is_get = strcmp(req->method, "GET") == 0, is_post = strcmp(req->method, "POST") == 0;
	int status = 500;
	char err[512], a1[256], a2[64], a3[64];
	json_t *b = NULL;

	if (strcmp(p, "/entries") == 0 && is_get) {
		admin_reply(resp, admin_entries(ctx->admin, query_get(req->query, "q", a1, sizeof a1),
						query_get(req->query, "category", a2, sizeof a2),
						query_get(req->query, "status", a3, sizeof a3),
						&status, err, sizeof err), &status, err);
	} else if (strcmp(p, "/entries") == 0 && is_post) {
		if ((b = body_json(req, resp)))
			admin_reply(resp, admin_entry_save(ctx->admin, NULL, b, actor, &status, err, sizeof err),
				    &status, err);
	} else if (strncmp(p, "/entries/", 9) == 0) {
		const char *id = p + 9, *slash = strchr(id, '/');
		char eid[KB_MAX_ID + 8];
		snprintf(eid, sizeof eid, "%.*s", slash ? (int)(slash - id) : (int)strlen(id), id);
		if (!slash && is_get)
			admin_reply(resp, admin_entry_get(ctx->admin, eid, &status, err, sizeof err), &status, err);
		else if (!slash && strcmp(req->method, "PUT") == 0) {
			if ((b = body_json(req, resp)))
				admin_reply(resp, admin_entry_save(ctx->admin, eid, b, actor, &status, err, sizeof err),
					    &status, err);
		} else if (slash && strcmp(slash, "/recall") == 0 && is_get)
			admin_reply(resp, admin_recall(ctx->admin, eid, atoi(query_get(req->query, "days", a2, sizeof a2)),
						       &status, err, sizeof err), &status, err);
		else if (slash && strcmp(slash, "/archive") == 0 && is_post)
			admin_reply(resp, admin_entry_archive(ctx->admin, eid, actor, &status, err, sizeof err),
				    &status, err);
		else if (slash && strcmp(slash, "/publish") == 0 && is_post) {
			if ((b = body_json(req, resp))) {
				const json_t *r = json_object_get(b, "revision");
				if (!json_is_integer(r))
					error(resp, 400, "missing_field", "\"revision\" must be a revision number");
				else
					admin_reply(resp, admin_entry_publish(ctx->admin, eid, json_integer_value(r), actor,
									      &status, err, sizeof err), &status, err);
			}
		} else
			error(resp, 404, "not_found", "no such route");
	} else if (strcmp(p, "/analytics") == 0 && is_get) {
		int64_t from, to;
		range_of(ctx, req, &from, &to);
		admin_reply(resp, admin_analytics(ctx->admin, from, to, &status, err, sizeof err), &status, err);
	} else if (strcmp(p, "/analytics.csv") == 0 && is_get) {
		int64_t from, to;
		size_t len;
		char *csv;
		range_of(ctx, req, &from, &to);
		if (!(csv = admin_analytics_csv(ctx->admin, from, to, &len, err, sizeof err)))
			error(resp, to <= from || to - from > 400LL * 86400000 ? 400 : 500,
			      to <= from || to - from > 400LL * 86400000 ? "bad_request" : "internal", err);
		else {
			resp->status = 200;
			resp->body = csv;
			resp->content_type = "text/csv; charset=utf-8";
		}
	} else if (strcmp(p, "/try") == 0 && is_post) {
		if ((b = body_json(req, resp)))
			admin_reply(resp, admin_try(ctx->admin, json_string_value(json_object_get(b, "text")),
						    &status, err, sizeof err), &status, err);
	} else if (strcmp(p, "/inbox") == 0 && is_get) {
		admin_reply(resp, admin_inbox(ctx->admin, atoi(query_get(req->query, "days", a2, sizeof a2)),
					      &status, err, sizeof err), &status, err);
	} else if (strcmp(p, "/inbox/dismiss") == 0 && is_post) {
		if ((b = body_json(req, resp)))
			admin_reply(resp, admin_inbox_dismiss(ctx->admin, json_string_value(json_object_get(b, "key")),
							      actor, &status, err, sizeof err), &status, err);
	} else if (strcmp(p, "/audit") == 0 && is_get) {
		admin_reply(resp, admin_audit_list(ctx->admin, atoll(query_get(req->query, "before", a2, sizeof a2)),
						   atoi(query_get(req->query, "limit", a3, sizeof a3)),
						   &status, err, sizeof err), &status, err);
	} else if (strcmp(p, "/export") == 0 && is_get) {
		size_t len;
		char *text = admin_export(ctx->admin, &len, err, sizeof err);
		if (!text)
			error(resp, 500, "internal", err);
		else {
			resp->status = 200;
			resp->body = text;
			resp->content_type = "application/x-ndjson";
		}
	} else if (strcmp(p, "/import") == 0 && is_post) {
		admin_reply(resp, admin_import(ctx->admin, req->body ? req->body : "", req->body_len, actor,
					       &status, err, sizeof err), &status, err);
	} else if (strncmp(p, "/users", 6) == 0 && (p[6] == '\0' || p[6] == '/')) {
		r_users(ctx, req, p + 6, sess, resp);
	} else if (strcmp(p, "/synonyms") == 0 && is_get) {
		admin_reply(resp, admin_synonyms(ctx->admin, &status, err, sizeof err), &status, err);
	} else if (strcmp(p, "/synonyms") == 0 && strcmp(req->method, "PUT") == 0) {
		if ((b = body_json(req, resp)))
			admin_reply(resp, admin_synonyms_put(ctx->admin, b, actor, &status, err, sizeof err),
				    &status, err);
	} else if (strcmp(p, "/settings") == 0 && is_get) {
		admin_reply(resp, admin_settings(ctx->admin, &status, err, sizeof err), &status, err);
	} else if (strcmp(p, "/settings") == 0 && strcmp(req->method, "PUT") == 0) {
		if ((b = body_json(req, resp)))
			admin_reply(resp, admin_settings_put(ctx->admin, b, actor, &status, err, sizeof err),
				    &status, err);
	} else {
		error(resp, 404, "not_found", "no such route");
	}
	json_decref(b);
}

/* --- the gate --------------------------------------------------------------- */

static const struct page {
	const char *path;
	const char *file;
	need role;
} pages[] = {
	{ "/login", "login.html", NEED_NONE },
	{ "/staff", "staff.html", NEED_STAFF },
	{ "/admin", "admin.html", NEED_ADMIN },
};

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
		error(resp, 413, "too_big", strcmp(req->path, API_IMPORT_PATH) == 0
			  ? "the file is over 8 MiB" : "the body is over 64 KiB");
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
			r_logout(ctx, token, &sess, req, resp);
	} else if (strcmp(req->path, "/api/me") == 0) {
		if (!is_get)
			error(resp, 405, "method_not_allowed", "use GET");
		else
			r_me(ctx, &sess, resp);
	} else if (strncmp(req->path, "/api/admin/", 11) == 0) {
		if (!role_ok(NEED_ADMIN, &sess.user))
			error(resp, 403, "forbidden", "admins only");
		else if (!ctx->admin)
			error(resp, 404, "not_found", "no such route");
		else
			r_admin(ctx, req, &sess, resp);
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
