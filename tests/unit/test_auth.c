#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auth.h"
#include "harness.h"
#include "util.h"

#define T0 1700000000    /* a fixed "now"; auth takes time only from its arguments */
#define IDLE 600
#define GOOD_PW "correct horse battery"

static int is_hex(const char *s, size_t len)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return 0;
	return n == len;
}

/* Rows of a one-number query, or -1. */
static long long count(store *st, const char *sql, const char *arg)
{
	sqlite3_stmt *q = NULL;
	long long n = -1;
	if (sqlite3_prepare_v2(store_db(st), sql, -1, &q, NULL) != SQLITE_OK)
		return -1;
	if (arg)
		sqlite3_bind_text(q, 1, arg, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return n;
}

static auth_login_result login(auth *a, const char *name, const char *pw, const char *peer,
			       int64_t now, char token[AUTH_TOKEN_LEN + 1], int *retry)
{
	auth_session s;
	char err[256];
	int r;
	auth_login_result res = auth_login(a, name, pw, peer, now, token, &s, &r, err, sizeof err);
	if (res == AUTH_LOGIN_ERROR)
		fprintf(stderr, "  login error: %s\n", err);
	if (retry)
		*retry = r;
	return res;
}

static void test_accounts(store *st, auth *a)
{
	char err[256], long_name[AUTH_NAME_MAX + 2], max_name[AUTH_NAME_MAX + 1];
	auth_user u;

	memset(long_name, 'a', AUTH_NAME_MAX + 1);
	long_name[AUTH_NAME_MAX + 1] = '\0';
	memset(max_name, 'b', AUTH_NAME_MAX);
	max_name[AUTH_NAME_MAX] = '\0';

	CASE_BEGIN("auth: login names are [a-z0-9._-]{1,64}");
	{
		static const struct { const char *name; int ok; } cases[] = {
			{ "", 0 }, { "Maria", 0 }, { "ma ria", 0 }, { "maria\n", 0 }, { "mar/ia", 0 },
			{ "m\xc3\xa1ria", 0 }, { "maria", 1 }, { "m.r_1-x", 1 },
		};
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			int rc = auth_user_add(a, cases[i].name, NULL, AUTH_ROLE_STAFF, GOOD_PW, err, sizeof err);
			CHECKF((rc == 0) == cases[i].ok, "name \"%s\": rc %d (%s)", cases[i].name, rc, err);
			CHECKF(auth_user_get(a, cases[i].name, &u, err, sizeof err) == (cases[i].ok ? 0 : 1),
			       "name \"%s\" lookup", cases[i].name);
		}
		CHECK(auth_user_add(a, long_name, NULL, AUTH_ROLE_STAFF, GOOD_PW, err, sizeof err) < 0);
		CHECK(auth_user_add(a, max_name, NULL, AUTH_ROLE_STAFF, GOOD_PW, err, sizeof err) == 0);
		CHECK(auth_user_add(a, NULL, NULL, AUTH_ROLE_STAFF, GOOD_PW, err, sizeof err) < 0);
		CHECK(auth_name_check("maria", err, sizeof err) == 0);
		CHECK(auth_name_check("María", err, sizeof err) < 0 && strstr(err, "a-z"));
	}
	CASE_END();

	CASE_BEGIN("auth: an account gets its display name, role and creation time");
	CHECK(auth_user_add(a, "ana", "Ana", AUTH_ROLE_ADMIN, GOOD_PW, err, sizeof err) == 0);
	CHECK(auth_user_get(a, "ana", &u, err, sizeof err) == 0 && strcmp(u.display, "Ana") == 0 &&
	      u.role == AUTH_ROLE_ADMIN && !u.disabled && u.created_at > T0 && u.id > 0);
	{
		auth_user byid;
		CHECK(auth_user_get_id(a, u.id, &byid, err, sizeof err) == 0 && strcmp(byid.name, "ana") == 0);
		CHECK(auth_user_get_id(a, 999999, &byid, err, sizeof err) == 1);
	}
	CHECK(auth_user_get(a, "maria", &u, err, sizeof err) == 0 && strcmp(u.display, "maria") == 0 &&
	      u.role == AUTH_ROLE_STAFF);
	CHECK(auth_user_add(a, "bad-role", NULL, (auth_role)7, GOOD_PW, err, sizeof err) < 0);
	CHECK(auth_user_add(a, "bad-display", "line\nbreak", AUTH_ROLE_STAFF, GOOD_PW, err, sizeof err) < 0);
	CHECK(auth_user_add(a, "bad-display", "", AUTH_ROLE_STAFF, GOOD_PW, err, sizeof err) < 0);
	CHECK(auth_role_parse("admin") == AUTH_ROLE_ADMIN && auth_role_parse("staff") == AUTH_ROLE_STAFF &&
	      auth_role_parse("root") == 0 && auth_role_parse(NULL) == 0);
	CHECK(strcmp(auth_role_name(AUTH_ROLE_STAFF), "staff") == 0);
	CASE_END();

	CASE_BEGIN("auth: weak passwords are refused, counted in characters");
	{
		static const struct { const char *pw; int ok; } cases[] = {
			{ "", 0 }, { "short", 0 }, { "123456789", 0 },
			{ "\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1", 0 }, /* 9 x ñ, 18 bytes */
			{ "bad\xff utf8 password", 0 }, { "1234567890", 1 },
			{ "\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1\xc3\xb1", 1 },
		};
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			int rc = auth_password_check(cases[i].pw, err, sizeof err);
			CHECKF((rc == 0) == cases[i].ok, "password case %zu: rc %d", i, rc);
		}
		CHECK(auth_password_check(NULL, err, sizeof err) < 0);
		CHECK(auth_user_add(a, "weak", NULL, AUTH_ROLE_STAFF, "123456789", err, sizeof err) < 0 &&
		      strstr(err, "at least 10 characters"));
		CHECK(auth_user_get(a, "weak", &u, err, sizeof err) == 1);
		{
			char *huge = malloc(AUTH_PASSWORD_MAX + 2);
			memset(huge, 'x', AUTH_PASSWORD_MAX + 1);
			huge[AUTH_PASSWORD_MAX + 1] = '\0';
			CHECK(auth_password_check(huge, err, sizeof err) < 0);
			huge[AUTH_PASSWORD_MAX] = '\0';
			CHECK(auth_password_check(huge, err, sizeof err) == 0);
			free(huge);
		}
	}
	CASE_END();

	CASE_BEGIN("auth: a taken name is refused");
	CHECK(auth_user_add(a, "maria", "Other", AUTH_ROLE_ADMIN, GOOD_PW, err, sizeof err) < 0 &&
	      strcmp(err, "user maria exists") == 0);
	CHECK(auth_user_get(a, "maria", &u, err, sizeof err) == 0 && u.role == AUTH_ROLE_STAFF);
	CASE_END();

	CASE_BEGIN("auth: passwords are stored as argon2id PHC strings, never in clear");
	{
		sqlite3_stmt *q = NULL;
		int n = 0;
		CHECK(sqlite3_prepare_v2(store_db(st), "SELECT pw_hash FROM users", -1, &q, NULL) == SQLITE_OK);
		while (q && sqlite3_step(q) == SQLITE_ROW) {
			const char *h = (const char *)sqlite3_column_text(q, 0);
			CHECKF(strncmp(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0, "hash %.40s", h);
			CHECK(!strstr(h, GOOD_PW) && !strstr(h, "horse"));
			n++;
		}
		sqlite3_finalize(q);
		CHECK(n >= 3);
		/* two accounts with one password get different hashes (salted) */
		CHECK(count(st, "SELECT count(DISTINCT pw_hash) = count(*) FROM users", NULL) == 1);
	}
	CASE_END();
}

static void test_sessions(store *st, auth *a)
{
	char err[256], tok[AUTH_TOKEN_LEN + 1], tok2[AUTH_TOKEN_LEN + 1], hash[65];
	auth_session s;
	int retry;

	CASE_BEGIN("auth: only the right password of an enabled account logs in; one answer otherwise");
	CHECK(auth_user_add(a, "dora", "Dora", AUTH_ROLE_STAFF, GOOD_PW, err, sizeof err) == 0);
	CHECK(auth_user_add(a, "ed", "Ed", AUTH_ROLE_STAFF, GOOD_PW, err, sizeof err) == 0);
	CHECK(auth_user_disable(a, "ed", 1, err, sizeof err) == 0);
	{
		static const struct { const char *name, *pw; auth_login_result want; } cases[] = {
			{ "dora", GOOD_PW, AUTH_LOGIN_OK },
			{ "dora", "correct horse battery!", AUTH_LOGIN_BAD },
			{ "dora", "", AUTH_LOGIN_BAD },
			{ "dora", NULL, AUTH_LOGIN_BAD },
			{ "nobody", GOOD_PW, AUTH_LOGIN_BAD },
			{ "Dora", GOOD_PW, AUTH_LOGIN_BAD },
			{ "", GOOD_PW, AUTH_LOGIN_BAD },
			{ NULL, GOOD_PW, AUTH_LOGIN_BAD },
			{ "ed", GOOD_PW, AUTH_LOGIN_BAD },
		};
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			char peer[32];
			snprintf(peer, sizeof peer, "198.51.100.%zu", i);
			CHECKF(login(a, cases[i].name, cases[i].pw, peer, T0, tok, &retry) == cases[i].want,
			       "login case %zu", i);
			CHECKF(cases[i].want == AUTH_LOGIN_OK ? is_hex(tok, AUTH_TOKEN_LEN) : tok[0] == '\0',
			       "token of case %zu", i);
		}
	}
	CASE_END();

	CASE_BEGIN("auth: a password longer than the maximum never matches, even by its prefix");
	{
		char *pw = malloc(AUTH_PASSWORD_MAX + 2);
		memset(pw, 'k', AUTH_PASSWORD_MAX);
		pw[AUTH_PASSWORD_MAX] = '\0';
		CHECK(auth_user_add(a, "longpw", NULL, AUTH_ROLE_STAFF, pw, err, sizeof err) == 0);
		CHECK(login(a, "longpw", pw, "198.51.100.40", T0, tok, NULL) == AUTH_LOGIN_OK);
		strcat(pw, "k");
		CHECK(login(a, "longpw", pw, "198.51.100.41", T0, tok, NULL) == AUTH_LOGIN_BAD);
		free(pw);
	}
	CASE_END();

	CASE_BEGIN("auth: a login gives a fresh session whose token is stored only hashed");
	CHECK(auth_login(a, "dora", GOOD_PW, "198.51.100.50", T0, tok, &s, &retry, err, sizeof err) ==
	      AUTH_LOGIN_OK);
	CHECK(is_hex(tok, AUTH_TOKEN_LEN) && is_hex(s.csrf, 64) && strcmp(tok, s.csrf) != 0);
	CHECK(strcmp(s.user.name, "dora") == 0 && strcmp(s.user.display, "Dora") == 0 &&
	      s.user.role == AUTH_ROLE_STAFF && s.expires_at == T0 + IDLE && retry == 0);
	util_sha256_hex(tok, AUTH_TOKEN_LEN, hash);
	CHECK(count(st, "SELECT count(*) FROM sessions WHERE token_hash = ?1", hash) == 1);
	CHECK(count(st, "SELECT count(*) FROM sessions WHERE token_hash = ?1 OR csrf = ?1", tok) == 0);
	CHECK(login(a, "dora", GOOD_PW, "198.51.100.50", T0, tok2, NULL) == AUTH_LOGIN_OK &&
	      strcmp(tok, tok2) != 0);
	CASE_END();

	CASE_BEGIN("auth: a session is valid until it has been idle too long, then it is gone");
	{
		auth_session c;
		CHECK(auth_session_check(a, tok, T0 + 100, &c, err, sizeof err) == 0);
		CHECK(strcmp(c.user.name, "dora") == 0 && strcmp(c.csrf, s.csrf) == 0 &&
		      c.expires_at == T0 + 100 + IDLE);
		CHECK(auth_session_check(a, tok, T0 + 100 + IDLE, &c, err, sizeof err) == 0);
		CHECK(auth_session_check(a, tok, T0 + 100 + 2 * IDLE + 1, &c, err, sizeof err) == 1);
		CHECK(c.user.id == 0 && c.csrf[0] == '\0');
		CHECK(count(st, "SELECT count(*) FROM sessions WHERE token_hash = ?1", hash) == 0);
		CHECK(auth_session_check(a, tok, T0 + 100, &c, err, sizeof err) == 1);
	}
	CASE_END();

	CASE_BEGIN("auth: activity renews a session; an idle one ends");
	{
		auth_session c;
		CHECK(login(a, "dora", GOOD_PW, "198.51.100.51", T0, tok, NULL) == AUTH_LOGIN_OK);
		for (int i = 1; i <= 5; i++)
			CHECKF(auth_session_check(a, tok, T0 + i * (IDLE - 1), &c, err, sizeof err) == 0,
			       "use %d", i);
		CHECK(c.expires_at == T0 + 5 * (IDLE - 1) + IDLE);
		/* a clock stepping back does not shorten the session */
		CHECK(auth_session_check(a, tok, T0, &c, err, sizeof err) == 0 &&
		      c.expires_at == T0 + 5 * (IDLE - 1) + IDLE);
		CHECK(auth_session_check(a, tok, T0 + 6 * (IDLE - 1) + 7, &c, err, sizeof err) == 1);
	}
	CASE_END();

	CASE_BEGIN("auth: logout ends the session; unknown and malformed tokens are harmless");
	{
		auth_session c;
		char upper[AUTH_TOKEN_LEN + 1], longer[AUTH_TOKEN_LEN + 2];
		CHECK(login(a, "dora", GOOD_PW, "198.51.100.52", T0, tok, NULL) == AUTH_LOGIN_OK);
		CHECK(login(a, "dora", GOOD_PW, "198.51.100.52", T0, tok2, NULL) == AUTH_LOGIN_OK);
		CHECK(auth_logout(a, tok, err, sizeof err) == 0);
		CHECK(auth_session_check(a, tok, T0 + 1, &c, err, sizeof err) == 1);
		CHECK(auth_session_check(a, tok2, T0 + 1, &c, err, sizeof err) == 0);
		CHECK(auth_logout(a, tok, err, sizeof err) == 0);
		CHECK(auth_logout(a, "not a token", err, sizeof err) == 0 && auth_logout(a, NULL, err, sizeof err) == 0);
		for (size_t i = 0; i < AUTH_TOKEN_LEN; i++)
			upper[i] = (char)(tok2[i] >= 'a' ? tok2[i] - 32 : tok2[i]);
		upper[AUTH_TOKEN_LEN] = '\0';
		snprintf(longer, sizeof longer, "%s0", tok2);
		CHECK(auth_session_check(a, NULL, T0 + 1, &c, err, sizeof err) == 1);
		CHECK(auth_session_check(a, "", T0 + 1, &c, err, sizeof err) == 1);
		CHECK(auth_session_check(a, upper, T0 + 1, &c, err, sizeof err) == 1);
		CHECK(auth_session_check(a, longer, T0 + 1, &c, err, sizeof err) == 1);
		CHECK(auth_session_check(a, "'; DROP TABLE sessions; --", T0 + 1, &c, err, sizeof err) == 1);
		CHECK(auth_session_check(a, tok2, T0 + 2, &c, err, sizeof err) == 0);
	}
	CASE_END();

	CASE_BEGIN("auth: a new password ends every session of that user");
	{
		auth_session c;
		char other[AUTH_TOKEN_LEN + 1];
		CHECK(login(a, "dora", GOOD_PW, "198.51.100.53", T0, tok, NULL) == AUTH_LOGIN_OK);
		CHECK(login(a, "ana", GOOD_PW, "198.51.100.53", T0, other, NULL) == AUTH_LOGIN_OK);
		CHECK(auth_user_set_password(a, "dora", "a brand new secret", err, sizeof err) == 0);
		CHECK(auth_session_check(a, tok, T0 + 1, &c, err, sizeof err) == 1);
		CHECK(auth_session_check(a, tok2, T0 + 1, &c, err, sizeof err) == 1);
		CHECK(auth_session_check(a, other, T0 + 1, &c, err, sizeof err) == 0);
		CHECK(login(a, "dora", GOOD_PW, "198.51.100.54", T0, tok, NULL) == AUTH_LOGIN_BAD);
		CHECK(login(a, "dora", "a brand new secret", "198.51.100.54", T0, tok, NULL) == AUTH_LOGIN_OK);
		CHECK(auth_user_set_password(a, "dora", "short", err, sizeof err) < 0);
		CHECK(auth_user_set_password(a, "nobody", "a brand new secret", err, sizeof err) == 1);
	}
	CASE_END();

	CASE_BEGIN("auth: disabling ends the sessions and refuses logins until enabled");
	{
		auth_session c;
		CHECK(login(a, "dora", "a brand new secret", "198.51.100.55", T0, tok, NULL) == AUTH_LOGIN_OK);
		CHECK(auth_user_disable(a, "dora", 1, err, sizeof err) == 0);
		CHECK(auth_session_check(a, tok, T0 + 1, &c, err, sizeof err) == 1);
		CHECK(login(a, "dora", "a brand new secret", "198.51.100.56", T0, tok, NULL) == AUTH_LOGIN_BAD);
		CHECK(auth_user_disable(a, "dora", 0, err, sizeof err) == 0);
		CHECK(login(a, "dora", "a brand new secret", "198.51.100.57", T0, tok, NULL) == AUTH_LOGIN_OK);
		CHECK(auth_user_disable(a, "nobody", 1, err, sizeof err) == 1);
		/* a session of a user disabled behind auth's back is refused too */
		CHECK(sqlite3_exec(store_db(st), "UPDATE users SET disabled = 1 WHERE name = 'dora'",
				   NULL, NULL, NULL) == SQLITE_OK);
		CHECK(auth_session_check(a, tok, T0 + 1, &c, err, sizeof err) == 1);
		CHECK(auth_user_disable(a, "dora", 0, err, sizeof err) == 0);
		CHECK(auth_session_check(a, tok, T0 + 2, &c, err, sizeof err) == 1);
	}
	CASE_END();

	CASE_BEGIN("auth: sweep deletes the idle sessions only");
	{
		long long before = count(st, "SELECT count(*) FROM sessions", NULL);
		CHECK(login(a, "dora", "a brand new secret", "198.51.100.58", T0 + 5000, tok, NULL) == AUTH_LOGIN_OK);
		CHECK(auth_sweep(a, T0 + 5000) == before);
		CHECK(count(st, "SELECT count(*) FROM sessions", NULL) == 1);
		CHECK(auth_session_check(a, tok, T0 + 5001, &s, err, sizeof err) == 0);
		CHECK(auth_sweep(a, T0 + 5001) == 0);
	}
	CASE_END();
}

static void test_throttle(auth *a)
{
	char err[256], tok[AUTH_TOKEN_LEN + 1], peer[32];
	int retry = -1;
	int64_t now = T0 + 100000;

	CHECK(auth_user_add(a, "tina", "Tina", AUTH_ROLE_STAFF, GOOD_PW, err, sizeof err) == 0);

	CASE_BEGIN("auth: 5 failures for an account throttle it, even with the right password");
	for (int i = 0; i < 5; i++) {
		snprintf(peer, sizeof peer, "203.0.113.%d", i);   /* a new address each time */
		CHECKF(login(a, "tina", "wrong password", peer, now + i, tok, &retry) == AUTH_LOGIN_BAD,
		       "failure %d", i + 1);
	}
	now += 4;   /* the 5th failure */
	CHECK(login(a, "tina", GOOD_PW, "203.0.113.100", now + 1, tok, &retry) == AUTH_LOGIN_THROTTLED);
	CHECK(retry == 29 && tok[0] == '\0');
	CHECK(login(a, "tina", GOOD_PW, "203.0.113.101", now + 29, tok, &retry) == AUTH_LOGIN_THROTTLED &&
	      retry == 1);
	CASE_END();

	CASE_BEGIN("auth: each further failure doubles the delay, up to 15 minutes");
	{
		static const int delays[] = { 60, 120, 240, 480, 900, 900 };
		now += 30;
		for (size_t i = 0; i < sizeof delays / sizeof delays[0]; i++) {
			CHECKF(login(a, "tina", "wrong again", "203.0.113.102", now, tok, &retry) == AUTH_LOGIN_BAD,
			       "failure after delay %zu", i);
			CHECK(login(a, "tina", GOOD_PW, "203.0.113.103", now, tok, &retry) == AUTH_LOGIN_THROTTLED);
			CHECKF(retry == delays[i], "delay %zu: %d, want %d", i, retry, delays[i]);
			now += delays[i];
		}
	}
	CASE_END();

	CASE_BEGIN("auth: after the delay the right password logs in, and clears the counts");
	CHECK(login(a, "tina", GOOD_PW, "203.0.113.104", now, tok, &retry) == AUTH_LOGIN_OK && retry == 0);
	for (int i = 0; i < 4; i++)
		CHECK(login(a, "tina", "wrong password", "203.0.113.105", now + 1, tok, &retry) == AUTH_LOGIN_BAD);
	CHECK(login(a, "tina", GOOD_PW, "203.0.113.106", now + 2, tok, &retry) == AUTH_LOGIN_OK);
	for (int i = 0; i < 4; i++)
		CHECK(login(a, "tina", "wrong password", "203.0.113.107", now + 3, tok, &retry) == AUTH_LOGIN_BAD);
	CHECK(login(a, "tina", GOOD_PW, "203.0.113.105", now + 4, tok, &retry) == AUTH_LOGIN_OK);
	CASE_END();

	CASE_BEGIN("auth: failures spread over more than 15 minutes do not throttle");
	now += 10;
	for (int i = 0; i < 10; i++)
		CHECKF(login(a, "tina", "wrong password", "203.0.113.108", now + i * 240, tok, &retry) ==
		       AUTH_LOGIN_BAD, "failure %d", i);
	CHECK(login(a, "tina", GOOD_PW, "203.0.113.109", now + 9 * 240 + 1, tok, &retry) == AUTH_LOGIN_OK);
	CASE_END();

	CASE_BEGIN("auth: 5 failures from one address throttle it for every name");
	now += 5000;
	{
		static const char *const names[] = { "tina", "ana", "nobody", "Not A Name", "x" };
		for (int i = 0; i < 5; i++)
			CHECK(login(a, names[i], "guess123456", "192.0.2.9", now, tok, &retry) == AUTH_LOGIN_BAD);
	}
	CHECK(login(a, "dora", "a brand new secret", "192.0.2.9", now + 1, tok, &retry) ==
	      AUTH_LOGIN_THROTTLED && retry == 29);
	CHECK(login(a, "dora", "a brand new secret", "192.0.2.10", now + 1, tok, &retry) == AUTH_LOGIN_OK);
	/* tina's own count is 1 (+ 0 in the others): her account is not throttled */
	CHECK(login(a, "tina", GOOD_PW, "192.0.2.11", now + 1, tok, &retry) == AUTH_LOGIN_OK);
	CHECK(login(a, "dora", "a brand new secret", "192.0.2.9", now + 30, tok, &retry) == AUTH_LOGIN_OK);
	/* that success cleared the address: 4 more failures do not throttle it */
	for (int i = 0; i < 4; i++)
		CHECK(login(a, "nobody", "guess123456", "192.0.2.9", now + 31, tok, &retry) == AUTH_LOGIN_BAD);
	CHECK(login(a, "ana", GOOD_PW, "192.0.2.9", now + 32, tok, &retry) == AUTH_LOGIN_OK);
	CASE_END();

	CASE_BEGIN("auth: a failed login is throttled as soon as an account's count is reached");
	now += 5000;
	for (int i = 0; i < 5; i++) {
		snprintf(peer, sizeof peer, "2001:db8::%d", i);
		CHECK(login(a, "ghost", "guess123456", peer, now, tok, &retry) == AUTH_LOGIN_BAD);
	}
	/* unknown but valid names are throttled like real ones (no hint either way) */
	CHECK(login(a, "ghost", "guess123456", "2001:db8::99", now + 1, tok, &retry) == AUTH_LOGIN_THROTTLED);
	CASE_END();
}

static void test_lists(auth *a)
{
	char err[256];
	json_t *list;
	char *dump;
	int admins;

	CASE_BEGIN("auth: the user list holds the public fields, sorted by name, never a hash");
	list = auth_user_list(a, err, sizeof err);
	CHECK(json_is_array(list) && json_array_size(list) >= 5);
	dump = list ? json_dumps(list, JSON_COMPACT) : NULL;
	CHECK(dump && !strstr(dump, "$argon2") && !strstr(dump, "pw_hash") && !strstr(dump, "hash"));
	free(dump);
	{
		size_t i;
		json_t *u;
		const char *prev = "";
		json_array_foreach(list, i, u) {
			const char *name = json_string_value(json_object_get(u, "name"));
			CHECK(name && strcmp(prev, name) < 0);
			prev = name ? name : prev;
			CHECK(json_object_size(u) == 6 && json_is_integer(json_object_get(u, "id")) &&
			      json_is_string(json_object_get(u, "display")) &&
			      json_is_string(json_object_get(u, "role")) &&
			      json_is_boolean(json_object_get(u, "disabled")) &&
			      json_is_integer(json_object_get(u, "created_at")));
		}
	}
	json_decref(list);
	CASE_END();

	CASE_BEGIN("auth: the admin count covers enabled admins only");
	admins = auth_admin_count(a);
	CHECK(admins == 1);   /* ana */
	CHECK(auth_user_add(a, "root2", "Boss", AUTH_ROLE_ADMIN, GOOD_PW, err, sizeof err) == 0);
	CHECK(auth_admin_count(a) == admins + 1);
	CHECK(auth_user_disable(a, "root2", 1, err, sizeof err) == 0);
	CHECK(auth_admin_count(a) == admins);
	CHECK(auth_user_disable(a, "ana", 1, err, sizeof err) == 0);
	CHECK(auth_admin_count(a) == admins - 1);
	CHECK(auth_user_disable(a, "ana", 0, err, sizeof err) == 0);
	CASE_END();
}

static void test_cookies(void)
{
	char big[600], out[AUTH_TOKEN_LEN + 1];
	CASE_BEGIN("auth: the session cookie is found by exact name in any Cookie header");
	{
		static const struct { const char *header; const char *want; } cases[] = {
			{ "fd_session=abc", "abc" },
			{ "a=1; fd_session=abc; b=2", "abc" },
			{ "a=1;fd_session=abc;b=2", "abc" },
			{ "  fd_session = abc  ; b=2", "abc" },
			{ "xfd_session=evil; fd_session=good", "good" },
			{ "xfd_session=evil", NULL },
			{ "fd_session_x=evil", NULL },
			{ "fd_sessio=evil", NULL },
			{ "fd_session=\"quoted\"", "quoted" },
			{ "fd_session=\"", "\"" },
			{ "fd_session=", "" },
			{ "fd_session", NULL },
			{ "fd_session; fd_session=later", "later" },
			{ "a=b=c; fd_session=x=y", "x=y" },
			{ "fd_session=first; fd_session=second", "first" },
			{ ";;;", NULL },
			{ "=; =abc; fd_session=ok", "ok" },
			{ "", NULL },
			{ NULL, NULL },
		};
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			int rc = auth_cookie_get(cases[i].header, AUTH_COOKIE, out, sizeof out);
			if (cases[i].want)
				CHECKF(rc == 0 && strcmp(out, cases[i].want) == 0, "cookie case %zu: rc %d \"%s\"",
				       i, rc, out);
			else
				CHECKF(rc == 1 && out[0] == '\0', "cookie case %zu: rc %d", i, rc);
		}
	}
	/* a value longer than the buffer is absent, not cut */
	snprintf(big, sizeof big, "fd_session=%0*d", 65, 7);
	CHECK(auth_cookie_get(big, AUTH_COOKIE, out, sizeof out) == 1 && out[0] == '\0');
	snprintf(big, sizeof big, "fd_session=%0*d", 64, 7);
	CHECK(auth_cookie_get(big, AUTH_COOKIE, out, sizeof out) == 0 && strlen(out) == 64);
	memset(big, ';', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CHECK(auth_cookie_get(big, AUTH_COOKIE, out, sizeof out) == 1);
	CHECK(auth_cookie_get("fd_session=abc", AUTH_COOKIE, out, 0) == 1);
	CHECK(auth_cookie_get("fd_session=abc", "", out, sizeof out) == 1);
	CHECK(auth_cookie_get("fd_session=abc", NULL, out, sizeof out) == 1);
	CASE_END();
}

void test_auth(void)
{
	store *st = NULL;
	auth *a = NULL;
	char err[256];

	CASE_BEGIN("auth: opens on a store and creates its tables");
	CHECKF(store_open(":memory:", &st, err, sizeof err) == 0, "%s", err);
	CHECKF(st && auth_open(st, IDLE, &a, err, sizeof err) == 0, "%s", err);
	CASE_END();
	if (!a) {
		store_close(st);
		return;
	}
	test_accounts(st, a);
	test_sessions(st, a);
	test_throttle(a);
	test_lists(a);
	test_cookies();
	auth_close(a);
	store_close(st);
}
