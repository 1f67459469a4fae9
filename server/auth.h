/* auth: staff and admin accounts, login sessions and login throttling.
 * Free of sockets: the server passes in what the request carried (cookie
 * token, peer address) and a wall clock; tests call it directly.
 *
 * Passwords: argon2id (libargon2, the reference implementation, Debian's
 * libargon2-dev) with a random 16-byte salt, stored in the PHC string form
 * ("$argon2id$v=19$m=...,t=...,p=...$salt$hash"), so the cost can be raised
 * later without breaking old hashes. Session tokens: 32 random bytes shown to
 * the browser once (cookie); only their SHA-256 is stored.
 *
 * Tables (created by auth_open in the store's database): users, sessions.
 * All int functions return 0 on success, -1 on error with the text in err;
 * where "not found" can happen it is 1. Not thread-safe (one per store). */
#ifndef FD_AUTH_H
#define FD_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct auth auth;

#define AUTH_TOKEN_LEN 64            /* session token, hex */
#define AUTH_NAME_MAX 64             /* login names: [a-z0-9._-], 1..64 */
#define AUTH_PASSWORD_MIN 10         /* characters */
#define AUTH_IDLE_DEFAULT_S (15 * 60) /* automatic logoff after 15 idle minutes */
#define AUTH_PASSWORD_MAX 1024       /* bytes; longer ones are refused (and never match) */
#define AUTH_COOKIE "fd_session"     /* the session cookie's name */

typedef enum auth_role { AUTH_ROLE_STAFF = 1, AUTH_ROLE_ADMIN = 2 } auth_role;

/* One account, plain data (copied out of the database). */
typedef struct auth_user {
	int64_t id;
	char name[AUTH_NAME_MAX + 1];    /* login name, unique */
	char display[128];               /* first name shown to patients ("Maria") */
	auth_role role;
	int disabled;
	int64_t created_at;              /* unix seconds */
} auth_user;

/* A valid session, as auth_session_check returns it. */
typedef struct auth_session {
	auth_user user;
	char csrf[65];                   /* hex; must come back in X-CSRF-Token */
	int64_t expires_at;              /* unix seconds: last use + idle timeout */
} auth_session;

/* Creates the tables if needed. st is borrowed and must outlive a.
 * idle_s: session idle timeout (0: AUTH_IDLE_DEFAULT_S). *out: auth_close. */
int auth_open(store *st, int idle_s, auth **out, char *err, size_t errsz);
void auth_close(auth *a);
/* Borrowed: the store auth was opened on. */
store *auth_store(auth *a);

/* "staff" / "admin" and back; auth_role_parse returns 0 for anything else. */
const char *auth_role_name(auth_role r);
auth_role auth_role_parse(const char *s);

/* The rules auth_user_add applies, for callers that check before asking for
 * more (the CLI asks for a password only once the name is known to be free):
 * 0 acceptable, -1 with the reason in err. */
int auth_name_check(const char *name, char *err, size_t errsz);
int auth_password_check(const char *password, char *err, size_t errsz);

/* Adds an account. name: [a-z0-9._-]{1,64}; display: shown to patients
 * (NULL: name); password at least AUTH_PASSWORD_MIN characters. Errors: name
 * taken, bad name, weak password (text in err). */
int auth_user_add(auth *a, const char *name, const char *display, auth_role role,
		  const char *password, char *err, size_t errsz);
/* Sets a new password (and ends all of that user's sessions). 1: no such user. */
int auth_user_set_password(auth *a, const char *name, const char *password, char *err, size_t errsz);
/* Disables (1) or re-enables (0) an account; disabling ends its sessions.
 * 1: no such user. */
int auth_user_disable(auth *a, const char *name, int disabled, char *err, size_t errsz);
/* Looks an account up by name or id: 0 found, 1 not found, -1 error. */
int auth_user_get(auth *a, const char *name, auth_user *out, char *err, size_t errsz);
int auth_user_get_id(auth *a, int64_t id, auth_user *out, char *err, size_t errsz);
/* New reference: a JSON array of {"id","name","display","role","disabled","created_at"}
 * ordered by name; NULL on error. Never contains a hash. */
json_t *auth_user_list(auth *a, char *err, size_t errsz);
/* Number of enabled admin accounts, or -1. */
int auth_admin_count(auth *a);

/* Login outcome. */
typedef enum auth_login_result {
	AUTH_LOGIN_OK = 0,
	AUTH_LOGIN_BAD = 1,          /* unknown user, wrong password or disabled: one answer for all */
	AUTH_LOGIN_THROTTLED = 2,    /* too many failures for this account or address; see retry_after */
	AUTH_LOGIN_ERROR = -1
} auth_login_result;

/* Checks name/password and, when right and not throttled, creates a session:
 * token (shown once, for the cookie) and *out filled. Throttling: failures
 * are counted per account and per peer address (in memory); after 5 failures
 * within 15 minutes for either, further attempts are refused with
 * AUTH_LOGIN_THROTTLED for a delay that doubles with each further failure
 * (from 30 s, capped at 15 min), even with the right password; a success
 * clears the account's and the address's counts. now: unix seconds. */
auth_login_result auth_login(auth *a, const char *name, const char *password, const char *peer,
			     int64_t now, char token[AUTH_TOKEN_LEN + 1], auth_session *out,
			     int *retry_after_s, char *err, size_t errsz);

/* Finds the session of a cookie token: 0 valid (*out filled, last use moved
 * to now, so the idle timeout restarts), 1 unknown, expired, or its user
 * disabled (an expired session is deleted), -1 error. */
int auth_session_check(auth *a, const char *token, int64_t now, auth_session *out,
		       char *err, size_t errsz);
/* Ends a session (logout). Unknown tokens are not an error. */
int auth_logout(auth *a, const char *token, char *err, size_t errsz);
/* Deletes every expired session; returns how many, or -1. */
int auth_sweep(auth *a, int64_t now);

/* The value of cookie `name` in a Cookie header (NULL-safe), copied into out.
 * 0 found, 1 absent or longer than outsz-1. */
int auth_cookie_get(const char *cookie_header, const char *name, char *out, size_t outsz);

#endif
