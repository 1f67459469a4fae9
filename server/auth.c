/* auth: see auth.h. */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>

#include "util.h"

/* OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane (about 70 ms
 * here). Stored in each hash, so raising them later keeps old hashes valid. */
#define PW_M_KIB 19456
#define PW_T 2
#define PW_P 1
#define PW_SALT 16
#define PW_HASH 32
#define PW_ENCODED_MAX 128   /* argon2_encodedlen() says 98 for these values */

#define STR_(x) #x
#define STR(x) STR_(x)
/* Verified against for unknown names, so a wrong name costs what a wrong
 * password costs. Its parameters come from the macros above (a verify runs
 * at the cost its hash names); the salt and hash are of a random password
 * nobody knows. */
static const char dummy_hash[] =
	"$argon2id$v=19$m=" STR(PW_M_KIB) ",t=" STR(PW_T) ",p=" STR(PW_P) "$"
	"N96JCNBQr41U7pezlnEnOQ$RR/BcZKO+fSptRdjzG/qsYmYXlqkzIoX8WAHmgkJmCo";

/* Throttling (auth.h): THR_FAILS failures within THR_WINDOW start a delay
 * of THR_DELAY0, doubled by each further failure up to THR_DELAY_MAX. The
 * doubling goes on until THR_WINDOW has passed since the delay ended with no
 * new failure; then the key starts clean. */
#define THR_FAILS 5
#define THR_WINDOW (15 * 60)
#define THR_DELAY0 30
#define THR_DELAY_MAX (15 * 60)
#define THR_KEY 72            /* "u:" + name (<= 64) or "a:" + peer (cut at 64) */
#define THR_PRUNE_AT 4096     /* entries; past this, forget the stale ones */
#define THR_MAX_CAP 65536     /* slots (136 bytes each); at most half are used */

typedef struct thr_entry {
	char key[THR_KEY];           /* "" marks a free slot */
	int64_t fail[THR_FAILS];     /* the last THR_FAILS failure times, a ring */
	int nfail;                   /* how many of fail[] are set */
	int head;                    /* where the next failure goes */
	int level;                   /* 0: not throttled; n: n-th delay in a row */
	int64_t until;               /* refused before this time */
} thr_entry;

struct auth {
	store *st;
	sqlite3 *db;                 /* borrowed from st */
	int idle_s;
	thr_entry *thr;              /* open addressing, linear probing */
	size_t thr_cap, thr_n;
	int thr_full_logged;
	sqlite3_stmt *u_add, *u_by_name, *u_by_id, *u_set_pw, *u_set_dis, *u_list, *u_admins;
	sqlite3_stmt *s_add, *s_get, *s_touch, *s_del, *s_del_user, *s_sweep;
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS users("
	"  id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, display TEXT NOT NULL,"
	"  role TEXT NOT NULL, pw_hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS sessions("
	"  token_hash TEXT PRIMARY KEY,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  csrf TEXT NOT NULL, created_at INTEGER NOT NULL, last_seen INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_id);";

#define USER_COLS "id, name, display, role, disabled, created_at"

static int db_fail(auth *a, char *err, size_t errsz, const char *what)
{
	snprintf(err, errsz, "%s: %s", what, sqlite3_errmsg(a->db));
	return -1;
}

static int prepare(auth *a, sqlite3_stmt **out, const char *sql, char *err, size_t errsz)
{
	if (sqlite3_prepare_v3(a->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK)
		return db_fail(a, err, errsz, "prepare");
	return 0;
}

/* Statements are kept prepared; this returns one to its idle state so it
 * holds no read transaction open between calls. */
static void done(sqlite3_stmt *q)
{
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
}

int auth_open(store *st, int idle_s, auth **out, char *err, size_t errsz)
{
	auth *a = calloc(1, sizeof *a);
	char *msg = NULL;

	*out = NULL;
	if (!a) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	a->st = st;
	a->db = store_db(st);
	a->idle_s = idle_s > 0 ? idle_s : AUTH_IDLE_DEFAULT_S;
	a->thr_cap = 64;
	if (!(a->thr = calloc(a->thr_cap, sizeof *a->thr))) {
		snprintf(err, errsz, "out of memory");
		goto bad;
	}
	if (sqlite3_exec(a->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errsz, "auth schema: %s", msg ? msg : "error");
		sqlite3_free(msg);
		goto bad;
	}
	if (prepare(a, &a->u_add, "INSERT INTO users(name, display, role, pw_hash, disabled, created_at)"
		    " VALUES(?1, ?2, ?3, ?4, 0, ?5)", err, errsz) ||
	    prepare(a, &a->u_by_name, "SELECT " USER_COLS ", pw_hash FROM users WHERE name = ?1",
		    err, errsz) ||
	    prepare(a, &a->u_by_id, "SELECT " USER_COLS ", pw_hash FROM users WHERE id = ?1",
		    err, errsz) ||
	    prepare(a, &a->u_set_pw, "UPDATE users SET pw_hash = ?2 WHERE id = ?1", err, errsz) ||
	    prepare(a, &a->u_set_dis, "UPDATE users SET disabled = ?2 WHERE id = ?1", err, errsz) ||
	    prepare(a, &a->u_list, "SELECT " USER_COLS " FROM users ORDER BY name", err, errsz) ||
	    prepare(a, &a->u_admins, "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0",
		    err, errsz) ||
	    prepare(a, &a->s_add, "INSERT INTO sessions(token_hash, user_id, csrf, created_at, last_seen)"
		    " VALUES(?1, ?2, ?3, ?4, ?4)", err, errsz) ||
	    prepare(a, &a->s_get, "SELECT s.user_id, s.csrf, s.last_seen FROM sessions s"
		    " WHERE s.token_hash = ?1", err, errsz) ||
	    prepare(a, &a->s_touch, "UPDATE sessions SET last_seen = ?2 WHERE token_hash = ?1"
		    " AND last_seen < ?2", err, errsz) ||
	    prepare(a, &a->s_del, "DELETE FROM sessions WHERE token_hash = ?1", err, errsz) ||
	    prepare(a, &a->s_del_user, "DELETE FROM sessions WHERE user_id = ?1", err, errsz) ||
	    prepare(a, &a->s_sweep, "DELETE FROM sessions WHERE last_seen < ?1", err, errsz))
		goto bad;
	*out = a;
	return 0;
bad:
	auth_close(a);
	return -1;
}

void auth_close(auth *a)
{
	if (!a)
		return;
	sqlite3_finalize(a->u_add);
	sqlite3_finalize(a->u_by_name);
	sqlite3_finalize(a->u_by_id);
	sqlite3_finalize(a->u_set_pw);
	sqlite3_finalize(a->u_set_dis);
	sqlite3_finalize(a->u_list);
	sqlite3_finalize(a->u_admins);
	sqlite3_finalize(a->s_add);
	sqlite3_finalize(a->s_get);
	sqlite3_finalize(a->s_touch);
	sqlite3_finalize(a->s_del);
	sqlite3_finalize(a->s_del_user);
	sqlite3_finalize(a->s_sweep);
	free(a->thr);
	free(a);
}

store *auth_store(auth *a)
{
	return a->st;
}

const char *auth_role_name(auth_role r)
{
	switch (r) {
	case AUTH_ROLE_STAFF: return "staff";
	case AUTH_ROLE_ADMIN: return "admin";
	}
	return "unknown";
}

auth_role auth_role_parse(const char *s)
{
	if (s && strcmp(s, "staff") == 0)
		return AUTH_ROLE_STAFF;
	if (s && strcmp(s, "admin") == 0)
		return AUTH_ROLE_ADMIN;
	return (auth_role)0;
}

/* ---- rules ------------------------------------------------------------ */

static int name_ok(const char *name)
{
	size_t n = 0;
	if (!name)
		return 0;
	for (; name[n]; n++) {
		char c = name[n];
		if (n >= AUTH_NAME_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return n > 0;
}

int auth_name_check(const char *name, char *err, size_t errsz)
{
	if (name_ok(name))
		return 0;
	snprintf(err, errsz, "a login name is 1 to %d characters of a-z 0-9 . _ -", AUTH_NAME_MAX);
	return -1;
}

int auth_password_check(const char *password, char *err, size_t errsz)
{
	size_t bytes, chars = 0;
	if (!password) {
		snprintf(err, errsz, "no password");
		return -1;
	}
	bytes = strlen(password);
	if (bytes > AUTH_PASSWORD_MAX) {
		snprintf(err, errsz, "password too long (at most %d bytes)", AUTH_PASSWORD_MAX);
		return -1;
	}
	if (!util_utf8_valid(password, bytes)) {
		snprintf(err, errsz, "password is not valid UTF-8");
		return -1;
	}
	for (size_t i = 0; i < bytes; i++)   /* characters, not bytes: skip continuations */
		chars += ((unsigned char)password[i] & 0xC0) != 0x80;
	if (chars < AUTH_PASSWORD_MIN) {
		snprintf(err, errsz, "password must be at least %d characters", AUTH_PASSWORD_MIN);
		return -1;
	}
	return 0;
}

/* Display names are shown to patients: printable UTF-8, 1..127 bytes. */
static int display_check(const char *display, char *err, size_t errsz)
{
	size_t n = strlen(display);
	int bad = n == 0 || n >= sizeof(((auth_user *)0)->display) || !util_utf8_valid(display, n);
	for (size_t i = 0; !bad && i < n; i++)
		bad = (unsigned char)display[i] < 0x20 || display[i] == 0x7f;
	if (!bad)
		return 0;
	snprintf(err, errsz, "a display name is 1 to %zu bytes of printable text",
		 sizeof(((auth_user *)0)->display) - 1);
	return -1;
}

static int hash_password(const char *password, char out[PW_ENCODED_MAX], char *err, size_t errsz)
{
	unsigned char salt[PW_SALT];
	int r;
	if (util_random(salt, sizeof salt) < 0) {
		snprintf(err, errsz, "no randomness available");
		return -1;
	}
	r = argon2id_hash_encoded(PW_T, PW_M_KIB, PW_P, password, strlen(password), salt, sizeof salt,
				  PW_HASH, out, PW_ENCODED_MAX);
	if (r != ARGON2_OK) {
		snprintf(err, errsz, "argon2id: %s", argon2_error_message(r));
		return -1;
	}
	return 0;
}

/* ---- accounts --------------------------------------------------------- */

/* Copies the USER_COLS of q's current row into u. 0, or -1 on a role the
 * database should not hold. */
static int read_user(sqlite3_stmt *q, auth_user *u)
{
	const char *name = (const char *)sqlite3_column_text(q, 1);
	const char *display = (const char *)sqlite3_column_text(q, 2);
	memset(u, 0, sizeof *u);
	u->id = sqlite3_column_int64(q, 0);
	snprintf(u->name, sizeof u->name, "%s", name ? name : "");
	snprintf(u->display, sizeof u->display, "%s", display ? display : "");
	u->role = auth_role_parse((const char *)sqlite3_column_text(q, 3));
	u->disabled = sqlite3_column_int(q, 4) != 0;
	u->created_at = sqlite3_column_int64(q, 5);
	return u->role ? 0 : -1;
}

/* Runs a user query (u_by_name or u_by_id, already bound); copies the row
 * and, when pw_hash is given, the stored hash. 0 found, 1 not, -1 error. */
static int fetch_user(auth *a, sqlite3_stmt *q, auth_user *u, char *pw_hash, char *err, size_t errsz)
{
	int rc;
	switch (sqlite3_step(q)) {
	case SQLITE_ROW:
		rc = 0;
		if (read_user(q, u) < 0) {
			snprintf(err, errsz, "user %lld has an unknown role", (long long)u->id);
			rc = -1;
		} else if (pw_hash) {
			const char *h = (const char *)sqlite3_column_text(q, 6);
			if (!h || strlen(h) >= PW_ENCODED_MAX * 2) {
				snprintf(err, errsz, "user %s: unreadable password hash", u->name);
				rc = -1;
			} else {
				strcpy(pw_hash, h);
			}
		}
		break;
	case SQLITE_DONE:
		rc = 1;
		break;
	default:
		rc = db_fail(a, err, errsz, "user");
	}
	done(q);
	return rc;
}

int auth_user_get(auth *a, const char *name, auth_user *out, char *err, size_t errsz)
{
	if (!name_ok(name))
		return 1;
	sqlite3_bind_text(a->u_by_name, 1, name, -1, SQLITE_STATIC);
	return fetch_user(a, a->u_by_name, out, NULL, err, errsz);
}

int auth_user_get_id(auth *a, int64_t id, auth_user *out, char *err, size_t errsz)
{
	sqlite3_bind_int64(a->u_by_id, 1, id);
	return fetch_user(a, a->u_by_id, out, NULL, err, errsz);
}

int auth_user_add(auth *a, const char *name, const char *display, auth_role role,
		  const char *password, char *err, size_t errsz)
{
	char hash[PW_ENCODED_MAX];
	auth_user u;
	int rc = -1, step;

	if (!display)
		display = name;
	if (auth_name_check(name, err, errsz) < 0 || display_check(display, err, errsz) < 0 ||
	    auth_password_check(password, err, errsz) < 0)
		return -1;
	if (role != AUTH_ROLE_STAFF && role != AUTH_ROLE_ADMIN) {
		snprintf(err, errsz, "a role is staff or admin");
		return -1;
	}
	/* Checked first so a taken name does not cost a hash; the UNIQUE
	 * constraint still decides a race. */
	switch (auth_user_get(a, name, &u, err, errsz)) {
	case 0:
		snprintf(err, errsz, "user %s exists", name);
		return -1;
	case 1:
		break;
	default:
		return -1;
	}
	if (hash_password(password, hash, err, errsz) < 0)
		goto out;
	sqlite3_bind_text(a->u_add, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(a->u_add, 2, display, -1, SQLITE_STATIC);
	sqlite3_bind_text(a->u_add, 3, auth_role_name(role), -1, SQLITE_STATIC);
	sqlite3_bind_text(a->u_add, 4, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(a->u_add, 5, util_now_us() / 1000000);
	step = sqlite3_step(a->u_add);
	if (step == SQLITE_DONE)
		rc = 0;
	else if (sqlite3_extended_errcode(a->db) == SQLITE_CONSTRAINT_UNIQUE)
		snprintf(err, errsz, "user %s exists", name);
	else
		db_fail(a, err, errsz, "add user");
	done(a->u_add);
out:
	explicit_bzero(hash, sizeof hash);
	return rc;
}

static int end_sessions(auth *a, int64_t user_id, char *err, size_t errsz)
{
	int rc = 0;
	sqlite3_bind_int64(a->s_del_user, 1, user_id);
	if (sqlite3_step(a->s_del_user) != SQLITE_DONE)
		rc = db_fail(a, err, errsz, "end sessions");
	done(a->s_del_user);
	return rc;
}

/* Sets one column of a user (q: u_set_pw or u_set_dis with ?2 bound) and
 * ends the user's sessions, in one transaction. */
static int update_user(auth *a, sqlite3_stmt *q, int64_t id, int end, char *err, size_t errsz)
{
	int rc = -1;
	if (store_begin(a->st, err, errsz) < 0) {
		done(q);
		return -1;
	}
	sqlite3_bind_int64(q, 1, id);
	if (sqlite3_step(q) != SQLITE_DONE) {
		db_fail(a, err, errsz, "update user");
		goto out;
	}
	if (end && end_sessions(a, id, err, errsz) < 0)
		goto out;
	rc = store_commit(a->st, err, errsz);
out:
	done(q);
	if (rc < 0)
		store_rollback(a->st);
	return rc;
}

int auth_user_set_password(auth *a, const char *name, const char *password, char *err, size_t errsz)
{
	char hash[PW_ENCODED_MAX];
	auth_user u;
	int rc;

	if (auth_password_check(password, err, errsz) < 0)
		return -1;
	if ((rc = auth_user_get(a, name, &u, err, errsz)) != 0)
		return rc;
	if (hash_password(password, hash, err, errsz) < 0)
		return -1;
	sqlite3_bind_text(a->u_set_pw, 2, hash, -1, SQLITE_STATIC);
	rc = update_user(a, a->u_set_pw, u.id, 1, err, errsz);
	explicit_bzero(hash, sizeof hash);
	return rc;
}

int auth_user_disable(auth *a, const char *name, int disabled, char *err, size_t errsz)
{
	auth_user u;
	int rc;

	if ((rc = auth_user_get(a, name, &u, err, errsz)) != 0)
		return rc;
	sqlite3_bind_int(a->u_set_dis, 2, disabled != 0);
	return update_user(a, a->u_set_dis, u.id, disabled != 0, err, errsz);
}

json_t *auth_user_list(auth *a, char *err, size_t errsz)
{
	json_t *arr = json_array();
	int step;

	if (!arr) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	while ((step = sqlite3_step(a->u_list)) == SQLITE_ROW) {
		auth_user u;
		json_t *o;
		if (read_user(a->u_list, &u) < 0) {
			snprintf(err, errsz, "user %lld has an unknown role", (long long)u.id);
			goto bad;
		}
		o = json_pack("{s:I, s:s, s:s, s:s, s:b, s:I}", "id", (json_int_t)u.id, "name", u.name,
			      "display", u.display, "role", auth_role_name(u.role),
			      "disabled", u.disabled, "created_at", (json_int_t)u.created_at);
		if (!o || json_array_append_new(arr, o) < 0) {
			snprintf(err, errsz, "out of memory");
			goto bad;
		}
	}
	if (step != SQLITE_DONE) {
		db_fail(a, err, errsz, "list users");
		goto bad;
	}
	done(a->u_list);
	return arr;
bad:
	done(a->u_list);
	json_decref(arr);
	return NULL;
}

int auth_admin_count(auth *a)
{
	int n = -1;
	if (sqlite3_step(a->u_admins) == SQLITE_ROW)
		n = sqlite3_column_int(a->u_admins, 0);
	done(a->u_admins);
	return n;
}

/* ---- throttling ------------------------------------------------------- */

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* A stale entry says nothing a missing one would not: dropping it changes
 * no decision. */
static int thr_stale(const thr_entry *e, int64_t now)
{
	if (e->level > 0)
		return now > e->until + THR_WINDOW;
	if (e->nfail == 0)
		return 1;
	return e->fail[(e->head + THR_FAILS - 1) % THR_FAILS] < now - THR_WINDOW;
}

static thr_entry *thr_slot(thr_entry *tab, size_t cap, const char *key)
{
	size_t i = (size_t)fnv1a(key) & (cap - 1);
	while (tab[i].key[0] && strcmp(tab[i].key, key) != 0)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

/* Rebuilds the table at cap slots without its stale entries and, when
 * only_throttled, without those not refusing anyone right now. */
static int thr_rebuild(auth *a, size_t cap, int64_t now, int only_throttled)
{
	thr_entry *tab = calloc(cap, sizeof *tab);
	size_t n = 0;
	if (!tab)
		return -1;
	for (size_t i = 0; i < a->thr_cap; i++) {
		const thr_entry *e = &a->thr[i];
		if (!e->key[0] || thr_stale(e, now) || (only_throttled && now >= e->until))
			continue;
		*thr_slot(tab, cap, e->key) = *e;
		n++;
	}
	free(a->thr);
	a->thr = tab;
	a->thr_cap = cap;
	a->thr_n = n;
	return 0;
}

/* The entry of key, or NULL when absent (create 0) or when memory is out
 * (create 1). The table stays at most half full: when a new key would pass
 * that, stale entries go first (once there are THR_PRUNE_AT), then the
 * table doubles up to THR_MAX_CAP, then only throttled entries are kept. */
static thr_entry *thr_find(auth *a, const char *key, int64_t now, int create)
{
	thr_entry *e = thr_slot(a->thr, a->thr_cap, key);
	if (e->key[0] || !create)
		return e->key[0] ? e : NULL;
	if ((a->thr_n + 1) * 2 > a->thr_cap) {
		if (a->thr_n >= THR_PRUNE_AT)
			thr_rebuild(a, a->thr_cap, now, 0);
		if ((a->thr_n + 1) * 2 > a->thr_cap && a->thr_cap < THR_MAX_CAP)
			thr_rebuild(a, a->thr_cap * 2, now, 0);
		if ((a->thr_n + 1) * 2 > a->thr_cap)
			thr_rebuild(a, a->thr_cap, now, 1);
		if ((a->thr_n + 1) * 2 > a->thr_cap) {
			if (!a->thr_full_logged++)
				LOG_WARN("auth: login throttling table full (%zu keys)", a->thr_n);
			return NULL;
		}
		e = thr_slot(a->thr, a->thr_cap, key);
	}
	memset(e, 0, sizeof *e);
	snprintf(e->key, sizeof e->key, "%s", key);
	a->thr_n++;
	return e;
}

/* Seconds until key may try again, 0 if it may now. */
static int thr_wait(auth *a, const char *key, int64_t now)
{
	const thr_entry *e = key[0] ? thr_find(a, key, now, 0) : NULL;
	return e && now < e->until ? (int)(e->until - now) : 0;
}

/* Counts a failure; returns 1 if it starts or extends a delay. */
static int thr_fail(auth *a, const char *key, int64_t now)
{
	thr_entry *e = key[0] ? thr_find(a, key, now, 1) : NULL;
	int64_t delay;
	if (!e)
		return 0;
	if (thr_stale(e, now)) {
		e->nfail = e->head = e->level = 0;
		e->until = 0;
	}
	e->fail[e->head] = now;
	e->head = (e->head + 1) % THR_FAILS;
	if (e->nfail < THR_FAILS)
		e->nfail++;
	/* With the ring full, fail[head] is the oldest of the last THR_FAILS. */
	if (e->level == 0 && (e->nfail < THR_FAILS || e->fail[e->head] < now - THR_WINDOW))
		return 0;
	if (e->level < 32)
		e->level++;
	delay = e->level > 6 ? THR_DELAY_MAX : (int64_t)THR_DELAY0 << (e->level - 1);
	e->until = now + (delay < THR_DELAY_MAX ? delay : THR_DELAY_MAX);
	return 1;
}

static void thr_clear(auth *a, const char *key, int64_t now)
{
	thr_entry *e = key[0] ? thr_find(a, key, now, 0) : NULL;
	if (e) {   /* left in place (linear probing has no cheap delete), now stale */
		e->nfail = e->head = e->level = 0;
		e->until = 0;
	}
}

/* ---- sessions --------------------------------------------------------- */

static int token_ok(const char *token)
{
	size_t n = 0;
	if (!token)
		return 0;
	for (; token[n]; n++)
		if (n >= AUTH_TOKEN_LEN || !((token[n] >= '0' && token[n] <= '9') ||
					    (token[n] >= 'a' && token[n] <= 'f')))
			return 0;
	return n == AUTH_TOKEN_LEN;
}

static int verify(const char *hash, const char *password, char *err, size_t errsz)
{
	size_t len = strlen(password);
	int r = argon2id_verify(hash, password, len > AUTH_PASSWORD_MAX ? AUTH_PASSWORD_MAX : len);
	if (r == ARGON2_OK)
		return len <= AUTH_PASSWORD_MAX ? 0 : 1;
	if (r == ARGON2_VERIFY_MISMATCH)
		return 1;
	snprintf(err, errsz, "argon2id: %s", argon2_error_message(r));
	return -1;
}

auth_login_result auth_login(auth *a, const char *name, const char *password, const char *peer,
			     int64_t now, char token[AUTH_TOKEN_LEN + 1], auth_session *out,
			     int *retry_after_s, char *err, size_t errsz)
{
	char ukey[THR_KEY] = "", akey[THR_KEY] = "", stored[PW_ENCODED_MAX * 2], tok_hash[65];
	unsigned char raw[32];
	auth_user u = { 0 };
	int found = 0, wait, wrong, step;

	*retry_after_s = 0;
	token[0] = '\0';
	memset(out, 0, sizeof *out);
	if (!password)
		password = "";
	/* Names that cannot exist get no account entry: it would only let a
	 * stream of made-up names fill the table. */
	if (name_ok(name))
		snprintf(ukey, sizeof ukey, "u:%s", name);
	if (peer && peer[0])
		snprintf(akey, sizeof akey, "a:%.64s", peer);
	wait = thr_wait(a, ukey, now);
	if (thr_wait(a, akey, now) > wait)
		wait = thr_wait(a, akey, now);
	if (wait > 0) {
		*retry_after_s = wait;
		return AUTH_LOGIN_THROTTLED;
	}

	if (ukey[0]) {
		sqlite3_bind_text(a->u_by_name, 1, name, -1, SQLITE_STATIC);
		found = fetch_user(a, a->u_by_name, &u, stored, err, errsz);
		if (found < 0)
			return AUTH_LOGIN_ERROR;
		found = found == 0;
	}
	/* One verify whatever the name, so the time taken does not tell which
	 * names exist; disabled accounts are checked only afterwards. */
	wrong = verify(found ? stored : dummy_hash, password, err, errsz);
	explicit_bzero(stored, sizeof stored);
	if (wrong < 0)
		return AUTH_LOGIN_ERROR;
	if (!found || wrong || u.disabled) {
		if (thr_fail(a, ukey, now) && found)
			LOG_WARN("auth: logins to user %s throttled", u.name);
		if (thr_fail(a, akey, now))
			LOG_WARN("auth: logins from an address throttled");
		return AUTH_LOGIN_BAD;
	}
	thr_clear(a, ukey, now);
	thr_clear(a, akey, now);

	if (util_random(raw, sizeof raw) < 0) {
		snprintf(err, errsz, "no randomness available");
		return AUTH_LOGIN_ERROR;
	}
	util_hex(raw, sizeof raw, token);
	util_sha256_hex(token, AUTH_TOKEN_LEN, tok_hash);
	if (util_random(raw, sizeof raw) < 0) {
		snprintf(err, errsz, "no randomness available");
		goto bad;
	}
	util_hex(raw, sizeof raw, out->csrf);
	explicit_bzero(raw, sizeof raw);
	sqlite3_bind_text(a->s_add, 1, tok_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(a->s_add, 2, u.id);
	sqlite3_bind_text(a->s_add, 3, out->csrf, -1, SQLITE_STATIC);
	sqlite3_bind_int64(a->s_add, 4, now);
	step = sqlite3_step(a->s_add);
	done(a->s_add);
	if (step != SQLITE_DONE) {
		db_fail(a, err, errsz, "create session");
		goto bad;
	}
	out->user = u;
	out->expires_at = now + a->idle_s;
	LOG_INFO("auth: user %s (id %lld) logged in", u.name, (long long)u.id);
	return AUTH_LOGIN_OK;
bad:
	explicit_bzero(token, AUTH_TOKEN_LEN + 1);
	memset(out, 0, sizeof *out);
	return AUTH_LOGIN_ERROR;
}

static int delete_session(auth *a, const char *tok_hash, char *err, size_t errsz)
{
	int rc = 0;
	sqlite3_bind_text(a->s_del, 1, tok_hash, -1, SQLITE_STATIC);
	if (sqlite3_step(a->s_del) != SQLITE_DONE)
		rc = db_fail(a, err, errsz, "end session");
	done(a->s_del);
	return rc;
}

int auth_session_check(auth *a, const char *token, int64_t now, auth_session *out,
		       char *err, size_t errsz)
{
	char tok_hash[65], csrf[65] = "";
	int64_t user_id = 0, last_seen = 0;
	int rc;

	memset(out, 0, sizeof *out);
	if (!token_ok(token))
		return 1;
	util_sha256_hex(token, AUTH_TOKEN_LEN, tok_hash);
	sqlite3_bind_text(a->s_get, 1, tok_hash, -1, SQLITE_STATIC);
	switch (sqlite3_step(a->s_get)) {
	case SQLITE_ROW:
		user_id = sqlite3_column_int64(a->s_get, 0);
		if (sqlite3_column_text(a->s_get, 1))
			snprintf(csrf, sizeof csrf, "%s", (const char *)sqlite3_column_text(a->s_get, 1));
		last_seen = sqlite3_column_int64(a->s_get, 2);
		rc = 0;
		break;
	case SQLITE_DONE:
		rc = 1;
		break;
	default:
		rc = db_fail(a, err, errsz, "session");
	}
	done(a->s_get);
	if (rc != 0)
		return rc;
	if (last_seen + a->idle_s < now)
		return delete_session(a, tok_hash, err, errsz) < 0 ? -1 : 1;
	rc = auth_user_get_id(a, user_id, &out->user, err, errsz);
	if (rc == 0 && out->user.disabled) {
		/* disabled behind our back (auth_user_disable ends them): so that
		 * enabling again does not bring the session back */
		memset(out, 0, sizeof *out);
		return delete_session(a, tok_hash, err, errsz) < 0 ? -1 : 1;
	}
	if (rc != 0) {
		memset(out, 0, sizeof *out);
		return rc;
	}
	/* Only moves forward: a clock stepping back does not shorten it. */
	sqlite3_bind_text(a->s_touch, 1, tok_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(a->s_touch, 2, now);
	rc = sqlite3_step(a->s_touch) == SQLITE_DONE ? 0 : db_fail(a, err, errsz, "touch session");
	done(a->s_touch);
	if (rc < 0) {
		memset(out, 0, sizeof *out);
		return -1;
	}
	memcpy(out->csrf, csrf, sizeof out->csrf);
	out->expires_at = (now > last_seen ? now : last_seen) + a->idle_s;
	return 0;
}

int auth_logout(auth *a, const char *token, char *err, size_t errsz)
{
	char tok_hash[65];
	if (!token_ok(token))
		return 0;
	util_sha256_hex(token, AUTH_TOKEN_LEN, tok_hash);
	return delete_session(a, tok_hash, err, errsz);
}

int auth_sweep(auth *a, int64_t now)
{
	int n = -1;
	sqlite3_bind_int64(a->s_sweep, 1, now - a->idle_s);
	if (sqlite3_step(a->s_sweep) == SQLITE_DONE)
		n = sqlite3_changes(a->db);
	done(a->s_sweep);
	return n;
}

/* ---- cookies ---------------------------------------------------------- */

static int is_ws(char c)
{
	return c == ' ' || c == '\t';
}

int auth_cookie_get(const char *cookie_header, const char *name, char *out, size_t outsz)
{
	const char *p = cookie_header;
	size_t name_len = name ? strlen(name) : 0;

	if (out && outsz)
		out[0] = '\0';
	if (!p || !out || outsz == 0 || name_len == 0)
		return 1;
	/* cookie-string = cookie-pair *( ";" SP cookie-pair ) (RFC 6265 4.2.1),
	 * read leniently: any blanks around names and values, empty pairs and
	 * pairs without "=" skipped. */
	while (*p) {
		const char *k, *k_end, *v, *v_end;
		while (is_ws(*p) || *p == ';')
			p++;
		k = p;
		while (*p && *p != '=' && *p != ';')
			p++;
		k_end = p;
		while (k_end > k && is_ws(k_end[-1]))
			k_end--;
		if (*p != '=')
			continue;   /* no value: not a cookie pair */
		v = ++p;
		while (*p && *p != ';')
			p++;
		v_end = p;
		while (v < v_end && is_ws(*v))
			v++;
		while (v_end > v && is_ws(v_end[-1]))
			v_end--;
		if ((size_t)(k_end - k) != name_len || memcmp(k, name, name_len) != 0)
			continue;
		if (v_end - v >= 2 && *v == '"' && v_end[-1] == '"') {
			v++;
			v_end--;
		}
		if ((size_t)(v_end - v) >= outsz)
			return 1;
		memcpy(out, v, (size_t)(v_end - v));
		out[v_end - v] = '\0';
		return 0;
	}
	return 1;
}
