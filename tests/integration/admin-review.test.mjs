// Keeping facts current: an entry past its review-by date is listed for review and its
// questions go to staff; after a correction, answer recall lists who got the old text;
// analytics count what happened, as JSON and CSV.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.mjs';
import { openConversation, stopCleanly } from '../lib/chat.mjs';
import { addUser } from '../lib/users.mjs';
import { login, request } from '../lib/staff.mjs';

const PW = 'correct horse battery staple';
let server, admin;
before(async () => {
  server = await startServer();
  await addUser(server.db, 'ada', 'admin', PW, 'Ada');
  admin = await login(server, 'ada', PW);
});
after(async () => { await stopCleanly(server); });

const api = (method, path, body) => request(server, method, path, { cookie: admin.cookie, csrf: admin.csrf, body });

async function entry(id) {
  const r = await api('GET', `/api/admin/entries/${id}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

async function save(id, changes) {
  const { entry: e, revisions } = await entry(id);
  const body = { question: e.question, alternates: e.alternates, answer: e.answer, category: e.category,
    lang: e.lang, base_revision: revisions[0].revision, publish: true, ...changes };
  const r = await api('PUT', `/api/admin/entries/${id}`, body);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

test('past its review-by date: listed for review, and the bot hands the question to staff', async () => {
  const [pat] = await openConversation(server);
  const before = await pat.ask('how much is a flu shot');
  assert.deepEqual([before.reply.type, before.reply.entry], ['answer', 'price-flu-shot']);
  await save('price-flu-shot', { review_by: '2020-01-01' });
  const due = await api('GET', '/api/admin/entries?status=review_due');
  assert.ok(due.json.entries.some((e) => e.id === 'price-flu-shot' && e.review_due), due.text);
  const after = await pat.ask('how much is a flu shot');
  assert.equal(after.reply.type, 'handoff');
  assert.equal(after.reply.reason, 'review_due');
  // Reviewed: a date in the future, and the bot answers again.
  await save('price-flu-shot', { review_by: '2099-12-31' });
  const again = await pat.ask('how much is a flu shot');
  assert.equal(again.reply.type, 'answer');
  await pat.close();
});

test('answer recall: after a correction, the conversations that got the old text are listed', async () => {
  const [p1, w1] = await openConversation(server);
  const old = await p1.ask('do you have parking?');
  assert.equal(old.reply.type, 'answer', JSON.stringify(old.reply));
  const id = old.reply.entry;
  assert.ok(Number.isInteger(old.reply.revision), 'answers carry the revision they came from');
  await save(id, { answer: 'Parking moved: use the new garage on 5th Street (free for patients).' });
  const [p2, w2] = await openConversation(server);
  const fresh = await p2.ask('do you have parking?');
  assert.match(fresh.reply.text, /new garage/);
  const recall = await api('GET', `/api/admin/entries/${id}/recall?days=7`);
  assert.equal(recall.status, 200, recall.text);
  const convs = recall.json.conversations.map((c) => c.conversation);
  assert.ok(convs.includes(w1.conversation), 'the one told the old text is listed');
  assert.ok(!convs.includes(w2.conversation), 'the one told the new text is not');
  await p1.close(); await p2.close();
});

test('analytics: per day and totals as JSON, the same days as CSV; staff cannot read them', async () => {
  const [pat] = await openConversation(server);
  const a = await pat.ask('what are your opening hours?');
  await pat.send({ type: 'feedback', message: a.reply.id, helpful: false });
  await pat.next('feedback_ok');
  await pat.ask('what is the meaning of life and the universe');
  await pat.close();
  const r = await api('GET', '/api/admin/analytics');
  assert.equal(r.status, 200, r.text);
  const j = r.json;
  assert.equal(j.days.length, 30);
  const today = j.days.at(-1);
  assert.ok(today.conversations >= 1 && today.bot_answers >= 1 && today.handoffs >= 1 && today.thumbs_down >= 1, JSON.stringify(today));
  assert.ok(j.conversations >= 1 && j.bot_only_share >= 0 && j.bot_only_share <= 1);
  assert.ok(j.handoff_reasons.some((x) => x.reason === 'low_confidence'));
  assert.ok(j.top_entries.length >= 1);
  assert.ok(j.top_unanswered.some((x) => /meaning of life/.test(x.text)), JSON.stringify(j.top_unanswered));
  const csv = await api('GET', '/api/admin/analytics.csv');
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get('content-type'), /text\/csv/);
  const lines = csv.text.trim().split('\r\n');
  assert.equal(lines[0], 'day,conversations,patient_messages,bot_answers,handoffs,emergencies,thumbs_up,thumbs_down');
  assert.equal(lines.length, 31);
  assert.equal(lines.at(-1).split(',')[0], today.day);
  const bad = await api('GET', '/api/admin/analytics?from=2020-01-01&to=2026-01-01');
  assert.equal(bad.status, 400, 'more than 400 days is refused');

  await addUser(server.db, 'sam', 'staff', PW, 'Sam');
  const staff = await login(server, 'sam', PW);
  const denied = await request(server, 'GET', '/api/admin/analytics', { cookie: staff.cookie });
  assert.deepEqual([denied.status, denied.json.error], [403, 'forbidden']);
  const page = await request(server, 'GET', '/admin', { cookie: staff.cookie });
  assert.equal(page.status, 303, 'the admin page is for admins');
});

test('settings: messages apply to the next conversation; a bad change is refused whole', async () => {
  const cur = await api('GET', '/api/admin/settings');
  assert.equal(cur.status, 200);
  assert.equal(typeof cur.json.messages.greeting.en, 'string');
  assert.equal(cur.json.retention_days, 365);
  assert.ok(cur.json.hours && cur.json.hours.timezone, 'the opening hours are a setting');
  const put = await api('PUT', '/api/admin/settings', {
    retention_days: 90, messages: { greeting: { en: 'Welcome to Riverside! Ask me anything.' } } });
  assert.equal(put.status, 200, put.text);
  const [pat, w] = await openConversation(server);
  assert.equal(w.greeting, 'Welcome to Riverside! Ask me anything.');
  await pat.close();
  // One bad field and nothing of the request is applied.
  const bad = await api('PUT', '/api/admin/settings', { retention_days: 30, hours: { timezone: 'Mars/Olympus' } });
  assert.equal(bad.status, 400);
  assert.match(bad.json.message, /hours/);
  assert.equal((await api('GET', '/api/admin/settings')).json.retention_days, 90);
  const badMsg = await api('PUT', '/api/admin/settings', { messages: { greeting: { fr: 'Bonjour' } } });
  assert.equal(badMsg.status, 400);
  const audit = await api('GET', '/api/admin/audit');
  assert.ok(audit.json.events.some((e) => e.action === 'settings.messages' && e.actor === 'ada'));
});

test('synonyms: a clinic word the bot did not know finds its entry once an admin adds it', async () => {
  const [pat] = await openConversation(server);
  const before = await pat.ask('how much is a jab for the flu');
  const put = await api('PUT', '/api/admin/synonyms', { synonyms: { jab: 'shot' } });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(put.json.synonyms, { jab: 'shot' });
  const after = await pat.ask('how much is a jab for the flu');
  assert.deepEqual([after.reply.type, after.reply.entry], ['answer', 'price-flu-shot'], JSON.stringify({ before: before.reply, after: after.reply }));
  assert.equal((await api('PUT', '/api/admin/synonyms', { synonyms: { 'two words': 'x' } })).status, 400);
  assert.deepEqual((await api('GET', '/api/admin/synonyms')).json.synonyms, { jab: 'shot' });
  await pat.close();
});
