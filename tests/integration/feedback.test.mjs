// Thumbs up/down on a bot reply: stored for the clinic, and only ever on this
// conversation's own bot replies.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.mjs';
import { connect, openConversation, stopCleanly } from '../lib/chat.mjs';

let server;
const chats = [];
before(async () => { server = await startServer(); });
after(async () => {
  for (const c of chats) await c.close();
  await stopCleanly(server);
});

async function open(hello) {
  const [chat, welcome] = await openConversation(server, { hello });
  chats.push(chat);
  return [chat, welcome];
}

async function feedback(chat, message, helpful) {
  await chat.send({ type: 'feedback', message, helpful });
  return chat.next((f) => f.type === 'feedback_ok' || f.type === 'error');
}

test('feedback on a bot reply is stored (feedback_ok) and shows in the history', async () => {
  const [chat, welcome] = await open();
  const r1 = await chat.ask('what are your opening hours?');
  const r2 = await chat.ask('what is the capital of france');
  assert.ok(r1.reply && r2.reply);

  const ok = await feedback(chat, r1.reply.id, true);
  assert.equal(ok.type, 'feedback_ok', JSON.stringify(ok));
  assert.equal(ok.message, r1.reply.id);

  const ok2 = await feedback(chat, r2.reply.id, false);
  assert.equal(ok2.type, 'feedback_ok', JSON.stringify(ok2));
  assert.equal(ok2.message, r2.reply.id);
  await chat.close();

  const c2 = await connect(server);
  chats.push(c2);
  const w = await c2.hello({ token: welcome.token });
  assert.equal(w.type, 'welcome', JSON.stringify(w));
  const byId = new Map(w.history.map((e) => [e.id, e]));
  assert.equal(byId.get(r1.reply.id)?.helpful, true, JSON.stringify(w.history));
  assert.equal(byId.get(r2.reply.id)?.helpful, false, JSON.stringify(w.history));
  assert.equal(w.history.length, 4, 'feedback adds no events to the history');
});

test('feedback on an id that does not exist is not_found', async () => {
  const [chat] = await open();
  const r = await chat.ask('what are your opening hours?');
  assert.ok(r.reply);
  const err = await feedback(chat, r.reply.id + 1000000, true);
  assert.equal(err.type, 'error', JSON.stringify(err));
  assert.equal(err.code, 'not_found');
  const err2 = await feedback(chat, -1, true);
  assert.equal(err2.type, 'error', JSON.stringify(err2));
  assert.equal(err2.code, 'not_found');
  // The connection keeps working.
  const again = await feedback(chat, r.reply.id, true);
  assert.equal(again.type, 'feedback_ok', JSON.stringify(again));
});

test("feedback on the patient's own message (not a bot reply) is not_found", async () => {
  const [chat] = await open();
  const r = await chat.ask('what are your opening hours?');
  assert.ok(r.ack);
  const err = await feedback(chat, r.ack.id, true);
  assert.equal(err.type, 'error', JSON.stringify(err));
  assert.equal(err.code, 'not_found');
});

test("feedback on another conversation's reply is not_found and changes nothing there", async () => {
  const [a, wa] = await open();
  const [b] = await open();
  const ra = await a.ask('what are your opening hours?');
  assert.ok(ra.reply);
  const err = await feedback(b, ra.reply.id, false);
  assert.equal(err.type, 'error', JSON.stringify(err));
  assert.equal(err.code, 'not_found');
  await a.close();

  const c = await connect(server);
  chats.push(c);
  const w = await c.hello({ token: wa.token });
  const ev = w.history.find((e) => e.id === ra.reply.id);
  assert.ok(ev, JSON.stringify(w.history));
  assert.notEqual(ev.helpful, false, "B's thumbs down did not land on A's reply");
});

test('feedback with a missing or mistyped field is missing_field', async () => {
  const [chat] = await open();
  const r = await chat.ask('what are your opening hours?');
  assert.ok(r.reply);
  for (const frame of [
    { type: 'feedback', helpful: true },
    { type: 'feedback', message: r.reply.id },
    { type: 'feedback', message: String(r.reply.id), helpful: true },
    { type: 'feedback', message: r.reply.id, helpful: 'yes' },
  ]) {
    await chat.send(frame);
    const err = await chat.next((f) => f.type === 'feedback_ok' || f.type === 'error');
    assert.equal(err.type, 'error', `${JSON.stringify(frame)} -> ${JSON.stringify(err)}`);
    assert.equal(err.code, 'missing_field', `${JSON.stringify(frame)} -> ${JSON.stringify(err)}`);
  }
});

test('feedback before hello is no_session', async () => {
  const chat = await connect(server);
  chats.push(chat);
  await chat.send({ type: 'feedback', message: 1, helpful: true });
  const err = await chat.next((f) => f.type === 'feedback_ok' || f.type === 'error');
  assert.equal(err.type, 'error', JSON.stringify(err));
  assert.equal(err.code, 'no_session');
});
