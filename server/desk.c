/* desk: see desk.h. */
#include "desk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "util.h"

#define STAFF_BURST 60.0          /* frames at once per console ... */
#define STAFF_REFILL_PER_SEC 20.0 /* ... refilled at this rate: people type slower */
#define STAFF_MAX_TEXT 4000       /* characters of one reply or note */
#define MISSED_MAX 5000           /* events replayed to a reconnecting console */
#define ITEM_QUESTIONS 5          /* patient questions shown per queue item */

/* The desk's statements, prepared on first use and kept for the desk's
 * lifetime (desk_close finalizes them): preparing one on every call cost
 * about 0.1 M instructions per patient message. */
enum desk_q {
	Q_CONV_GET,        /* ?1 conv */
	Q_SET_EMERGENCY,   /* ?1 conv, ?2 reason */
	Q_ENQUEUE,         /* see desk_enqueue_tx */
	Q_STATUS_OFF_DESK, /* ?1 conv, ?2 status, ?3 now_ms: bot, resolved */
	Q_STATUS,          /* ?1 conv, ?2 status, ?3 now_ms */
	Q_CLAIM,           /* ?1 conv, ?2 owner */
	Q_SET_OWNER,       /* ?1 conv, ?2 owner */
	Q_ITEM,            /* ?1 conv */
	Q_ITEM_QUESTIONS,  /* ?1 conv, ?2 limit */
	Q_ITEM_BOT,        /* ?1 conv */
	Q_ITEM_TICKET,     /* ?1 conv */
	Q_IDS_WAITING,
	Q_IDS_DESK,
	Q_LAST_EVENT,
	Q_N
};

static const char *const desk_sql[Q_N] = {
	[Q_CONV_GET] = "SELECT status, coalesce(owner_id, 0), emergency, lang"
		       " FROM conversations WHERE id = ?1",
	[Q_SET_EMERGENCY] = "UPDATE conversations SET emergency = 1, reason = ?2 WHERE id = ?1",
	[Q_ENQUEUE] = "UPDATE conversations SET status = 'waiting', lang = ?3,"
		      " reason = CASE WHEN emergency = 1 AND status = 'waiting' THEN reason ELSE ?2 END,"
		      " emergency = max(emergency, ?4),"
		      " queued_at = CASE WHEN status = 'waiting' THEN queued_at ELSE ?5 END,"
		      " owner_id = NULL, updated_at = ?5 WHERE id = ?1",
	[Q_STATUS_OFF_DESK] = "UPDATE conversations SET status = ?2, queued_at = NULL,"
			      " emergency = 0, updated_at = ?3 WHERE id = ?1",
	[Q_STATUS] = "UPDATE conversations SET status = ?2, updated_at = ?3 WHERE id = ?1",
	[Q_CLAIM] = "UPDATE conversations SET status = 'owned', owner_id = ?2"
		    " WHERE id = ?1 AND status IN ('waiting', 'ticket')",
	[Q_SET_OWNER] = "UPDATE conversations SET owner_id = ?2 WHERE id = ?1",
	[Q_ITEM] = "SELECT status, coalesce(reason, 'low_confidence'), emergency,"
		   " coalesce(queued_at, updated_at), lang, coalesce(owner_id, 0),"
		   " (SELECT max(id) FROM events WHERE conversation_id = ?1)"
		   " FROM conversations WHERE id = ?1 AND status IN ('waiting', 'owned', 'ticket')",
	[Q_ITEM_QUESTIONS] = "SELECT text FROM (SELECT id, text FROM events WHERE conversation_id = ?1"
			     " AND role = 'patient' AND type = 'message' ORDER BY id DESC LIMIT ?2)"
			     " ORDER BY id",
	[Q_ITEM_BOT] = "SELECT fields FROM events WHERE conversation_id = ?1 AND role = 'bot'"
		       " AND type = 'handoff' ORDER BY id DESC LIMIT 1",
	[Q_ITEM_TICKET] = "SELECT text, fields FROM events WHERE conversation_id = ?1"
			  " AND type = 'ticket' ORDER BY id DESC LIMIT 1",
	[Q_IDS_WAITING] = "SELECT id FROM conversations WHERE status = 'waiting'"
			  " ORDER BY emergency DESC, queued_at, id",
	[Q_IDS_DESK] = "SELECT id FROM conversations WHERE status IN ('waiting', 'owned', 'ticket')"
		       " ORDER BY emergency DESC, status = 'ticket', queued_at, id",
	[Q_LAST_EVENT] = "SELECT coalesce(max(id), 0) FROM events",
};

struct desk {
	store *st;
	engine *eng;
	auth *au;
	notify *nt;
	desk_sink sink;
	desk_staff *staff;            /* joined consoles */
	/* desk_defer_places: queue places to tell at desk_flush_places */
	int defer_places, places_all;
	int places_now;               /* a sweep is due now, not a second after the last */
	int sweeping;                 /* a sweep is under way, next at place sweep_next + 1 */
	size_t sweep_next;
	int64_t places_told_us;       /* when the last sweep of the whole line began */
	size_t n_joined;
	char joined[DESK_MAX_JOINED][STORE_CONV_ID_LEN + 1];
	sqlite3_stmt *q[Q_N];         /* desk_sql, prepared on first use */
};

/* Status changes as the patient reads them, [0] English, [1] Spanish; %s is
 * where the staff member's display name goes ({name}: not a printf format,
 * so a template can never misread a name). */
static const char *const msg_claimed[2] = {
	"{name} from our front desk joined the chat.",
	"{name}, de nuestra recepción, se unió al chat.",
};
static const char *const msg_transferred[2] = {
	"{name} from our front desk is taking over this chat.",
	"{name}, de nuestra recepción, continúa este chat.",
};
static const char *const msg_handback[2] = {
	"You're chatting with our assistant again. Ask me anything, or ask for a person at any time.",
	"Está hablando de nuevo con nuestro asistente. Pregúnteme lo que quiera, o pida hablar con una "
	"persona cuando quiera.",
};
static const char *const msg_resolved[2] = {
	"{name} closed this chat. If you need anything else, just write here.",
	"{name} cerró este chat. Si necesita algo más, escriba aquí.",
};

static void say(char *out, size_t outsz, const char *tmpl, const char *name)
{
	const char *at = strstr(tmpl, "{name}");
	if (!at)
		snprintf(out, outsz, "%s", tmpl);
	else
		snprintf(out, outsz, "%.*s%s%s", (int)(at - tmpl), tmpl, name, at + 6);
}

static int lang_index(const char *lang)
{
	return lang && strncmp(lang, "es", 2) == 0;
}

static void emit_json(json_t *frame, desk_emit_fn emit, void *user)
{
	char *s = frame ? json_dumps(frame, JSON_COMPACT) : NULL;
	if (s) {
		emit(user, s, strlen(s));
		free(s);
	} else {
		static const char oom[] =
			"{\"type\":\"error\",\"code\":\"internal\",\"message\":\"out of memory\"}";
		emit(user, oom, sizeof oom - 1);
	}
	json_decref(frame);
}

static void to_staff(desk *d, json_t *frame)
{
	char *s = frame ? json_dumps(frame, JSON_COMPACT) : NULL;
	if (s && d->sink.to_staff)
		d->sink.to_staff(d->sink.user, s, strlen(s));
	free(s);
	json_decref(frame);
}

static void to_patients(desk *d, const char *conv, json_t *frame)
{
	char *s = frame ? json_dumps(frame, JSON_COMPACT) : NULL;
	if (s && d->sink.to_patients)
		d->sink.to_patients(d->sink.user, conv, s, strlen(s));
	free(s);
	json_decref(frame);
}

/* New reference: the frame telling a waiting patient their place. */
static json_t *place_frame(size_t position, int staff_online, int open)
{
	return json_pack("{s:s, s:I, s:i, s:b}", "type", "queue", "position", (json_int_t)position,
			 "staff_online", staff_online, "open", open);
}

/* Tells conv's patients their place, if one is connected to hear it
 * (one who is not hears it on hello). 1 if told. */
static int tell_place(desk *d, const char *conv, size_t position, int staff_online, int open)
{
	if (d->sink.has_patient && !d->sink.has_patient(d->sink.user, conv))
		return 0;
	to_patients(d, conv, place_frame(position, staff_online, open));
	return 1;
}

/* --- queries -------------------------------------------------------------- */

/* Statement `which`, ready to bind, or NULL (message in err). */
static sqlite3_stmt *stmt(desk *d, enum desk_q which, char *err, size_t errsz)
{
	sqlite3 *db = store_db(d->st);
	if (!d->q[which] && sqlite3_prepare_v3(db, desk_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
					       &d->q[which], NULL) != SQLITE_OK) {
		snprintf(err, errsz, "desk: %s", sqlite3_errmsg(db));
		return NULL;
	}
	return d->q[which];
}

/* Done with a statement of run() or stmt(): ready for its next use, and
 * holding neither a read transaction nor pointers to the caller's strings. */
static void done(sqlite3_stmt *q)
{
	if (q) {
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
	}
}

/* Runs statement `which` with text parameters (NULL-terminated list), then
 * int_param if it takes one more, steps once. Returns SQLITE_DONE/SQLITE_ROW
 * with *out kept for reading (done() it), or -1 (*out NULL). */
static int run(desk *d, sqlite3_stmt **out, enum desk_q which, const char *const *params,
	       int64_t int_param, char *err, size_t errsz)
{
	int rc, i = 1;
	if (!(*out = stmt(d, which, err, errsz)))
		return -1;
	for (; params && params[i - 1]; i++)
		sqlite3_bind_text(*out, i, params[i - 1], -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(*out) >= i)
		sqlite3_bind_int64(*out, i, int_param);
	rc = sqlite3_step(*out);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		snprintf(err, errsz, "desk: %s", sqlite3_errmsg(store_db(d->st)));
		done(*out);
		*out = NULL;
		return -1;
	}
	return rc;
}

/* Runs a statement that changes rows; returns the number changed, or -1. */
static int exec_changes(desk *d, enum desk_q which, const char *const *params, int64_t int_param,
			char *err, size_t errsz)
{
	sqlite3_stmt *q;
	int rc = run(d, &q, which, params, int_param, err, errsz);
	if (rc < 0)
		return -1;
	done(q);
	return sqlite3_changes(store_db(d->st));
}

int desk_conv_get(desk *d, const char *conv, desk_conv *out, char *err, size_t errsz)
{
	sqlite3_stmt *q;
	const char *p[] = { conv, NULL };
	int rc = run(d, &q, Q_CONV_GET, p, 0, err, errsz);
	memset(out, 0, sizeof *out);
	if (rc < 0)
		return -1;
	if (rc == SQLITE_DONE) {
		done(q);
		return 1;
	}
	snprintf(out->status, sizeof out->status, "%s", (const char *)sqlite3_column_text(q, 0));
	out->owner_id = sqlite3_column_int64(q, 1);
	out->emergency = sqlite3_column_int(q, 2);
	snprintf(out->lang, sizeof out->lang, "%s", (const char *)sqlite3_column_text(q, 3));
	done(q);
	return 0;
}

static int on_desk(const desk_conv *c)
{
	return strcmp(c->status, "waiting") == 0 || strcmp(c->status, "owned") == 0 ||
	       strcmp(c->status, "ticket") == 0;
}

int desk_online_count(desk *d)
{
	int n = 0;
	for (desk_staff *s = d->staff; s; s = s->next) {
		int seen = 0;
		if (!s->online)
			continue;
		/* one account with two tabs is one person */
		for (desk_staff *t = d->staff; t != s; t = t->next)
			seen |= t->online && t->user.id == s->user.id;
		n += !seen;
	}
	return n;
}

desk_availability desk_available(desk *d)
{
	const hours_config *h = engine_hours(d->eng);
	if (h && hours_open_now(h, engine_now(d->eng)) == 0)
		return DESK_CLOSED;
	return desk_online_count(d) > 0 ? DESK_AVAILABLE : DESK_NOBODY;
}

int desk_enqueue_tx(desk *d, const char *conv, const char *reason, int emergency,
		    const char *lang, char *err, size_t errsz)
{
	sqlite3_stmt *q;
	int64_t now_ms = util_now_us() / 1000;
	desk_conv c;
	int rc = desk_conv_get(d, conv, &c, err, errsz), was_waiting;

	if (rc != 0) {
		if (rc == 1)
			snprintf(err, errsz, "no such conversation");
		return -1;
	}
	if (strcmp(c.status, "owned") == 0 || strcmp(c.status, "ticket") == 0) {
		/* Owned: a person is there and sees it. A ticket nobody has taken
		 * yet: flag it and notify again, nobody is with that patient. */
		if (!emergency)
			return 0;
		if (exec_changes(d, Q_SET_EMERGENCY, (const char *const[]){ conv, reason, NULL }, 0,
				 err, errsz) < 0)
			return -1;
		if (strcmp(c.status, "ticket") == 0 && !c.emergency && d->nt &&
		    notify_enqueue(d->nt, conv, "emergency", now_ms / 1000, err, errsz) < 0)
			return -1;
		return 0;
	}
	was_waiting = strcmp(c.status, "waiting") == 0;
	if (!(q = stmt(d, Q_ENQUEUE, err, errsz)))
		return -1;
	sqlite3_bind_text(q, 1, conv, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, lang, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 4, emergency ? 1 : 0);
	sqlite3_bind_int64(q, 5, now_ms);
	if (sqlite3_step(q) != SQLITE_DONE) {
		snprintf(err, errsz, "desk: %s", sqlite3_errmsg(store_db(d->st)));
		done(q);
		return -1;
	}
	done(q);
	/* One notification per entry into the queue, and one more if it
	 * becomes an emergency while waiting. */
	if (was_waiting && !(emergency && !c.emergency))
		return 0;
	if (d->nt && notify_enqueue(d->nt, conv, emergency ? "emergency" : reason, now_ms / 1000,
				    err, errsz) < 0)
		return -1;
	return 0;
}

int desk_set_status_tx(desk *d, const char *conv, const char *status, char *err, size_t errsz)
{
	const char *p[] = { conv, status, NULL };
	if (strcmp(status, "bot") == 0 || strcmp(status, "resolved") == 0)
		return exec_changes(d, Q_STATUS_OFF_DESK, p, util_now_us() / 1000, err, errsz) < 0
		       ? -1 : 0;
	return exec_changes(d, Q_STATUS, p, util_now_us() / 1000, err, errsz) < 0 ? -1 : 0;
}

/* --- the queue ------------------------------------------------------------ */

static json_t *user_json(desk *d, int64_t id)
{
	auth_user u;
	char err[128];
	if (id <= 0 || auth_user_get_id(d->au, id, &u, err, sizeof err) != 0)
		return json_null();
	return json_pack("{s:s, s:s}", "name", u.name, "display", u.display);
}

/* New reference: the queue item of conv, or NULL (not on the desk / error). */
static json_t *item_json(desk *d, const char *conv)
{
	sqlite3_stmt *q = NULL;
	const char *p[] = { conv, NULL };
	char err[256], ts[21];
	json_t *item = NULL, *questions, *jf;
	int rc;

	rc = run(d, &q, Q_ITEM, p, 0, err, sizeof err);
	if (rc != SQLITE_ROW) {
		done(q);
		return NULL;
	}
	util_iso8601(sqlite3_column_int64(q, 3) / 1000, ts);
	item = json_pack("{s:s, s:s, s:s, s:b, s:s, s:I, s:s, s:o, s:I}",
			 "conversation", conv,
			 "status", (const char *)sqlite3_column_text(q, 0),
			 "reason", (const char *)sqlite3_column_text(q, 1),
			 "emergency", sqlite3_column_int(q, 2),
			 "queued_at", ts,
			 "queued_at_ms", (json_int_t)sqlite3_column_int64(q, 3),
			 "lang", (const char *)sqlite3_column_text(q, 4),
			 "owner", user_json(d, sqlite3_column_int64(q, 5)),
			 "last_event", (json_int_t)sqlite3_column_int64(q, 6));
	done(q);
	if (!item)
		return NULL;

	questions = json_array();
	if (run(d, &q, Q_ITEM_QUESTIONS, p, ITEM_QUESTIONS, err, sizeof err) == SQLITE_ROW) {
		do
			json_array_append_new(questions, json_string((const char *)sqlite3_column_text(q, 0)));
		while (sqlite3_step(q) == SQLITE_ROW);
	}
	done(q);
	json_object_set_new(item, "questions", questions);

	/* What the bot tried: the confidence and suggestions of its last handoff. */
	jf = json_null();
	if (run(d, &q, Q_ITEM_BOT, p, 0, err, sizeof err) == SQLITE_ROW &&
	    sqlite3_column_type(q, 0) != SQLITE_NULL) {
		json_t *f = json_loads((const char *)sqlite3_column_text(q, 0), 0, NULL);
		if (json_is_object(f)) {
			json_decref(jf);
			jf = json_pack("{s:O?, s:O?, s:O?}", "confidence", json_object_get(f, "confidence"),
				       "reason", json_object_get(f, "reason"),
				       "tried", json_object_get(f, "suggestions"));
		}
		json_decref(f);
	}
	done(q);
	json_object_set_new(item, "bot", jf ? jf : json_null());

	jf = json_null();
	if (run(d, &q, Q_ITEM_TICKET, p, 0, err, sizeof err) == SQLITE_ROW) {
		json_t *f = sqlite3_column_type(q, 1) != SQLITE_NULL
			    ? json_loads((const char *)sqlite3_column_text(q, 1), 0, NULL) : NULL;
		json_decref(jf);
		jf = json_pack("{s:O?, s:O?, s:s}", "name", json_object_get(f, "name"),
			       "contact", json_object_get(f, "contact"),
			       "text", (const char *)sqlite3_column_text(q, 0));
		json_decref(f);
	}
	done(q);
	json_object_set_new(item, "ticket", jf ? jf : json_null());
	return item;
}

/* The ids on the desk, in queue order: emergencies first, then oldest. */
static int desk_ids(desk *d, const char *status_filter, char (**ids)[STORE_CONV_ID_LEN + 1],
		    size_t *n)
{
	sqlite3_stmt *q = NULL;
	char err[256];
	size_t cap = 0;
	int rc;
	*ids = NULL;
	*n = 0;
	rc = run(d, &q, status_filter ? Q_IDS_WAITING : Q_IDS_DESK, NULL, 0, err, sizeof err);
	if (rc < 0)
		return -1;
	while (rc == SQLITE_ROW) {
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			void *v = realloc(*ids, ncap * sizeof **ids);
			if (!v) {
				done(q);
				free(*ids);
				*ids = NULL;
				*n = 0;
				return -1;
			}
			*ids = v;
			cap = ncap;
		}
		snprintf((*ids)[(*n)++], STORE_CONV_ID_LEN + 1, "%s", (const char *)sqlite3_column_text(q, 0));
		rc = sqlite3_step(q);
	}
	done(q);
	return 0;
}

json_t *desk_queue_json(desk *d, char *err, size_t errsz)
{
	char (*ids)[STORE_CONV_ID_LEN + 1];
	size_t n;
	json_t *list;
	if (desk_ids(d, NULL, &ids, &n) < 0) {
		snprintf(err, errsz, "the queue could not be read");
		return NULL;
	}
	list = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *item = item_json(d, ids[i]);
		if (item)
			json_array_append_new(list, item);
	}
	free(ids);
	return json_pack("{s:o}", "queue", list);
}

json_t *desk_conversation_json(desk *d, const char *conv, char *err, size_t errsz)
{
	desk_conv c;
	json_t *events, *item;
	if (desk_conv_get(d, conv, &c, err, errsz) != 0) {
		snprintf(err, errsz, "no such conversation");
		return NULL;
	}
	if (!(events = store_events_read(d->st, conv, 0, 1, err, errsz)))
		return NULL;
	for (size_t i = 0; i < json_array_size(events); i++)
		json_object_set_new(json_array_get(events, i), "conversation", json_string(conv));
	item = item_json(d, conv);
	if (!item) /* not on the desk any more (resolved, handed back) */
		item = json_pack("{s:s, s:s, s:s}", "conversation", conv, "status", c.status,
				 "lang", c.lang);
	return json_pack("{s:o, s:o}", "item", item, "events", events);
}

json_t *desk_queue_frame(desk *d, const char *conv)
{
	char (*ids)[STORE_CONV_ID_LEN + 1];
	size_t n;
	json_t *f = NULL;
	if (desk_ids(d, "waiting", &ids, &n) < 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i], conv) == 0) {
			f = place_frame(i + 1, desk_online_count(d), desk_available(d) != DESK_CLOSED);
			break;
		}
	free(ids);
	return f;
}

/* What tell_positions told: the joined chats only, nobody else having moved;
 * everyone; or the joined only, while others moved too (only_joined). */
enum { TOLD_JOINED, TOLD_ALL, OTHERS_UNTOLD };

/* Tells waiting patients their place. joined: the n_joined chats that just
 * joined the line (or moved in it). When they are all at its end, nobody else
 * moved and only they are told (telling everyone on every join cost a frame
 * per waiting patient per join: quadratic in the line). With only_joined,
 * only they are told in any case. Returns what was told. */
static int tell_positions(desk *d, char (*joined)[STORE_CONV_ID_LEN + 1], size_t n_joined,
			  int only_joined)
{
	char (*ids)[STORE_CONV_ID_LEN + 1];
	size_t n, from = 0;
	int online = desk_online_count(d), open = desk_available(d) != DESK_CLOSED, told;
	if (desk_ids(d, "waiting", &ids, &n) < 0)
		return TOLD_JOINED;
	if (n_joined > 0 && n_joined <= n) {
		size_t j, k;
		for (j = 0; j < n_joined; j++) {
			for (k = n - n_joined; k < n && strcmp(ids[k], joined[j]) != 0; k++)
				;
			if (k == n)
				break;
		}
		if (j == n_joined)
			from = n - n_joined;
	}
	told = from > 0 ? TOLD_JOINED : only_joined && n > n_joined ? OTHERS_UNTOLD : TOLD_ALL;
	for (size_t i = from; i < n; i++) {
		if (only_joined && from == 0) {
			size_t j;
			for (j = 0; j < n_joined && strcmp(ids[i], joined[j]) != 0; j++)
				;
			if (j == n_joined)
				continue;
		}
		tell_place(d, ids[i], i + 1, online, open);
	}
	free(ids);
	return told;
}

/* Everyone waiting is told their place: now, or with places deferred, in the
 * next passes (a sweep: desk_flush_places). */
static void broadcast_positions(desk *d)
{
	if (d->defer_places)
		d->places_now = 1;
	else
		tell_positions(d, NULL, 0, 0);
}

/* One slice of a sweep: the waiting patients from place d->sweep_next + 1 on
 * are told theirs, until DESK_PLACES_PER_PASS frames are out or the line
 * ends. Each slice reads the line afresh, so no place told is stale; one who
 * moved between two slices may be told twice or not at all in this sweep,
 * and the move that did it asks for the next one. */
static void sweep_slice(desk *d)
{
	char (*ids)[STORE_CONV_ID_LEN + 1];
	size_t n, i, told = 0;
	int online = desk_online_count(d), open = desk_available(d) != DESK_CLOSED;
	if (desk_ids(d, "waiting", &ids, &n) < 0) {
		d->sweeping = 0;
		return;
	}
	for (i = d->sweep_next; i < n && told < DESK_PLACES_PER_PASS; i++)
		told += tell_place(d, ids[i], i + 1, online, open);
	free(ids);
	d->sweep_next = i;
	d->sweeping = i < n;
}

void desk_defer_places(desk *d, int defer)
{
	d->defer_places = defer;
}

void desk_flush_places(desk *d)
{
	int64_t now;
	if (!d || (!d->places_all && !d->places_now && !d->sweeping && d->n_joined == 0))
		return;
	now = util_mono_us();
	/* A chat that joined or jumped the line (an emergency) hears its place
	 * now; the ones it moved down hear theirs in the next sweep. With 1,000
	 * waiting and an emergency every few milliseconds, telling everyone at
	 * every jump was 1,000 frames a jump. */
	if (d->n_joined > 0) {
		switch (tell_positions(d, d->joined, d->n_joined, 1)) {
		case OTHERS_UNTOLD:
			d->places_all = 1;
			break;
		case TOLD_ALL: /* the line was only they: as good as a sweep */
			if (!d->sweeping)
				d->places_told_us = now;
			break;
		}
		d->n_joined = 0;
	}
	if (!d->sweeping && (d->places_now ||
			     (d->places_all && now - d->places_told_us >= DESK_PLACES_EVERY_US))) {
		d->sweeping = 1;
		d->sweep_next = 0;
		d->places_all = d->places_now = 0;
		d->places_told_us = now;
	}
	/* A sweep is told in slices, one a pass: all at once, 1,000 waiting
	 * patients were 10 ms of frames in one pass, and every message that
	 * came in meanwhile waited for them. */
	if (d->sweeping)
		sweep_slice(d);
}

/* Tells the consoles: the events of conv after since, then its item (or its
 * removal when it left the desk). */
static void tell_staff(desk *d, const char *conv, int64_t since)
{
	char err[256];
	json_t *events, *item;
	if (!d->staff)
		return; /* no console to tell (one that opens reads the queue on hello) */
	events = store_events_read(d->st, conv, since, 1, err, sizeof err);
	for (size_t i = 0; events && i < json_array_size(events); i++) {
		json_t *ev = json_array_get(events, i);
		json_object_set_new(ev, "conversation", json_string(conv));
		to_staff(d, json_pack("{s:s, s:O}", "type", "event", "event", ev));
	}
	json_decref(events);
	item = item_json(d, conv);
	if (item)
		to_staff(d, json_pack("{s:s, s:o}", "type", "queue", "item", item));
	else
		to_staff(d, json_pack("{s:s, s:s}", "type", "queue", "removed", conv));
}

void desk_conv_changed(desk *d, const char *conv, int64_t since, int queue_changed)
{
	desk_conv c;
	char err[256];
	/* no console to tell: skip reading the conversation (every message) */
	if (d->staff && desk_conv_get(d, conv, &c, err, sizeof err) == 0 && on_desk(&c))
		tell_staff(d, conv, since);
	if (!queue_changed)
		return;
	if (!d->defer_places) {
		char one[1][STORE_CONV_ID_LEN + 1];
		snprintf(one[0], sizeof one[0], "%s", conv);
		tell_positions(d, one, 1, 0);
		return;
	}
	if (d->n_joined < DESK_MAX_JOINED)
		snprintf(d->joined[d->n_joined++], STORE_CONV_ID_LEN + 1, "%s", conv);
	else
		d->places_all = 1;
}

void desk_patient_typing(desk *d, const char *conv, int typing)
{
	to_staff(d, json_pack("{s:s, s:s, s:b}", "type", "patient_typing", "conversation", conv,
			      "typing", typing));
}

/* --- presence ------------------------------------------------------------- */

static json_t *presence_list(desk *d)
{
	json_t *list = json_array();
	for (desk_staff *s = d->staff; s; s = s->next) {
		int dup = 0;
		/* one row per account: online if any of its consoles is */
		for (desk_staff *t = d->staff; t; t = t->next)
			if (t != s && t->user.id == s->user.id && (t->online > s->online ||
			    (t->online == s->online && t < s)))
				dup = 1;
		if (!dup)
			json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s}",
				"name", s->user.name, "display", s->user.display,
				"role", auth_role_name(s->user.role),
				"status", s->online ? "online" : "away"));
	}
	return list;
}

static void broadcast_presence(desk *d)
{
	to_staff(d, json_pack("{s:s, s:o}", "type", "presence", "staff", presence_list(d)));
	broadcast_positions(d); /* "staff_online" and what waiting patients are told */
}

void desk_staff_join(desk *d, desk_staff *s, const auth_user *user)
{
	s->user = *user;
	s->online = 1;
	s->prev = NULL;
	s->next = d->staff;
	if (d->staff)
		d->staff->prev = s;
	d->staff = s;
	broadcast_presence(d);
}

void desk_staff_leave(desk *d, desk_staff *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else if (d->staff == s)
		d->staff = s->next;
	else
		return; /* never joined */
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	broadcast_presence(d);
}

/* --- staff frames --------------------------------------------------------- */

static int send_error(desk_staff *s, desk_emit_fn emit, void *user, const char *code,
		      const char *message)
{
	s->last_error = code;
	emit_json(json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "message", message),
		  emit, user);
	return -1;
}

static int allow_frame(desk_staff *s)
{
	return util_bucket_take(&s->tokens, &s->refilled_us, util_mono_us(), STAFF_BURST,
				STAFF_REFILL_PER_SEC);
}

static json_int_t last_event_id(desk *d)
{
	sqlite3_stmt *q;
	char err[128];
	json_int_t id = 0;
	if (run(d, &q, Q_LAST_EVENT, NULL, 0, err, sizeof err) == SQLITE_ROW)
		id = sqlite3_column_int64(q, 0);
	done(q);
	return id;
}

/* Every event after since of the conversations now on the desk, oldest
 * first (what a reconnecting console missed). */
static json_t *missed_events(desk *d, int64_t since)
{
	char (*ids)[STORE_CONV_ID_LEN + 1];
	size_t n;
	char err[256];
	json_t *all = json_array();
	if (since <= 0 || desk_ids(d, NULL, &ids, &n) < 0)
		return all;
	for (size_t i = 0; i < n; i++) {
		json_t *ev = store_events_read(d->st, ids[i], since, 1, err, sizeof err);
		for (size_t k = 0; ev && k < json_array_size(ev); k++) {
			json_t *e = json_array_get(ev, k);
			json_object_set_new(e, "conversation", json_string(ids[i]));
			json_array_append(all, e);
		}
		json_decref(ev);
	}
	free(ids);
	/* one list in id order, so the console applies them as they happened */
	{
		size_t m = json_array_size(all);
		json_t **v = malloc((m ? m : 1) * sizeof *v);
		json_t *sorted = json_array();
		if (!v) {
			json_decref(sorted);
			return all;
		}
		for (size_t i = 0; i < m; i++)
			v[i] = json_array_get(all, i);
		for (size_t i = 1; i < m; i++) { /* insertion sort: lists are short and nearly sorted */
			json_t *x = v[i];
			json_int_t xid = json_integer_value(json_object_get(x, "id"));
			size_t j = i;
			while (j > 0 && json_integer_value(json_object_get(v[j - 1], "id")) > xid) {
				v[j] = v[j - 1];
				j--;
			}
			v[j] = x;
		}
		for (size_t i = 0; i < m && i < MISSED_MAX; i++)
			json_array_append(sorted, v[i]);
		free(v);
		json_decref(all);
		return sorted;
	}
}

static int on_hello(desk *d, desk_staff *s, json_t *req, desk_emit_fn emit, void *user)
{
	const json_t *jsince = json_object_get(req, "since");
	char err[256];
	json_t *queue;
	if (jsince && !json_is_integer(jsince))
		return send_error(s, emit, user, "missing_field", "\"since\" must be an integer");
	if (!(queue = desk_queue_json(d, err, sizeof err)))
		return send_error(s, emit, user, "internal", "the queue could not be read");
	s->started = 1;
	emit_json(json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:O, s:o, s:I, s:o}", "type", "welcome",
			    "user", "name", s->user.name, "display", s->user.display,
			    "role", auth_role_name(s->user.role),
			    "presence", s->online ? "online" : "away",
			    "queue", json_object_get(queue, "queue"),
			    "staff", presence_list(d),
			    "last_event", last_event_id(d),
			    "missed", missed_events(d, jsince ? json_integer_value(jsince) : 0)),
		  emit, user);
	json_decref(queue);
	return 0;
}


/* The conversation a frame names, checked to exist: 0, or -1 after an error frame. */
static int frame_conv(desk *d, desk_staff *s, json_t *req, desk_conv *c, const char **conv,
		      desk_emit_fn emit, void *user)
{
	char err[256];
	int rc;
	*conv = json_string_value(json_object_get(req, "conversation"));
	if (!*conv)
		return send_error(s, emit, user, "missing_field", "\"conversation\" must be a string");
	rc = desk_conv_get(d, *conv, c, err, sizeof err);
	if (rc < 0)
		return send_error(s, emit, user, "internal", "the conversation could not be read");
	if (rc == 1)
		return send_error(s, emit, user, "not_found", "no such conversation");
	return 0;
}

static const char *owner_name(desk *d, int64_t owner_id, char *buf, size_t bufsz)
{
	auth_user u;
	char err[128];
	if (auth_user_get_id(d->au, owner_id, &u, err, sizeof err) == 0)
		snprintf(buf, bufsz, "%s", u.display);
	else
		snprintf(buf, bufsz, "someone else");
	return buf;
}

/* Checks that s owns c (admins may act on any owned chat when allow_admin). */
static int must_own(desk *d, desk_staff *s, const desk_conv *c, int allow_admin,
		    desk_emit_fn emit, void *user)
{
	char name[128], msg[192];
	if (strcmp(c->status, "resolved") == 0)
		return send_error(s, emit, user, "resolved", "this chat is resolved");
	if (strcmp(c->status, "owned") != 0)
		return send_error(s, emit, user, "not_owner", "take over the chat first");
	if (c->owner_id == s->user.id || (allow_admin && s->user.role == AUTH_ROLE_ADMIN))
		return 0;
	snprintf(msg, sizeof msg, "%s owns this chat", owner_name(d, c->owner_id, name, sizeof name));
	return send_error(s, emit, user, "not_owner", msg);
}

/* Appends a staff or system event in its own transaction, then tells the
 * patient (unless it is a note) and the consoles. Returns the event id or -1. */
static int64_t add_event(desk *d, const char *conv, const char *role, const char *type,
			 const char *text, json_t *fields, const char *new_status,
			 int set_owner, int64_t owner_id, char *err, size_t errsz)
{
	int64_t id = -1;
	json_t *evs;
	if (store_begin(d->st, err, errsz) < 0)
		goto out;
	if (new_status && desk_set_status_tx(d, conv, new_status, err, errsz) < 0)
		goto fail;
	if (set_owner && exec_changes(d, Q_SET_OWNER, (const char *const[]){ conv, NULL }, owner_id,
				      err, errsz) < 0)
		goto fail;
	if (store_event_add(d->st, conv, role, type, text, fields, &id, err, errsz) < 0)
		goto fail;
	if (store_commit(d->st, err, errsz) < 0) {
		id = -1;
		goto out;
	}
	if (strcmp(type, "note") != 0) {
		evs = store_events_read(d->st, conv, id - 1, 0, err, errsz);
		if (evs && json_array_size(evs) > 0)
			to_patients(d, conv, json_incref(json_array_get(evs, 0)));
		json_decref(evs);
	}
	goto out;
fail:
	store_rollback(d->st);
	id = -1;
out:
	json_decref(fields);
	return id;
}

static int report_store_error(desk_staff *s, const char *conv, const char *err,
			      desk_emit_fn emit, void *user)
{
	util_log("error", "desk: conversation %s: %s", conv, err);
	return send_error(s, emit, user, "internal", "the change could not be saved; try again");
}

static int on_claim(desk *d, desk_staff *s, json_t *req, desk_emit_fn emit, void *user)
{
	desk_conv c;
	const char *conv;
	char err[256], text[256], name[128], msg[192];
	json_t *claim_fields;
	int64_t id;
	int changed, rc;

	if (frame_conv(d, s, req, &c, &conv, emit, user) < 0)
		return -1;
	if (strcmp(c.status, "owned") == 0 && c.owner_id == s->user.id)
		return send_error(s, emit, user, "already_claimed", "you already own this chat");
	if (strcmp(c.status, "owned") == 0) {
		snprintf(msg, sizeof msg, "Taken by %s", owner_name(d, c.owner_id, name, sizeof name));
		return send_error(s, emit, user, "already_claimed", msg);
	}
	if (strcmp(c.status, "waiting") != 0 && strcmp(c.status, "ticket") != 0)
		return send_error(s, emit, user, "not_found", "this chat is not waiting for a person");
	/* One owner, atomically: the UPDATE only matches a chat nobody owns. */
	if (store_begin(d->st, err, sizeof err) < 0)
		return report_store_error(s, conv, err, emit, user);
	changed = exec_changes(d, Q_CLAIM, (const char *const[]){ conv, NULL }, s->user.id,
			       err, sizeof err);
	if (changed != 1) {
		store_rollback(d->st);
		if (changed < 0)
			return report_store_error(s, conv, err, emit, user);
		return send_error(s, emit, user, "already_claimed", "someone else took this chat");
	}
	say(text, sizeof text, msg_claimed[lang_index(c.lang)], s->user.display);
	claim_fields = json_pack("{s:s, s:s}", "by", s->user.name, "name", s->user.display);
	rc = store_event_add(d->st, conv, "system", "claimed", text,
			    claim_fields, &id, err, sizeof err);
	json_decref(claim_fields);
	if (rc < 0 || store_commit(d->st, err, sizeof err) < 0) {
		store_rollback(d->st);
		return report_store_error(s, conv, err, emit, user);
	}
	{
		json_t *evs = store_events_read(d->st, conv, id - 1, 0, err, sizeof err);
		if (evs && json_array_size(evs) > 0)
			to_patients(d, conv, json_incref(json_array_get(evs, 0)));
		json_decref(evs);
	}
	emit_json(json_pack("{s:s, s:I}", "type", "ack", "id", (json_int_t)id), emit, user);
	tell_staff(d, conv, id - 1);
	broadcast_positions(d);
	return 0;
}

static int on_text(desk *d, desk_staff *s, json_t *req, int note, desk_emit_fn emit, void *user)
{
	desk_conv c;
	const char *conv, *text;
	const json_t *jtext = json_object_get(req, "text"), *jcid = json_object_get(req, "client_id");
	char err[256];
	json_t *fields, *ack;
	int64_t id;

	if (frame_conv(d, s, req, &c, &conv, emit, user) < 0)
		return -1;
	if (!json_is_string(jtext))
		return send_error(s, emit, user, "missing_field", "\"text\" must be a string");
	if (jcid && !json_is_string(jcid) && !json_is_integer(jcid))
		return send_error(s, emit, user, "missing_field", "\"client_id\" must be a string");
	text = json_string_value(jtext);
	if (strspn(text, " \t\r\n") == json_string_length(jtext))
		return send_error(s, emit, user, "empty", "the message is empty");
	if (util_utf8_chars(text, json_string_length(jtext)) > STAFF_MAX_TEXT)
		return send_error(s, emit, user, "too_long", "keep it under 4000 characters");
	if (!note && must_own(d, s, &c, 0, emit, user) < 0)
		return -1;
	fields = json_pack("{s:s, s:s}", "by", s->user.name, "name", s->user.display);
	if (jcid)
		json_object_set(fields, "client_id", (json_t *)jcid);
	id = add_event(d, conv, "staff", note ? "note" : "message", text, fields, NULL, 0, 0,
		       err, sizeof err);
	if (id < 0)
		return report_store_error(s, conv, err, emit, user);
	ack = json_pack("{s:s, s:I}", "type", "ack", "id", (json_int_t)id);
	if (jcid)
		json_object_set(ack, "client_id", (json_t *)jcid);
	emit_json(ack, emit, user);
	tell_staff(d, conv, id - 1);
	return 0;
}

static int on_typing(desk *d, desk_staff *s, json_t *req, desk_emit_fn emit, void *user)
{
	desk_conv c;
	const char *conv;
	if (frame_conv(d, s, req, &c, &conv, emit, user) < 0)
		return -1;
	if (strcmp(c.status, "owned") != 0 || c.owner_id != s->user.id)
		return send_error(s, emit, user, "not_owner", "take over the chat first");
	to_patients(d, conv, json_pack("{s:s, s:s, s:b}", "type", "typing", "name", s->user.display,
				       "typing", json_is_true(json_object_get(req, "typing"))));
	return 0; /* no reply: typing is fire and forget */
}

static int on_transfer(desk *d, desk_staff *s, json_t *req, desk_emit_fn emit, void *user)
{
	desk_conv c;
	const char *conv, *to = json_string_value(json_object_get(req, "to"));
	char err[256], text[256];
	auth_user target;
	int64_t id;

	if (frame_conv(d, s, req, &c, &conv, emit, user) < 0)
		return -1;
	if (!to)
		return send_error(s, emit, user, "missing_field", "\"to\" must be a login name");
	if (must_own(d, s, &c, 1, emit, user) < 0)
		return -1;
	if (auth_user_get(d->au, to, &target, err, sizeof err) != 0 || target.disabled)
		return send_error(s, emit, user, "no_such_user", "no such staff account");
	if (target.id == c.owner_id)
		return send_error(s, emit, user, "already_claimed", "they already own this chat");
	say(text, sizeof text, msg_transferred[lang_index(c.lang)], target.display);
	id = add_event(d, conv, "system", "transferred", text,
		       json_pack("{s:s, s:s, s:s}", "by", s->user.name, "to", target.name,
				 "name", target.display),
		       NULL, 1, target.id, err, sizeof err);
	if (id < 0)
		return report_store_error(s, conv, err, emit, user);
	emit_json(json_pack("{s:s, s:I}", "type", "ack", "id", (json_int_t)id), emit, user);
	tell_staff(d, conv, id - 1);
	return 0;
}

static int on_handback_resolve(desk *d, desk_staff *s, json_t *req, int resolve,
			       desk_emit_fn emit, void *user)
{
	desk_conv c;
	const char *conv;
	char err[256], text[512];
	int64_t id;

	if (frame_conv(d, s, req, &c, &conv, emit, user) < 0)
		return -1;
	/* An unclaimed chat or ticket (spam, a duplicate) may be closed by anyone. */
	if (!(resolve && (strcmp(c.status, "waiting") == 0 || strcmp(c.status, "ticket") == 0)) &&
	    must_own(d, s, &c, 1, emit, user) < 0)
		return -1;
	if (resolve)
		say(text, sizeof text, msg_resolved[lang_index(c.lang)], s->user.display);
	else
		say(text, sizeof text, msg_handback[lang_index(c.lang)], "");
	id = add_event(d, conv, "system", resolve ? "resolved" : "handback", text,
		       json_pack("{s:s, s:s}", "by", s->user.name, "name", s->user.display),
		       resolve ? "resolved" : "bot", 0, 0, err, sizeof err);
	if (id < 0)
		return report_store_error(s, conv, err, emit, user);
	emit_json(json_pack("{s:s, s:I}", "type", "ack", "id", (json_int_t)id), emit, user);
	/* It left the desk: the event, then the removal. */
	{
		json_t *evs = store_events_read(d->st, conv, id - 1, 1, err, sizeof err);
		for (size_t i = 0; evs && i < json_array_size(evs); i++) {
			json_t *ev = json_array_get(evs, i);
			json_object_set_new(ev, "conversation", json_string(conv));
			to_staff(d, json_pack("{s:s, s:O}", "type", "event", "event", ev));
		}
		json_decref(evs);
	}
	to_staff(d, json_pack("{s:s, s:s}", "type", "queue", "removed", conv));
	broadcast_positions(d);
	return 0;
}

static int on_open(desk *d, desk_staff *s, json_t *req, desk_emit_fn emit, void *user)
{
	const char *conv = json_string_value(json_object_get(req, "conversation"));
	char err[256];
	json_t *t;
	if (!conv)
		return send_error(s, emit, user, "missing_field", "\"conversation\" must be a string");
	if (!(t = desk_conversation_json(d, conv, err, sizeof err)))
		return send_error(s, emit, user, "not_found", "no such conversation");
	json_object_set_new(t, "type", json_string("transcript"));
	emit_json(t, emit, user);
	return 0;
}

static int on_presence(desk *d, desk_staff *s, json_t *req, desk_emit_fn emit, void *user)
{
	const char *st = json_string_value(json_object_get(req, "status"));
	if (!st || (strcmp(st, "online") != 0 && strcmp(st, "away") != 0))
		return send_error(s, emit, user, "missing_field", "\"status\" must be online or away");
	s->online = strcmp(st, "online") == 0;
	broadcast_presence(d);
	return 0;
}

int desk_staff_handle(desk *d, desk_staff *s, const char *frame, size_t len,
		      desk_emit_fn emit, void *user)
{
	json_error_t jerr;
	json_t *req;
	const char *type;
	int rc;

	s->last_error = NULL;
	if (!allow_frame(s))
		return send_error(s, emit, user, "rate_limited", "too many frames; slow down");
	req = json_loadb(frame, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(req)) {
		json_decref(req);
		return send_error(s, emit, user, "bad_json", "the frame must be a JSON object");
	}
	type = json_string_value(json_object_get(req, "type"));
	if (!type)
		rc = send_error(s, emit, user, "unknown_type", "\"type\" is missing");
	else if (strcmp(type, "hello") == 0)
		rc = on_hello(d, s, req, emit, user);
	else if (strcmp(type, "ping") == 0) {
		emit_json(json_pack("{s:s}", "type", "pong"), emit, user);
		rc = 0;
	} else if (!s->started)
		rc = send_error(s, emit, user, "no_session", "say hello first");
	else if (strcmp(type, "open") == 0)
		rc = on_open(d, s, req, emit, user);
	else if (strcmp(type, "claim") == 0)
		rc = on_claim(d, s, req, emit, user);
	else if (strcmp(type, "reply") == 0)
		rc = on_text(d, s, req, 0, emit, user);
	else if (strcmp(type, "note") == 0)
		rc = on_text(d, s, req, 1, emit, user);
	else if (strcmp(type, "typing") == 0)
		rc = on_typing(d, s, req, emit, user);
	else if (strcmp(type, "transfer") == 0)
		rc = on_transfer(d, s, req, emit, user);
	else if (strcmp(type, "handback") == 0)
		rc = on_handback_resolve(d, s, req, 0, emit, user);
	else if (strcmp(type, "resolve") == 0)
		rc = on_handback_resolve(d, s, req, 1, emit, user);
	else if (strcmp(type, "presence") == 0)
		rc = on_presence(d, s, req, emit, user);
	else
		rc = send_error(s, emit, user, "unknown_type", "unknown \"type\"");
	/* Who did what to which chat, for the audit log (never the text). */
	if (rc == 0 && type && (strcmp(type, "claim") == 0 || strcmp(type, "reply") == 0 ||
				strcmp(type, "note") == 0 || strcmp(type, "transfer") == 0 ||
				strcmp(type, "handback") == 0 || strcmp(type, "resolve") == 0 ||
				strcmp(type, "open") == 0)) {
		char action[32];
		snprintf(action, sizeof action, "chat.%s", type);
		admin_audit(d->st, s->user.name, action,
			    json_string_value(json_object_get(req, "conversation")),
			    strcmp(type, "transfer") == 0 ? json_string_value(json_object_get(req, "to")) : NULL,
			    NULL);
	}
	json_decref(req);
	return rc;
}

/* --- lifetime ------------------------------------------------------------- */

int desk_open(store *st, engine *eng, auth *au, notify *nt, const desk_sink *sink,
	      desk **out, char *err, size_t errsz)
{
	desk *d = calloc(1, sizeof *d);
	*out = NULL;
	if (!d) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	d->st = st;
	d->eng = eng;
	d->au = au;
	d->nt = nt;
	if (sink)
		d->sink = *sink;
	*out = d;
	return 0;
}

void desk_close(desk *d)
{
	if (!d)
		return;
	for (int i = 0; i < Q_N; i++)
		sqlite3_finalize(d->q[i]);
	free(d);
}
