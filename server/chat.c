/* chat: see chat.h. */
#include "chat.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "util.h"

void chat_default_messages(chat_messages *m)
{
	m->greeting[TEXT_LANG_EN] =
		"Hi! I'm the Riverside Family Health assistant. Ask me about hours, "
		"appointments, prices, insurance, refills or directions. If this is an "
		"emergency, call 911.";
	m->greeting[TEXT_LANG_ES] =
		"¡Hola! Soy el asistente de Riverside Family Health. Pregúnteme por el "
		"horario, citas, precios, seguros, recetas o cómo llegar. Si es una "
		"emergencia, llame al 911.";
	m->handoff[TEXT_LANG_EN] =
		"I'm not sure I have the right answer to that, so I've passed your "
		"question to our front desk team. A staff member will reply here as soon "
		"as they can. You can also call us at (555) 010-2400.";
	m->handoff[TEXT_LANG_ES] =
		"No estoy seguro de tener la respuesta correcta, así que pasé su pregunta "
		"a nuestro equipo de recepción. Un miembro del personal le responderá aquí "
		"lo antes posible. También puede llamarnos al (555) 010-2400.";
	m->person[TEXT_LANG_EN] =
		"Of course. I've asked our front desk team to join this chat; a staff "
		"member will reply here as soon as they can. You can also call us at "
		"(555) 010-2400.";
	m->person[TEXT_LANG_ES] =
		"Por supuesto. Le pedí a nuestro equipo de recepción que se una a este "
		"chat; un miembro del personal le responderá aquí lo antes posible. "
		"También puede llamarnos al (555) 010-2400.";
	m->emergency[TEXT_LANG_EN] =
		"If this is a medical emergency, call 911 now or go to the nearest "
		"emergency room. If you are thinking about suicide or hurting yourself, "
		"call or text 988 (Suicide & Crisis Lifeline) right now. For poisoning or "
		"an overdose, call Poison Control at 1-800-222-1222. Please do not wait "
		"for a reply in this chat. We have alerted our staff.";
	m->emergency[TEXT_LANG_ES] =
		"Si es una emergencia médica, llame al 911 ahora o vaya a la sala de "
		"emergencias más cercana. Si está pensando en el suicidio o en hacerse "
		"daño, llame o envíe un mensaje de texto al 988 (Línea de Prevención del "
		"Suicidio y Crisis) ahora mismo. Para envenenamiento o sobredosis, llame "
		"a Control de Envenenamientos al 1-800-222-1222. No espere una respuesta "
		"en este chat. Hemos avisado a nuestro personal.";
	m->nobody[TEXT_LANG_EN] =
		"Our front desk team can't join the chat right now. You can call us at "
		"(555) 010-2400.";
	m->nobody[TEXT_LANG_ES] =
		"Nuestro equipo de recepción no puede unirse al chat en este momento. Puede "
		"llamarnos al (555) 010-2400.";
	m->still_waiting[TEXT_LANG_EN] =
		"I've added that to your conversation for our front desk team. A staff "
		"member will reply here as soon as they can.";
	m->still_waiting[TEXT_LANG_ES] =
		"Agregué eso a su conversación para nuestro equipo de recepción. Un miembro "
		"del personal le responderá aquí lo antes posible.";
	m->closed[TEXT_LANG_EN] = "Our front desk is closed right now.";
	m->closed[TEXT_LANG_ES] = "Nuestra recepción está cerrada en este momento.";
	m->leave_message[TEXT_LANG_EN] =
		"Leave your name and a phone number or e-mail address below, and a staff "
		"member will get back to you as soon as we're available.";
	m->leave_message[TEXT_LANG_ES] =
		"Deje su nombre y un teléfono o correo electrónico abajo, y un miembro del "
		"personal le contestará en cuanto estemos disponibles.";
	m->ticket_ok[TEXT_LANG_EN] =
		"Thank you. Your message is with our front desk team; we'll contact you as "
		"soon as we can.";
	m->ticket_ok[TEXT_LANG_ES] =
		"Gracias. Su mensaje está con nuestro equipo de recepción; le contactaremos lo "
		"antes posible.";
}

const char *const chat_custom_names[CHAT_N_CUSTOM] = {
	"greeting", "handoff", "person", "closed", "nobody", "leave_message",
};

static const char **custom_slot(chat_messages *m, size_t i)
{
	switch (i) {
	case 0: return m->greeting;
	case 1: return m->handoff;
	case 2: return m->person;
	case 3: return m->closed;
	case 4: return m->nobody;
	default: return m->leave_message;
	}
}

int chat_messages_check(const json_t *custom, char *err, size_t errsz)
{
	const char *key;
	const json_t *v;
	if (!json_is_object(custom)) {
		snprintf(err, errsz, "\"messages\" must be an object");
		return -1;
	}
	json_object_foreach((json_t *)custom, key, v) {
		size_t i;
		const char *lk;
		const json_t *t;
		for (i = 0; i < CHAT_N_CUSTOM && strcmp(key, chat_custom_names[i]) != 0; i++)
			;
		if (i == CHAT_N_CUSTOM || !json_is_object(v)) {
			snprintf(err, errsz, "messages.%s: unknown message (or not an {\"en\",\"es\"} object)", key);
			return -1;
		}
		json_object_foreach((json_t *)v, lk, t) {
			if ((strcmp(lk, "en") != 0 && strcmp(lk, "es") != 0) || !json_is_string(t) ||
			    json_string_length(t) == 0 || json_string_length(t) > 2000) {
				snprintf(err, errsz, "messages.%s.%s: a text of 1 to 2000 bytes, for en or es", key, lk);
				return -1;
			}
		}
	}
	return 0;
}

void chat_messages_apply(chat_ctx *ctx, json_t *custom)
{
	json_t *old = ctx->custom_msg;
	chat_default_messages(&ctx->msg);
	for (size_t i = 0; custom && i < CHAT_N_CUSTOM; i++) {
		const json_t *m = json_object_get(custom, chat_custom_names[i]);
		const char *en = json_string_value(json_object_get(m, "en"));
		const char *es = json_string_value(json_object_get(m, "es"));
		const char **slot = custom_slot(&ctx->msg, i);
		if (en)
			slot[TEXT_LANG_EN] = en;
		if (es)
			slot[TEXT_LANG_ES] = es;
	}
	ctx->custom_msg = custom;
	json_decref(old);
}

json_t *chat_messages_json(const chat_ctx *ctx)
{
	json_t *out = json_object();
	for (size_t i = 0; i < CHAT_N_CUSTOM; i++) {
		const char **slot = custom_slot((chat_messages *)&ctx->msg, i);
		json_object_set_new(out, chat_custom_names[i], json_pack("{s:s, s:s}", "en", slot[TEXT_LANG_EN],
									 "es", slot[TEXT_LANG_ES]));
	}
	return out;
}

#define UNSAVED_TEXT "Sorry, your message could not be saved. Please try again, or call us " \
		     "at (555) 010-2400."

const char chat_unsaved_frame[] =
	"{\"type\":\"error\",\"code\":\"internal\",\"message\":\"" UNSAVED_TEXT "\"}";

json_t *chat_parse_message(const char *frame, size_t len)
{
	json_t *req;
	const char *type;
	if (!memmem(frame, len, "\"message\"", 9))
		return NULL;
	req = json_loadb(frame, len, JSON_REJECT_DUPLICATES, NULL);
	type = json_string_value(json_object_get(req, "type")); /* NULL unless an object */
	if (type && strcmp(type, "message") == 0)
		return req;
	json_decref(req);
	return NULL;
}

static void emit_json(json_t *frame, chat_emit_fn emit, void *user)
{
	char *s = json_dumps(frame, JSON_COMPACT);
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

static int send_error(chat_session *s, chat_emit_fn emit, void *user, const char *code,
		      const char *message)
{
	s->last_error = code;
	emit_json(json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "message", message),
		  emit, user);
	return -1;
}

/* Token bucket: CHAT_BURST frames at once, refilled steadily. */
static int allow_frame(chat_ctx *ctx, chat_session *s)
{
	return util_bucket_take(&s->tokens, &s->refilled_us, ctx->now_us(),
				ctx->burst > 0 ? ctx->burst : CHAT_BURST,
				ctx->refill_per_sec > 0 ? ctx->refill_per_sec : CHAT_REFILL_PER_SEC);
}

static int on_hello(chat_ctx *ctx, chat_session *s, json_t *req, chat_emit_fn emit, void *user)
{
	const json_t *jtok = json_object_get(req, "token");
	const json_t *jsince = json_object_get(req, "since");
	const json_t *jlang = json_object_get(req, "lang");
	char conv[STORE_CONV_ID_LEN + 1], token[STORE_TOKEN_LEN + 1], status[16] = "bot";
	char err[256];
	json_int_t since = 0;
	int resumed = 0;
	json_t *history;

	if (jtok && !json_is_string(jtok))
		return send_error(s, emit, user, "missing_field", "\"token\" must be a string");
	if (jsince && !json_is_integer(jsince))
		return send_error(s, emit, user, "missing_field", "\"since\" must be an integer");
	if (jsince)
		since = json_integer_value(jsince);
	if (json_is_string(jlang))
		s->lang = strncmp(json_string_value(jlang), "es", 2) == 0 ? TEXT_LANG_ES : TEXT_LANG_EN;

	if (jtok) {
		const char *t = json_string_value(jtok);
		int rc = strlen(t) == STORE_TOKEN_LEN
			 ? store_conv_by_token(ctx->st, t, conv, status, sizeof status, err, sizeof err)
			 : 1;
		if (rc == 1)
			return send_error(s, emit, user, "bad_token",
					  "This conversation has ended or the link is no longer valid. "
					  "Start a new one with a plain hello.");
		if (rc < 0) {
			util_log("error", "hello: conversation not read: %s", err);
			return send_error(s, emit, user, "internal", "the conversation could not be read");
		}
		snprintf(token, sizeof token, "%s", t);
		resumed = 1;
	} else if (store_conv_create(ctx->st, s->lang == TEXT_LANG_ES ? "es" : "en", conv, token,
				     err, sizeof err) < 0) {
		util_log("error", "hello: conversation not started: %s", err);
		return send_error(s, emit, user, "internal", "the conversation could not be started");
	}
	history = store_events_since(ctx->st, conv, since, err, sizeof err);
	if (!history) {
		util_log("error", "conversation %s: history not read: %s", conv, err);
		return send_error(s, emit, user, "internal", "the conversation could not be read");
	}
	memcpy(s->conv_id, conv, sizeof conv);
	s->started = 1;
	emit_json(json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:o}", "type", "welcome",
			    "conversation", conv, "token", token, "resumed", resumed,
			    "status", status, "greeting", ctx->msg.greeting[s->lang],
			    "history", history),
		  emit, user);
	if (ctx->desk && strcmp(status, "waiting") == 0) {
		json_t *q = desk_queue_frame(ctx->desk, conv);
		if (q)
			emit_json(q, emit, user);
	}
	return 0;
}

/* The reply's fields (everything but type, id and text), new reference. */
static json_t *reply_fields(const chat_ctx *ctx, const engine_decision *d, json_int_t reply_to)
{
	json_t *f = json_pack("{s:I}", "reply_to", reply_to);
	switch (d->kind) {
	case ENGINE_ANSWER:
		json_object_set_new(f, "entry", json_string(d->entry->id));
		json_object_set_new(f, "question", json_string(d->entry->question));
		json_object_set_new(f, "confidence", json_real(d->confidence));
		break;
	case ENGINE_HANDOFF: {
		json_t *sugg = json_array();
		double floor = engine_threshold(ctx->eng) * 0.5;
		json_object_set_new(f, "reason", json_string(engine_reason_name(d->reason)));
		json_object_set_new(f, "confidence", json_real(d->confidence));
		/* the best three over the floor; the engine's order is not by
		 * score alone (engine.h), so a low one does not end the list */
		for (size_t i = 0, n = 0; d->reason == ENGINE_REASON_LOW_CONFIDENCE &&
		     i < d->n_matches && n < 3; i++) {
			if (d->matches[i].score < floor)
				continue;
			n++;
			json_array_append_new(sugg, json_pack("{s:s, s:s}",
				"entry", d->matches[i].entry->id,
				"question", d->matches[i].entry->question));
		}
		json_object_set_new(f, "suggestions", sugg);
		break;
	}
	case ENGINE_EMERGENCY:
		json_object_set_new(f, "reason", json_string("emergency"));
		break;
	}
	return f;
}

const char *chat_reply_text(const chat_ctx *ctx, const engine_decision *d)
{
	switch (d->kind) {
	case ENGINE_ANSWER:
		return d->text[0] ? d->text : d->entry->answer;
	case ENGINE_EMERGENCY:
		return ctx->msg.emergency[d->lang];
	case ENGINE_HANDOFF:
		break;
	}
	return d->reason == ENGINE_REASON_ASKED_FOR_PERSON ? ctx->msg.person[d->lang]
							    : ctx->msg.handoff[d->lang];
}


/* The handoff text when nobody can join now: why, when we open (from the
 * structured hours, at the actual time), and how to leave a message. */
static void unavailable_text(const chat_ctx *ctx, desk_availability avail, int lang,
			     char *out, size_t outsz)
{
	char hours[1024] = "";
	if (avail == DESK_CLOSED) {
		hours_query q = { .when = HOURS_NOW };
		const hours_config *h = engine_hours(ctx->eng);
		if (h && hours_answer(h, &q, engine_now(ctx->eng), lang == TEXT_LANG_ES, hours,
				      sizeof hours) < 0)
			hours[0] = '\0';
		snprintf(out, outsz, "%s %s%s%s", ctx->msg.closed[lang], hours, hours[0] ? " " : "",
			 ctx->msg.leave_message[lang]);
	} else {
		snprintf(out, outsz, "%s %s", ctx->msg.nobody[lang], ctx->msg.leave_message[lang]);
	}
}

int chat_queue_moves(const char *status, int was_emergency, int emergency)
{
	if (strcmp(status, "waiting") != 0)
		return strcmp(status, "owned") != 0 && strcmp(status, "ticket") != 0;
	return emergency && !was_emergency;
}

static int with_person(const desk_conv *c)
{
	return strcmp(c->status, "waiting") == 0 || strcmp(c->status, "owned") == 0 ||
	       strcmp(c->status, "ticket") == 0;
}

static int on_message(chat_ctx *ctx, chat_session *s, json_t *req, chat_emit_fn emit, void *user)
{
	const json_t *jtext = json_object_get(req, "text");
	const json_t *jcid = json_object_get(req, "client_id");
	const char *text, *reply_text;
	size_t len;
	engine_decision d;
	desk_conv dc;
	desk_availability avail = DESK_AVAILABLE;
	char err[256], unavailable[2048], review_by[16];
	int64_t entry_rev;
	json_int_t msg_id = 0, reply_id = 0;
	json_t *mfields = NULL, *rfields = NULL, *frame;
	int64_t id;
	int quiet, queued;

	if (!s->started)
		return send_error(s, emit, user, "no_session", "say hello first");
	if (!json_is_string(jtext))
		return send_error(s, emit, user, "missing_field", "\"text\" must be a string");
	if (jcid && !json_is_string(jcid) && !json_is_integer(jcid))
		return send_error(s, emit, user, "missing_field", "\"client_id\" must be a string");
	text = json_string_value(jtext);
	len = json_string_length(jtext);
	if (util_utf8_chars(text, len) > CHAT_MAX_TEXT)
		return send_error(s, emit, user, "too_long",
				  "That message is too long. Please keep it under 4000 characters.");
	if (strspn(text, " \t\r\n") == len)
		return send_error(s, emit, user, "empty", "The message is empty.");

	if (ctx->allow_message && !ctx->allow_message(user))
		return send_error(s, emit, user, "rate_limited",
				  "Many messages are coming from your network right now. Please wait a "
				  "moment and try again.");

	memset(&dc, 0, sizeof dc);
	snprintf(dc.status, sizeof dc.status, "bot");
	if (ctx->desk && desk_conv_get(ctx->desk, s->conv_id, &dc, err, sizeof err) < 0)
		goto fail;

	if (engine_decide(ctx->eng, text, len, -1, &d, err, sizeof err) < 0)
		util_log("error", "engine: %s", err); /* d is a safe handoff */
	/* A fact past its review-by date (prices and hours change) goes to a
	 * person instead of being said with confidence. Answers made from the
	 * structured opening hours are always current. */
	entry_rev = 0;
	if (d.kind == ENGINE_ANSWER && !d.text[0] &&
	    store_entry_meta(ctx->st, d.entry->id, &entry_rev, review_by) == 0 && review_by[0]) {
		char today[21];
		util_iso8601(engine_now(ctx->eng), today);
		if (strncmp(review_by, today, 10) < 0) {
			d.kind = ENGINE_HANDOFF;
			d.reason = ENGINE_REASON_REVIEW_DUE;
		}
	}
	/* While a person owns the chat the bot says nothing: it would talk over
	 * them. Except in an emergency: those instructions never wait. While
	 * the chat only waits for a person, the bot still answers what it knows
	 * (the chat stays in the queue), so nobody waits for a fact it has. */
	quiet = strcmp(dc.status, "owned") == 0 && d.kind != ENGINE_EMERGENCY;
	queued = !quiet && d.kind != ENGINE_ANSWER;
	reply_text = chat_reply_text(ctx, &d);
	if (queued && d.kind == ENGINE_HANDOFF && with_person(&dc)) {
		reply_text = ctx->msg.still_waiting[d.lang];
	} else if (queued && ctx->desk && d.kind == ENGINE_HANDOFF &&
		   (avail = desk_available(ctx->desk)) != DESK_AVAILABLE) {
		unavailable_text(ctx, avail, d.lang, unavailable, sizeof unavailable);
		reply_text = unavailable;
	}

	if (store_begin(ctx->st, err, sizeof err) < 0)
		goto fail;
	if (jcid)
		mfields = json_pack("{s:O}", "client_id", jcid);
	if (store_event_add(ctx->st, s->conv_id, "patient", "message", text, mfields, &id,
			    err, sizeof err) < 0)
		goto fail;
	msg_id = id;
	if (ctx->desk && strcmp(dc.status, "resolved") == 0 &&
	    desk_set_status_tx(ctx->desk, s->conv_id, "bot", err, sizeof err) < 0)
		goto fail;
	if (!quiet) {
		rfields = reply_fields(ctx, &d, msg_id);
		if (d.kind == ENGINE_ANSWER && entry_rev > 0) /* which text they got: answer recall */
			json_object_set_new(rfields, "revision", json_integer(entry_rev));
		if (avail != DESK_AVAILABLE) {
			json_object_set_new(rfields, avail == DESK_CLOSED ? "after_hours" : "nobody_online",
					    json_true());
			json_object_set_new(rfields, "leave_message", json_true());
		}
		if (store_event_add(ctx->st, s->conv_id, "bot", engine_kind_name(d.kind), reply_text,
				    rfields, &id, err, sizeof err) < 0)
			goto fail;
		reply_id = id;
	}
	if (queued) {
		const char *reason = d.kind == ENGINE_EMERGENCY ? "emergency" : engine_reason_name(d.reason);
		if (ctx->desk ? desk_enqueue_tx(ctx->desk, s->conv_id, reason, d.kind == ENGINE_EMERGENCY,
						d.lang == TEXT_LANG_ES ? "es" : "en", err, sizeof err) < 0
			      : store_conv_set_status(ctx->st, s->conv_id, "waiting", reason,
						      err, sizeof err) < 0)
			goto fail;
	}
	if (store_commit(ctx->st, err, sizeof err) < 0)
		goto fail;
	json_decref(mfields);

	/* Stored: now, and only now, tell the patient. */
	frame = json_pack("{s:s, s:I}", "type", "ack", "id", msg_id);
	if (jcid)
		json_object_set(frame, "client_id", (json_t *)jcid);
	emit_json(frame, emit, user);
	if (!quiet) {
		frame = json_pack("{s:s, s:I, s:s}", "type", engine_kind_name(d.kind), "id", reply_id,
				  "text", reply_text);
		json_object_update(frame, rfields);
		json_decref(rfields);
		emit_json(frame, emit, user);
	}
	/* Then the consoles (and every waiting patient, when the queue moved:
	 * only when this chat joined the line or jumped it as an emergency; a
	 * second handoff while already waiting moves nobody, and re-telling
	 * every waiting patient their unchanged place cost a frame per waiting
	 * patient per message). */
	if (ctx->desk)
		desk_conv_changed(ctx->desk, s->conv_id, msg_id - 1,
				  queued && chat_queue_moves(dc.status, dc.emergency,
							     d.kind == ENGINE_EMERGENCY));
	return 0;
fail:
	store_rollback(ctx->st);
	json_decref(mfields);
	json_decref(rfields);
	util_log("error", "conversation %s: message not stored: %s", s->conv_id, err);
	return send_error(s, emit, user, "internal", UNSAVED_TEXT);
}

/* A string field of 1..max characters, trimmed of nothing (shown as typed). */
static const char *short_field(json_t *req, const char *key, size_t max)
{
	const json_t *j = json_object_get(req, key);
	const char *v = json_string_value(j);
	if (!v || strspn(v, " \t\r\n") == json_string_length(j) ||
	    util_utf8_chars(v, json_string_length(j)) > max)
		return NULL;
	return v;
}

static int on_leave_message(chat_ctx *ctx, chat_session *s, json_t *req, chat_emit_fn emit,
			    void *user)
{
	const char *name = short_field(req, "name", 200), *contact = short_field(req, "contact", 200);
	const char *text = short_field(req, "text", CHAT_MAX_TEXT);
	char err[256];
	desk_conv dc;
	json_t *fields = NULL;
	int64_t id;

	if (!s->started)
		return send_error(s, emit, user, "no_session", "say hello first");
	if (!ctx->desk)
		return send_error(s, emit, user, "unknown_type", "messages cannot be left here");
	if (!name || !contact || !text)
		return send_error(s, emit, user, "missing_field",
				  "Please give your name, a phone number or e-mail, and your message "
				  "(each under 200 characters, the message under 4000).");
	if (desk_conv_get(ctx->desk, s->conv_id, &dc, err, sizeof err) < 0 ||
	    store_begin(ctx->st, err, sizeof err) < 0)
		goto fail;
	fields = json_pack("{s:s, s:s}", "name", name, "contact", contact);
	if (store_event_add(ctx->st, s->conv_id, "patient", "ticket", text, fields, &id,
			    err, sizeof err) < 0)
		goto fail;
	/* A person already in the chat reads it there; otherwise it waits as a ticket. */
	if (strcmp(dc.status, "owned") != 0 &&
	    ((!with_person(&dc) && desk_enqueue_tx(ctx->desk, s->conv_id, "ticket", 0,
						   s->lang == TEXT_LANG_ES ? "es" : "en",
						   err, sizeof err) < 0) ||
	     desk_set_status_tx(ctx->desk, s->conv_id, "ticket", err, sizeof err) < 0))
		goto fail;
	if (store_commit(ctx->st, err, sizeof err) < 0)
		goto fail;
	json_decref(fields);
	emit_json(json_pack("{s:s, s:I, s:s}", "type", "ticket_ok", "id", (json_int_t)id,
			    "text", ctx->msg.ticket_ok[s->lang]), emit, user);
	desk_conv_changed(ctx->desk, s->conv_id, id - 1, 1);
	return 0;
fail:
	store_rollback(ctx->st);
	json_decref(fields);
	util_log("error", "conversation %s: message left not stored: %s", s->conv_id, err);
	return send_error(s, emit, user, "internal",
			  "Sorry, your message could not be saved. Please call us at (555) 010-2400.");
}

static int on_typing(chat_ctx *ctx, chat_session *s, json_t *req)
{
	desk_conv dc;
	char err[128];
	if (!s->started || !ctx->desk)
		return 0;
	if (desk_conv_get(ctx->desk, s->conv_id, &dc, err, sizeof err) == 0 && with_person(&dc))
		desk_patient_typing(ctx->desk, s->conv_id, json_is_true(json_object_get(req, "typing")));
	return 0;
}

static int on_feedback(chat_ctx *ctx, chat_session *s, json_t *req, chat_emit_fn emit, void *user)
{
	const json_t *jmsg = json_object_get(req, "message");
	const json_t *jhelp = json_object_get(req, "helpful");
	char err[256];
	int rc;

	if (!s->started)
		return send_error(s, emit, user, "no_session", "say hello first");
	if (!json_is_integer(jmsg) || !json_is_boolean(jhelp))
		return send_error(s, emit, user, "missing_field",
				  "feedback needs \"message\" (an event id) and \"helpful\" (true or false)");
	rc = store_feedback(ctx->st, s->conv_id, json_integer_value(jmsg), json_is_true(jhelp),
			    err, sizeof err);
	if (rc == 1)
		return send_error(s, emit, user, "not_found", "no such reply in this conversation");
	if (rc < 0) {
		util_log("error", "conversation %s: feedback not stored: %s", s->conv_id, err);
		return send_error(s, emit, user, "internal", "the feedback could not be saved");
	}
	emit_json(json_pack("{s:s, s:O}", "type", "feedback_ok", "message", jmsg), emit, user);
	return 0;
}

int chat_handle(chat_ctx *ctx, chat_session *s, const char *frame, size_t len,
		chat_emit_fn emit, void *user)
{
	return chat_handle_parsed(ctx, s, frame, len, NULL, emit, user);
}

int chat_handle_parsed(chat_ctx *ctx, chat_session *s, const char *frame, size_t len,
		       json_t *parsed, chat_emit_fn emit, void *user)
{
	json_error_t jerr;
	json_t *req;
	const char *type;
	int rc;

	s->last_error = NULL;
	/* Typing indicators are frequent and answer nothing: their own limit, and
	 * never an error frame for them. */
	if (!parsed && len < 64 && memmem(frame, len, "\"typing\"", 8) &&
	    (req = json_loadb(frame, len, JSON_REJECT_DUPLICATES, &jerr)) != NULL) {
		if (json_is_object(req) && (type = json_string_value(json_object_get(req, "type"))) &&
		    strcmp(type, "typing") == 0) {
			int64_t now = ctx->now_us();
			if (s->typing_us == 0 || now - s->typing_us >= 500000) {
				s->typing_us = now;
				on_typing(ctx, s, req);
			}
			json_decref(req);
			return 0;
		}
		json_decref(req);
	}
	if (!allow_frame(ctx, s)) {
		json_decref(parsed);
		return send_error(s, emit, user, "rate_limited",
				  "You're sending messages quickly. Please wait a moment and try again.");
	}
	req = parsed ? parsed : json_loadb(frame, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(req)) {
		json_decref(req);
		return send_error(s, emit, user, "bad_json", "the frame must be a JSON object");
	}
	type = json_string_value(json_object_get(req, "type"));
	if (!type)
		rc = send_error(s, emit, user, "unknown_type", "\"type\" is missing");
	else if (strcmp(type, "hello") == 0)
		rc = on_hello(ctx, s, req, emit, user);
	else if (strcmp(type, "message") == 0)
		rc = on_message(ctx, s, req, emit, user);
	else if (strcmp(type, "feedback") == 0)
		rc = on_feedback(ctx, s, req, emit, user);
	else if (strcmp(type, "leave_message") == 0)
		rc = on_leave_message(ctx, s, req, emit, user);
	else if (strcmp(type, "typing") == 0)
		rc = on_typing(ctx, s, req); /* a long typing frame: counted like any other */
	else if (strcmp(type, "ping") == 0) {
		emit_json(json_pack("{s:s}", "type", "pong"), emit, user);
		rc = 0;
	} else
		rc = send_error(s, emit, user, "unknown_type", "unknown \"type\"");
	json_decref(req);
	return rc;
}
