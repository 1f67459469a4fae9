/* fuzz_api: the JSON HTTP API, api_handle (docs/staff-protocol.md,
 * docs/admin-api.md): the login body, the admin bodies (entries, try,
 * import, users, settings), query strings, the session cookie, the CSRF and
 * Origin checks, the routes and pages.
 *
 * Input: byte 0 picks the route (routes[], 32 entries; three of them can
 * reach argon2, ~20 ms a hash: POST /api/login, adding a user, setting a
 * password); byte 1 holds flags:
 *   bits 0-1  cookie: 0 none, 1 the staff session, 2 the admin session,
 *             3 the extra field as the whole Cookie header
 *   4  same origin      8  Origin present
 *   16 X-CSRF-Token is the session's token (else the extra field)
 *   32 the body was over the size limit
 *   64 the clock is 16 minutes on (the sessions expired)
 *   128 TLS (cookies get Secure)
 * then the body, then optionally a NUL byte and the extra field: a path
 * suffix (with "?query" after it), a query string, a method, a cookie
 * header or a CSRF token, as the route and flags say (placeholders of fuzz.h
 * allowed there, e.g. fd_session=@S1@ or @C1@).
 *
 * Every input gets a fresh auth (throttling counts are in memory) and desk,
 * and runs in an outer transaction that is rolled back, so a logout, an
 * expired session or an edit does not outlive the input; the engine, which
 * an admin edit reloads in memory, is reloaded from the rolled-back store
 * after every admin change, and its threshold restored. The fixture's
 * knowledge base is small (12 entries) so that such a reload costs
 * milliseconds, not a second.
 *
 * The same Cookie header then goes to api_staff_session, as the staff
 * console's WebSocket handshake would send it.
 *
 * FUZZ_VERBOSE=1 in the environment prints each request and its response.
 *
 * Checked besides the sanitizers: api.h's contract that resp has a status
 * and, unless it is a page, a redirect or an export, a JSON object body;
 * that no session cookie is set without a 200. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "fuzz.h"

static fuzz_fixture fx;
static admin *adm;
static double threshold;
static int64_t api_now;
static int verbose;

static int64_t api_clock(void)
{
	return api_now;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];
	(void)argc, (void)argv;
	fuzz_fixture_open(&fx, FUZZ_STAFF_SIDE | FUZZ_SMALL_KB);
	/* fresh ones per input instead */
	desk_close(fx.dk);
	auth_close(fx.au);
	fx.dk = NULL;
	fx.au = NULL;
	if (admin_open(fx.st, fx.eng, &adm, err, sizeof err) < 0) {
		fprintf(stderr, "fuzz_api: %s\n", err);
		exit(1);
	}
	threshold = engine_threshold(fx.eng);
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	return 0;
}

/* What the extra field is for a route, besides a cookie or CSRF token. */
enum { X_NONE, X_PATH, X_QUERY, X_METHOD, X_FULLPATH, X_CONV };

static const struct route {
	const char *method;
	const char *path;
	int extra;
} routes[32] = {
	{ "POST", "/api/login", X_NONE },
	{ "GET", "/api/me", X_NONE },
	{ "POST", "/api/logout", X_NONE },
	{ "GET", "/api/queue", X_NONE },
	{ "GET", "/api/conversations/", X_PATH },
	{ "GET", "/api/conversations/", X_CONV },   /* a real one, picked by the body's length */
	{ "GET", "/staff", X_QUERY },
	{ "GET", "", X_FULLPATH },
	{ "PUT", "/api/admin/synonyms", X_NONE },
	{ "GET", "/api/admin/entries", X_QUERY },
	{ "POST", "/api/admin/entries", X_NONE },
	{ "GET", "/api/admin/entries/", X_PATH },
	{ "PUT", "/api/admin/entries/", X_PATH },
	{ "POST", "/api/admin/entries/", X_PATH },  /* ID/publish, ID/archive */
	{ "POST", "/api/admin/try", X_NONE },
	{ "GET", "/api/admin/inbox", X_QUERY },
	{ "POST", "/api/admin/inbox/dismiss", X_NONE },
	{ "GET", "/api/admin/audit", X_QUERY },
	{ "GET", "/api/admin/export", X_NONE },
	{ "POST", "/api/admin/import", X_NONE },
	{ "GET", "/api/admin/users", X_NONE },
	{ "POST", "/api/admin/users", X_NONE },
	{ "POST", "/api/admin/users/", X_PATH },    /* NAME/disable, NAME/enable, NAME/password */
	{ "GET", "/api/admin/settings", X_NONE },
	{ "PUT", "/api/admin/settings", X_NONE },
	{ "DELETE", "/api/admin/entries/", X_PATH },
	{ "GET", "/api/admin/analytics", X_QUERY },
	{ "GET", "/api/admin/analytics.csv", X_QUERY },
	{ "GET", "/api/admin/synonyms", X_NONE },
	{ "GET", "/api/", X_PATH },
	{ "GET", "/admin", X_QUERY },
	{ "", "/api/admin/settings", X_METHOD },
};

static void check(const api_request *req, const api_response *resp)
{
	json_t *j;
	if (resp->status < 200 || resp->status > 599)
		fuzz_fail("api: %s %s: status %d", req->method, req->path, resp->status);
	if (resp->set_cookie[0] && resp->status != 200)
		fuzz_fail("api: %s %s: Set-Cookie with status %d", req->method, req->path, resp->status);
	if (resp->page || resp->status == 303 || resp->content_type)
		return;
	if (!resp->body)
		fuzz_fail("api: %s %s: status %d without a body", req->method, req->path, resp->status);
	if (!(j = json_loads(resp->body, 0, NULL)) || !json_is_object(j))
		fuzz_fail("api: %s %s: body is not a JSON object: %s", req->method, req->path, resp->body);
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct route *r;
	const uint8_t *body, *nul;
	size_t body_len, extra_len, n;
	unsigned flags;
	char *extra, *bodybuf = NULL, *path = NULL, *cookie = NULL;
	char err[256];
	api_ctx ctx = { 0 };
	api_request req = { 0 };
	api_response resp;

	if (size < 2)
		return 0;
	r = &routes[data[0] & 31];
	flags = data[1];
	body = data + 2;
	nul = memchr(body, '\0', size - 2);
	body_len = nul ? (size_t)(nul - body) : size - 2;
	extra = nul ? fuzz_expand(&fx, nul + 1, size - 2 - body_len - 1, 1, &extra_len)
		    : fuzz_expand(&fx, (const uint8_t *)"", 0, 1, &extra_len);

	ctx.admin = adm;
	if (auth_open(fx.st, 0, &ctx.au, err, sizeof err) < 0 ||
	    desk_open(fx.st, fx.eng, ctx.au, NULL, &fuzz_null_sink, &ctx.desk, err, sizeof err) < 0)
		fuzz_fail("api: fixture: %s", err);
	ctx.tls = (flags & 128) != 0;
	ctx.idle_s = AUTH_IDLE_DEFAULT_S;
	api_now = FUZZ_WALL_OPEN + (flags & 64 ? 16 * 60 : 0);
	ctx.now_unix = api_clock;

	req.method = r->extra == X_METHOD ? extra : r->method;
	req.query = r->extra == X_QUERY ? extra : "";
	if (r->extra == X_PATH || r->extra == X_FULLPATH) {
		const char *q = strchr(extra, '?');
		size_t sl = q ? (size_t)(q - extra) : strlen(extra);
		n = strlen(r->path) + sl + 1;
		path = malloc(n);
		snprintf(path, n, "%s%.*s", r->path, (int)sl, extra);
		req.path = path;
		req.query = q ? q + 1 : "";
	} else if (r->extra == X_CONV) {
		n = strlen(r->path) + STORE_CONV_ID_LEN + 1;
		path = malloc(n);
		snprintf(path, n, "%s%s", r->path, fx.conv[body_len % FUZZ_N_CONV]);
		req.path = path;
	} else {
		req.path = r->path;
	}
	switch (flags & 3) {
	case 0: req.cookie = ""; break;
	case 3: req.cookie = extra; break;
	default:
		n = sizeof API_COOKIE + AUTH_TOKEN_LEN + 2;
		cookie = malloc(n);
		snprintf(cookie, n, "%s=%s", API_COOKIE, fx.session[(flags & 3) - 1]);
		req.cookie = cookie;
	}
	req.csrf = flags & 16 ? fx.csrf[(flags & 3) == 2] : extra;
	req.same_origin = (flags & 4) != 0;
	req.origin_present = (flags & 8) != 0;
	req.peer = "198.51.100.7";
	if (body_len > 0) {   /* exactly body_len bytes: a read past them is caught */
		bodybuf = malloc(body_len);
		memcpy(bodybuf, body, body_len);
	}
	req.body = bodybuf;
	req.body_len = body_len;
	req.body_too_big = (flags & 32) != 0;

	fuzz_tx_begin(&fx);
	api_handle(&ctx, &req, &resp);
	if (verbose)
		fprintf(stderr, "%s %s?%s -> %d %s%s\n", req.method, req.path, req.query, resp.status,
			resp.page ? resp.page : "", resp.body ? resp.body : "");
	check(&req, &resp);
	free(resp.body);
	/* The cookie as the staff console's WebSocket handshake reads it. */
	{
		auth_session sess;
		char token[AUTH_TOKEN_LEN + 1];
		if (api_staff_session(&ctx, req.cookie, &sess, token) == 0 &&
		    (strlen(token) != AUTH_TOKEN_LEN || sess.user.id <= 0))
			fuzz_fail("api_staff_session: a session with token \"%s\" user %lld", token,
				  (long long)sess.user.id);
	}
	fuzz_tx_end(&fx);
	/* An admin change reloaded the engine from the store it rolled back. */
	if (strncmp(req.path, "/api/admin/", 11) == 0 && strcmp(req.method, "GET") != 0 &&
	    resp.status == 200 && engine_reload(fx.eng, err, sizeof err) < 0)
		fuzz_fail("api: engine_reload after the rollback: %s", err);
	engine_set_threshold(fx.eng, threshold);

	desk_close(ctx.desk);
	auth_close(ctx.au);
	free(bodybuf);
	free(cookie);
	free(path);
	free(extra);
	return 0;
}
