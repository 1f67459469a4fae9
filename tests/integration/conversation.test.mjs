// A patient opens the chat, asks questions and gets the right kind of reply:
// a knowledge-base answer, a hand-off to staff, or emergency instructions.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.mjs';
import { connect, openConversation, REPLY_TYPES, SUBPROTOCOL, stopCleanly } from '../lib/chat.mjs';

let server;
const chats = [];
before(async () => { server = await startServer(); });
after(async () => {
  for (const c of chats) await c.close();
  await stopCleanly(server);
});

async function open(opts) {
  const [chat, welcome] = await openConversation(server, opts);
  chats.push(chat);
  return [chat, welcome];
}

// The token is the only key to a conversation: it must not be guessable.
function assertUnguessableToken(token) {
  assert.equal(typeof token, 'string');
  assert.ok(/^[0-9a-fA-F]{32,}$/.test(token) || /^[A-Za-z0-9_-]{22,}={0,2}$/.test(token),
    `token ${JSON.stringify(token)} should carry at least 128 random bits (>= 32 hex or >= 22 base64url chars)`);
}

// Asserts nothing more arrives for patient message `ackId` than the one reply already consumed.
async function assertSingleReply(chat, ackId) {
  await chat.sync();
  const replies = chat.frames.filter((f) => REPLY_TYPES.includes(f.type) && f.reply_to === ackId);
  assert.equal(replies.length, 1, `exactly one reply to ${ackId}: ${JSON.stringify(replies)}`);
  return replies[0];
}

test('hello starts a new conversation: id, unguessable token, bot status, greeting, empty history', async () => {
  const chat = await connect(server);
  chats.push(chat);
  assert.equal(chat.protocol, SUBPROTOCOL, 'the server selects the frontdesk-chat subprotocol');
  const w = await chat.hello();
  assert.equal(w.type, 'welcome', JSON.stringify(w));
  assert.equal(typeof w.conversation, 'string');
  assert.ok(w.conversation.length > 0);
  assertUnguessableToken(w.token);
  assert.notEqual(w.token, w.conversation, 'the token is not the public conversation id');
  assert.equal(w.resumed, false);
  assert.equal(w.status, 'bot');
  assert.equal(typeof w.greeting, 'string');
  assert.ok(w.greeting.trim().length > 0, 'the patient is greeted');
  assert.deepEqual(w.history, []);

  // A second patient gets a different conversation and a different token.
  const [, w2] = await open();
  assert.notEqual(w2.conversation, w.conversation);
  assert.notEqual(w2.token, w.token);
  assertUnguessableToken(w2.token);
});

test('hello with a language hint still starts a normal conversation', async () => {
  const [, w] = await open({ hello: { lang: 'es' } });
  assert.equal(w.type, 'welcome');
  assert.equal(w.resumed, false);
  assert.deepEqual(w.history, []);
});

test('ping is answered with pong', async () => {
  const [chat] = await open();
  await chat.send({ type: 'ping' });
  const f = await chat.next((x) => x.type === 'pong' || x.type === 'error');
  assert.equal(f.type, 'pong');
});

test('opening hours: ack with client_id, then an answer from the "hours" entry replying to the ack', async () => {
  const [chat] = await open();
  await chat.send({ type: 'message', text: 'what are your opening hours?', client_id: 'q-hours-1' });
  const ack = await chat.next((f) => f.type === 'ack' || f.type === 'error');
  assert.equal(ack.type, 'ack', JSON.stringify(ack));
  assert.equal(ack.client_id, 'q-hours-1', 'client_id is echoed');
  assert.ok(Number.isInteger(ack.id), 'ack id is an integer');

  const answer = await chat.next((f) => REPLY_TYPES.includes(f.type) || f.type === 'error');
  assert.equal(answer.type, 'answer', JSON.stringify(answer));
  assert.equal(answer.reply_to, ack.id);
  assert.ok(Number.isInteger(answer.id));
  assert.ok(answer.id > ack.id, `answer id ${answer.id} > ack id ${ack.id}`);
  assert.equal(typeof answer.entry, 'string');
  assert.ok(answer.entry.startsWith('hours'), `entry ${answer.entry} should be an hours entry`);
  assert.equal(typeof answer.text, 'string');
  assert.ok(answer.text.trim().length > 0);
  assert.equal(typeof answer.question, 'string');
  assert.ok(answer.question.trim().length > 0);
  assert.equal(typeof answer.confidence, 'number');
  assert.ok(answer.confidence > 0 && answer.confidence <= 1, `confidence ${answer.confidence} in (0,1]`);
  assert.ok(chat.frames.indexOf(ack) < chat.frames.indexOf(answer), 'the ack arrives before the answer');
  await assertSingleReply(chat, ack.id);

  // A second question: ids keep increasing.
  const { ack: ack2, reply: reply2, error } = await chat.ask('when are you open?', { clientId: 'q-hours-2' });
  assert.equal(error, undefined, JSON.stringify(error));
  assert.equal(ack2.client_id, 'q-hours-2');
  assert.ok(ack2.id > answer.id, `second ack ${ack2.id} > first answer ${answer.id}`);
  assert.ok(reply2.id > ack2.id);
  assert.equal(reply2.reply_to, ack2.id);
});

test('a message without client_id is still acknowledged and answered', async () => {
  const [chat] = await open();
  await chat.send({ type: 'message', text: 'what are your opening hours?' });
  const ack = await chat.next((f) => f.type === 'ack' || f.type === 'error');
  assert.equal(ack.type, 'ack', JSON.stringify(ack));
  const reply = await chat.next((f) => REPLY_TYPES.includes(f.type) && f.reply_to === ack.id);
  assert.equal(reply.type, 'answer');
});

test('an off-topic question is handed off to staff as low_confidence', async () => {
  const [chat] = await open();
  const { ack, reply, error } = await chat.ask('what is the capital of france');
  assert.equal(error, undefined, JSON.stringify(error));
  assert.equal(reply.type, 'handoff', JSON.stringify(reply));
  assert.equal(reply.reason, 'low_confidence');
  assert.equal(reply.reply_to, ack.id);
  assert.ok(reply.id > ack.id);
  assert.equal(typeof reply.text, 'string');
  assert.ok(reply.text.trim().length > 0, 'the patient is told what happens next');
  assert.equal(typeof reply.confidence, 'number');
  assert.ok(reply.confidence >= 0 && reply.confidence <= 1);
  assert.ok(Array.isArray(reply.suggestions), 'suggestions is an array');
  for (const s of reply.suggestions) {
    assert.equal(typeof s.entry, 'string');
    assert.equal(typeof s.question, 'string');
  }
  await assertSingleReply(chat, ack.id);
});

test('asking for a real person is handed off as asked_for_person', async () => {
  const [chat] = await open();
  const { ack, reply, error } = await chat.ask('can I talk to a real person');
  assert.equal(error, undefined, JSON.stringify(error));
  assert.equal(reply.type, 'handoff', JSON.stringify(reply));
  assert.equal(reply.reason, 'asked_for_person');
  assert.equal(reply.reply_to, ack.id);
  assert.ok(reply.text.trim().length > 0);
  await assertSingleReply(chat, ack.id);
});

for (const text of [
  "I have chest pain and can't breathe",
  // An emergency wins even when the message also contains an ordinary question.
  "what are your opening hours? I have chest pain and can't breathe",
]) {
  test(`emergency (${JSON.stringify(text)}): fixed instructions mentioning 911, never an answer`, async () => {
    const [chat] = await open();
    const { ack, reply, error } = await chat.ask(text);
    assert.equal(error, undefined, JSON.stringify(error));
    assert.equal(reply.type, 'emergency', JSON.stringify(reply));
    assert.equal(reply.reply_to, ack.id);
    assert.ok(reply.id > ack.id);
    assert.match(reply.text, /911/);
    assert.equal(reply.entry, undefined, 'an emergency is not a knowledge-base answer');
    await assertSingleReply(chat, ack.id);
    assert.equal(chat.frames.filter((f) => f.type === 'answer').length, 0, 'no answer frame at all');
  });
}

test('event ids increase across conversations on the same server', async () => {
  const [a] = await open();
  const [b] = await open();
  const r1 = await a.ask('what are your opening hours?');
  const r2 = await b.ask('what are your opening hours?');
  const r3 = await a.ask('what are your opening hours?');
  assert.ok(r1.ack && r2.ack && r3.ack);
  assert.ok(r2.ack.id > r1.reply.id, `${r2.ack.id} > ${r1.reply.id}`);
  assert.ok(r3.ack.id > r2.reply.id, `${r3.ack.id} > ${r2.reply.id}`);
});

test('a thought of self-harm is an emergency that points to 988 (and 911)', async () => {
  const [chat] = await open();
  const { ack, reply, error } = await chat.ask('I want to kill myself');
  assert.equal(error, undefined, JSON.stringify(error));
  assert.equal(reply.type, 'emergency', JSON.stringify(reply));
  assert.equal(reply.reply_to, ack.id);
  assert.match(reply.text, /988/);
  assert.match(reply.text, /911/);
  await assertSingleReply(chat, ack.id);
});

test('a multi-line question with tabs is answered like a one-line one', async () => {
  const [chat] = await open();
  const { reply, error } = await chat.ask('what are\nyour opening\thours?\r\n');
  assert.equal(error, undefined, JSON.stringify(error));
  assert.equal(reply.type, 'answer', JSON.stringify(reply));
  assert.ok(reply.entry.startsWith('hours'), reply.entry);
});

const SPANISH = /\b(lunes|viernes|abren|horario|sábado|domingo|de la mañana|a\. ?m\.)/i;
for (const hello of [{}, { lang: 'es' }]) {
  test(`a Spanish question is answered in Spanish (hello ${JSON.stringify(hello)})`, async () => {
    const [chat] = await open({ hello });
    const { reply, error } = await chat.ask('¿cuál es el horario de la clínica?');
    assert.equal(error, undefined, JSON.stringify(error));
    assert.equal(reply.type, 'answer', JSON.stringify(reply));
    assert.ok(reply.entry.startsWith('hours'), reply.entry);
    assert.match(reply.text, SPANISH, `answer in Spanish: ${reply.text}`);
  });
}

test('a Spanish emergency is recognised too', async () => {
  const [chat] = await open({ hello: { lang: 'es' } });
  const { reply, error } = await chat.ask('tengo dolor de pecho y no puedo respirar');
  assert.equal(error, undefined, JSON.stringify(error));
  assert.equal(reply.type, 'emergency', JSON.stringify(reply));
  assert.match(reply.text, /911/);
});
