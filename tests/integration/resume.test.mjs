// A patient reloads the page or loses the connection: the token brings back the same
// conversation, with its history once and in order, and never anybody else's.
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

async function helloOn(hello) {
  const chat = await connect(server);
  chats.push(chat);
  return [chat, await chat.hello(hello)];
}

const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$/;

// The history events a patient should see again for one ask(): the message, then the reply.
// The bot event carries the same fields as the live frame; the patient message carries the
// client_id it was sent with (so a client can recognise its own messages after a reconnect).
function expectedEvents(text, { ack, reply }) {
  const bot = { id: reply.id, role: 'bot', type: reply.type, text: reply.text, reply_to: ack.id };
  for (const k of ['entry', 'reason', 'confidence', 'suggestions']) {
    if (reply[k] !== undefined) bot[k] = reply[k];
  }
  return [{ id: ack.id, role: 'patient', type: 'message', text, client_id: ack.client_id }, bot];
}

function assertHistory(history, expected) {
  assert.ok(Array.isArray(history), 'history is an array');
  assert.deepEqual(history.map((e) => e.id), expected.map((e) => e.id),
    `history ids (got ${JSON.stringify(history)})`);
  history.forEach((ev, i) => {
    for (const [k, v] of Object.entries(expected[i])) {
      assert.deepEqual(ev[k], v, `history[${i}].${k}`);
    }
    assert.match(String(ev.ts), TS, `history[${i}].ts is an ISO 8601 time`);
    assert.ok(!Number.isNaN(Date.parse(ev.ts)));
  });
}

async function conversationWithTwoQuestions() {
  const [chat, welcome] = await open();
  const q1 = 'what are your opening hours?';
  const q2 = 'what is the capital of france';
  const r1 = await chat.ask(q1);
  const r2 = await chat.ask(q2);
  assert.ok(r1.ack && r2.ack, 'both questions acknowledged');
  await chat.close();
  return { welcome, expected: [...expectedEvents(q1, r1), ...expectedEvents(q2, r2)], r1, r2 };
}

test('resume after the socket closed: same conversation, resumed, full history in order, each event once', async () => {
  const { welcome, expected } = await conversationWithTwoQuestions();
  const [, w] = await helloOn({ token: welcome.token });
  assert.equal(w.type, 'welcome', JSON.stringify(w));
  assert.equal(w.conversation, welcome.conversation);
  assert.equal(w.resumed, true);
  assert.equal(typeof w.status, 'string');
  assertHistory(w.history, expected);

  // Resuming twice does not duplicate anything either.
  const [, w2] = await helloOn({ token: welcome.token });
  assert.equal(w2.conversation, welcome.conversation);
  assertHistory(w2.history, expected);
});

test('resume with since: only the events after that id', async () => {
  const { welcome, expected, r1 } = await conversationWithTwoQuestions();
  const [, w] = await helloOn({ token: welcome.token, since: r1.reply.id });
  assert.equal(w.type, 'welcome', JSON.stringify(w));
  assert.equal(w.conversation, welcome.conversation);
  assert.equal(w.resumed, true);
  assertHistory(w.history, expected.slice(2));

  const [, wAll] = await helloOn({ token: welcome.token, since: 0 });
  assertHistory(wAll.history, expected);

  const last = expected[expected.length - 1].id;
  const [, wNone] = await helloOn({ token: welcome.token, since: last });
  assertHistory(wNone.history, []);
});

test('the conversation continues after a resume: new messages join the same history', async () => {
  const { welcome, expected } = await conversationWithTwoQuestions();
  const [chat, w] = await helloOn({ token: welcome.token });
  assert.equal(w.type, 'welcome');
  const q3 = 'what are your opening hours?';
  const r3 = await chat.ask(q3);
  assert.ok(r3.ack, JSON.stringify(r3));
  assert.ok(r3.ack.id > expected[expected.length - 1].id);
  await chat.close();
  const [, again] = await helloOn({ token: welcome.token });
  assertHistory(again.history, [...expected, ...expectedEvents(q3, r3)]);
});

test('an unknown token gets bad_token, and the same connection can start over', async () => {
  const [chat, welcome] = await open();
  const [bad, err] = await helloOn({ token: 'f'.repeat(64) });
  assert.equal(err.type, 'error', JSON.stringify(err));
  assert.equal(err.code, 'bad_token');
  assert.equal(typeof err.message, 'string');

  // A near miss of a real token is just as unknown.
  const t = welcome.token;
  const nearMiss = t.slice(0, -1) + (t.endsWith('0') ? '1' : '0');
  const err2 = await bad.hello({ token: nearMiss });
  assert.equal(err2.type, 'error', JSON.stringify(err2));
  assert.equal(err2.code, 'bad_token');

  const err3 = await bad.hello({ token: '' });
  assert.equal(err3.type, 'error', JSON.stringify(err3));

  // Starting over works on the same connection.
  const fresh = await bad.hello();
  assert.equal(fresh.type, 'welcome', JSON.stringify(fresh));
  assert.notEqual(fresh.conversation, welcome.conversation);
  assert.deepEqual(fresh.history, []);
  const r = await bad.ask('what are your opening hours?');
  assert.equal(r.reply?.type, 'answer', JSON.stringify(r));
  await chat.close();
});

test("a conversation's token never shows another conversation's history", async () => {
  const [a, wa] = await open();
  const [b, wb] = await open();
  const qa = 'what are your opening hours?';
  const qb = 'can I talk to a real person about my bill';
  const ra = await a.ask(qa);
  const rb = await b.ask(qb);
  assert.ok(ra.ack && rb.ack);
  await a.close();
  await b.close();

  const [, resA] = await helloOn({ token: wa.token });
  assert.equal(resA.conversation, wa.conversation);
  assertHistory(resA.history, expectedEvents(qa, ra));
  const bIds = [rb.ack.id, rb.reply.id];
  assert.ok(resA.history.every((e) => !bIds.includes(e.id) && e.text !== qb), 'none of B in A');

  const [, resB] = await helloOn({ token: wb.token, since: 0 });
  assert.equal(resB.conversation, wb.conversation);
  assertHistory(resB.history, expectedEvents(qb, rb));
});
