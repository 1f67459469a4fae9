/* api: the JSON HTTP API under /api/ and the gate in front of the staff
 * pages, free of sockets. The server copies what a request carried into an
 * api_request and writes out the api_response; tests call api_handle
 * directly. Routes and errors: docs/staff-protocol.md.
 *
 * Every route but POST /api/login needs a valid session cookie (401
 * no_session), the role the route names (403 forbidden), and, when it
 * changes state (any method but GET), the session's CSRF token in
 * X-CSRF-Token and an Origin of the server itself (403 csrf). Routes under
 * /api/admin/ need the admin role; every change is in the audit log. */
#ifndef FD_API_H
#define FD_API_H

#include <stddef.h>
#include <stdint.h>

#include "admin.h"
#include "auth.h"
#include "desk.h"

#define API_MAX_BODY (64 * 1024)      /* bigger bodies: 413 ... */
#define API_MAX_IMPORT (8 * 1024 * 1024) /* ... except a knowledge-base import */
#define API_IMPORT_PATH "/api/admin/import"
#define API_COOKIE "fd_session"

typedef struct api_ctx {
	auth *au;                     /* borrowed */
	desk *desk;                   /* borrowed */
	admin *admin;                 /* borrowed */
	int tls;                      /* cookies get Secure */
	int idle_s;                   /* session idle timeout, for /api/me */
	int64_t (*now_unix)(void);    /* wall clock, injectable */
} api_ctx;

/* What the server read off the request; all strings borrowed, "" when absent. */
typedef struct api_request {
	const char *method;           /* "GET", "POST", "PUT", "DELETE", ... */
	const char *path;             /* "/api/login" (no query string) */
	const char *query;            /* "next=/staff" or "" */
	const char *cookie;           /* the Cookie header */
	const char *csrf;             /* the X-CSRF-Token header */
	int same_origin;              /* Origin absent or equal to our own */
	int origin_present;
	const char *peer;             /* client address, for login throttling and the log */
	const char *body;             /* may be NULL when body_len is 0 */
	size_t body_len;
	int body_too_big;             /* the server stopped reading past API_MAX_BODY */
} api_request;

typedef struct api_response {
	int status;                   /* 200, 303, 401, ... */
	char *body;                   /* JSON text (malloc'd, the caller frees), or NULL */
	char set_cookie[256];         /* a Set-Cookie value, or "" */
	char location[256];           /* for 303, or "" */
	const char *content_type;     /* NULL: application/json */
	const char *page;             /* a file of the web directory to serve instead of body
				       * (static string, e.g. "staff.html"), or NULL */
} api_response;

/* Handles one request; always fills resp (status and, except for pages and
 * redirects, a JSON body). */
void api_handle(api_ctx *ctx, const api_request *req, api_response *resp);

/* The session of a Cookie header for a WebSocket handshake: 0 valid for a
 * staff console (staff or admin; *out filled, *token_out the cookie token),
 * 1 no session / expired, -1 error. */
int api_staff_session(api_ctx *ctx, const char *cookie, auth_session *out,
		      char token_out[AUTH_TOKEN_LEN + 1]);

#endif
