// Broken, hostile or oversized input: the patient always gets a clear error or a reply,
// the connection keeps serving (except where the protocol says it closes), and the server
// keeps serving everybody else.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer } from '../lib/server.mjs';
import { connect, openConversation, REPLY_TYPES, stopCleanly } from '../lib/chat.mjs';

let server;
const chats = [];
before(async () => { server = await startServer(); });
after(async () => {
  for (const c of chats) await c.close();
  await stopCleanly(server);
});

async function open(opts = {}) {
  const [chat, welcome] = await openConversation(server, opts);
  chats.push(chat);
  return [chat, welcome];
}

function assertServerAlive() {
  assert.equal(server.proc.exitCode, null, `server exited:\n${server.stderr()}`);
  assert.equal(server.proc.signalCode, null, `server killed by ${server.proc.signalCode}:\n${server.stderr()}`);
}

async function assertAnswersHours(chat) {
  const r = await chat.ask('what are your opening hours?');
  assert.equal(r.error, undefined, `normal question refused: ${JSON.stringify(r.error)}`);
  assert.equal(r.reply.type, 'answer', JSON.stringify(r.reply));
  assert.ok(r.reply.entry.startsWith('hours'), r.reply.entry);
}

// A brand-new patient on a new connection still gets served.
async function assertOthersServed() {
  assertServerAlive();
  const [chat] = await open();
  await assertAnswersHours(chat);
  await chat.close();
}

const utf8len = (s) => Buffer.byteLength(s, 'utf8');

test('bad frames get the documented error and the same connection keeps answering', async (t) => {
  const [chat] = await open();
  const cases = [
    ['not JSON', '{oops', 'bad_json'],
    ['a JSON array', '[{"type":"message","text":"hi"}]', 'bad_json'],
    ['a JSON string', '"what are your opening hours?"', 'bad_json'],
    ['JSON null', 'null', 'bad_json'],
    ['an unknown type', { type: 'shout', text: 'hi' }, 'unknown_type'],
    ['no type', { text: 'what are your opening hours?' }, 'unknown_type'],
    ['a message without text', { type: 'message', client_id: 'x' }, 'missing_field'],
    ['text as a number', { type: 'message', text: 42 }, 'missing_field'],
    ['text as null', { type: 'message', text: null }, 'missing_field'],
    ['empty text', { type: 'message', text: '' }, 'empty'],
    ['white-space text', { type: 'message', text: ' \n\t  ' }, 'empty'],
    ['a text of 5000 characters', { type: 'message', text: 'a'.repeat(5000) }, 'too_long'],
    ['a text of 4001 characters', { type: 'message', text: 'b'.repeat(4001) }, 'too_long'],
    ['4001 "ñ" (4001 characters, 8002 bytes)', { type: 'message', text: 'ñ'.repeat(4001) }, 'too_long'],
  ];
  for (const [name, frame, code] of cases) {
    await t.test(`${name} -> ${code}`, async () => {
      await chat.sendRaw(typeof frame === 'string' ? frame : JSON.stringify(frame));
      const err = await chat.next((f) => f.type === 'error' || f.type === 'ack' || REPLY_TYPES.includes(f.type));
      assert.equal(err.type, 'error', JSON.stringify(err));
      assert.equal(err.code, code, JSON.stringify(err));
      assert.equal(typeof err.message, 'string');
      assert.ok(chat.isOpen, 'connection still open');
      await assertAnswersHours(chat);
    });
  }
  // The limit is in characters, so Spanish or emoji text gets the same 4000 as plain ASCII.
  for (const [name, text] of [
    ['exactly 4000 ASCII characters', 'hours '.repeat(666) + 'hour'],
    ['4000 "ñ" (8000 bytes)', 'ñ'.repeat(4000)],
    ['1001 emoji (4004 bytes)', '😷'.repeat(1001)],
    ['3000 emoji (12000 bytes)', '😷'.repeat(3000)],
  ]) {
    await t.test(`a text of ${name} is accepted`, async () => {
      assert.ok([...text].length <= 4000);
      const r = await chat.ask(text);
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.ok(['answer', 'handoff'].includes(r.reply.type), JSON.stringify(r.reply));
    });
  }
  await t.test('no ack was ever sent for a refused frame', async () => {
    await chat.sync();
    const acks = chat.frames.filter((f) => f.type === 'ack');
    assert.ok(acks.every((a) => typeof a.client_id === 'string' && a.client_id.startsWith('c')),
      JSON.stringify(acks));
  });
  assertServerAlive();
});

test('a message (or feedback) before hello is no_session; hello then works on the same connection', async () => {
  const chat = await connect(server);
  chats.push(chat);
  await chat.send({ type: 'message', text: 'what are your opening hours?', client_id: 'early' });
  const err = await chat.next((f) => f.type === 'error' || f.type === 'ack');
  assert.equal(err.type, 'error', JSON.stringify(err));
  assert.equal(err.code, 'no_session');
  const w = await chat.hello();
  assert.equal(w.type, 'welcome', JSON.stringify(w));
  assert.deepEqual(w.history, [], 'the refused message was not stored');
  await assertAnswersHours(chat);
});

test('a question made of FTS5 query syntax and emoji gets a normal reply, not an error', async () => {
  const [chat, welcome] = await open();
  const piece = '" * NEAR( - AND OR ^ : ( ) 😷🤒💊🩺🦷👶 {col}: "" NOT * + - 🏥 ';
  const chars = (x) => [...x].length;
  let text = 'hours? ';
  while (chars(text + piece) <= 3990) text += piece;
  assert.ok(utf8len(text) > 5000, `a 5 KB question (${utf8len(text)} bytes, ${chars(text)} characters)`);
  const frame = JSON.stringify({ type: 'message', text, client_id: 'fts' });
  await chat.sendRaw(frame);
  const ack = await chat.next((f) => f.type === 'ack' || f.type === 'error');
  assert.equal(ack.type, 'ack', JSON.stringify(ack));
  const reply = await chat.next((f) => (REPLY_TYPES.includes(f.type) && f.reply_to === ack.id) || f.type === 'error');
  assert.ok(['answer', 'handoff'].includes(reply.type), JSON.stringify(reply));

  for (const q of ['"', '*', 'NEAR(', 'AND', ')', '^', 'hours"', "what's open -- ; DROP TABLE events;"]) {
    const r = await chat.ask(q);
    assert.equal(r.error, undefined, `${JSON.stringify(q)} -> ${JSON.stringify(r.error)}`);
    assert.ok(['answer', 'handoff'].includes(r.reply.type), `${JSON.stringify(q)} -> ${JSON.stringify(r.reply)}`);
  }
  await chat.close();

  // The text is stored exactly as sent.
  const c2 = await connect(server);
  chats.push(c2);
  const w = await c2.hello({ token: welcome.token });
  const ev = w.history.find((e) => e.id === ack.id);
  assert.equal(ev?.text, text);
  assertServerAlive();
});

test('odd but valid JSON never crashes the connection: each frame gets one error or ack+reply', async (t) => {
  const [chat] = await open();
  let nested = '';
  for (let i = 0; i < 3000; i++) nested += '[';
  for (let i = 0; i < 3000; i++) nested += ']';
  const cases = [
    ['NUL and control characters in text', '{"type":"message","text":"hours\\u0000\\u0001\\u001b[31m?"}'],
    ['a lone surrogate escape', '{"type":"message","text":"hours \\ud800 ?"}'],
    ['3000-deep nesting in an extra field', `{"type":"message","text":"hours?","x":${nested}}`],
    ['3000-deep nested array', nested],
    ['duplicate keys', '{"type":"message","text":"hours?","text":"opening hours?"}'],
    ['a huge number as feedback id', '{"type":"feedback","message":1e999,"helpful":true}'],
    ['a fractional feedback id', '{"type":"feedback","message":1.5,"helpful":true}'],
    ['trailing garbage', '{"type":"ping"} {"type":"ping"}'],
    ['a very long client_id', JSON.stringify({ type: 'message', text: 'hours?', client_id: 'x'.repeat(10000) })],
  ];
  for (const [name, raw] of cases) {
    await t.test(name, async () => {
      const before = chat.frames.length;
      await chat.sendRaw(raw);
      await chat.sync();
      const got = chat.frames.slice(before).filter((f) => f.type !== 'pong');
      const errors = got.filter((f) => f.type === 'error');
      const acks = got.filter((f) => f.type === 'ack');
      const replies = got.filter((f) => REPLY_TYPES.includes(f.type));
      const ok = (errors.length === 1 && acks.length === 0 && replies.length === 0) ||
        (errors.length === 0 && acks.length === 1 && replies.length === 1 && replies[0].reply_to === acks[0].id) ||
        (got.length === 0 && name === 'trailing garbage') ||
        (got.length === 1 && got[0].type === 'pong' && name === 'trailing garbage');
      chat.drain();
      assert.ok(ok, `${name}: ${JSON.stringify(got).slice(0, 1000)}`);
      assert.ok(chat.isOpen);
      await assertAnswersHours(chat);
    });
  }
  assertServerAlive();
});

test('a frame over 16 KiB closes the connection with 1009; the conversation and the server survive', async () => {
  const [chat, welcome] = await open();
  const r = await chat.ask('what are your opening hours?');
  assert.ok(r.reply);
  await chat.sendRaw(JSON.stringify({ type: 'message', text: 'a'.repeat(17 * 1024) })).catch(() => {});
  const closed = await chat.waitClose();
  assert.equal(closed.code, 1009, `close code ${closed.code}`);

  await assertOthersServed();
  // The patient reconnects and finds the conversation as it was.
  const [c2, w] = await open({ hello: { token: welcome.token } });
  assert.equal(w.type, 'welcome');
  assert.equal(w.conversation, welcome.conversation);
  assert.deepEqual(w.history.map((e) => e.id), [r.ack.id, r.reply.id]);
  await assertAnswersHours(c2);
});

test('a frame just under 16 KiB is not closed: its text is too_long', async () => {
  const [chat] = await open();
  const frame = JSON.stringify({ type: 'message', text: 'a'.repeat(16000) });
  assert.ok(utf8len(frame) < 16 * 1024);
  await chat.sendRaw(frame);
  const err = await chat.next((f) => f.type === 'error' || f.type === 'ack');
  assert.equal(err.code, 'too_long', JSON.stringify(err));
  await assertAnswersHours(chat);
});

test('a message split into fragments is reassembled and answered', async () => {
  const [chat] = await open();
  const frame = JSON.stringify({ type: 'message', text: 'what are your opening hours?', client_id: 'frag' });
  const a = Math.floor(frame.length / 3);
  await chat.sendRaw(frame.slice(0, a), { fin: false });
  await chat.sendRaw(frame.slice(a, 2 * a), { fin: false });
  await chat.sendRaw(frame.slice(2 * a), { fin: true });
  const ack = await chat.next((f) => f.type === 'ack' || f.type === 'error');
  assert.equal(ack.type, 'ack', JSON.stringify(ack));
  assert.equal(ack.client_id, 'frag');
  const reply = await chat.next((f) => REPLY_TYPES.includes(f.type) && f.reply_to === ack.id);
  assert.equal(reply.type, 'answer');
});

test('fragments adding up to over 16 KiB close the connection with 1009', async () => {
  const [chat] = await open();
  const chunk = 'a'.repeat(8 * 1024);
  const sends = [
    chat.sendRaw('{"type":"message","text":"' + chunk, { fin: false }),
    chat.sendRaw(chunk, { fin: false }),
    chat.sendRaw(chunk, { fin: false }),
    chat.sendRaw(chunk + '"}', { fin: true }),
  ];
  await Promise.allSettled(sends);
  const closed = await chat.waitClose();
  assert.equal(closed.code, 1009, `close code ${closed.code}`);
  await assertOthersServed();
});

for (const [name, bytes] of [
  ['bytes C3 28', [0xc3, 0x28]],
  ['C3 28 inside a JSON message', [...Buffer.from('{"type":"message","text":"hours '), 0xc3, 0x28, ...Buffer.from('"}')]],
  ['an overlong encoding C0 AF', [...Buffer.from('{"type":"message","text":"'), 0xc0, 0xaf, ...Buffer.from('"}')]],
  ['a UTF-16 surrogate ED A0 80', [...Buffer.from('{"type":"message","text":"'), 0xed, 0xa0, 0x80, ...Buffer.from('"}')]],
  ['a code point above U+10FFFF', [...Buffer.from('{"type":"message","text":"'), 0xf4, 0x90, 0x80, 0x80, ...Buffer.from('"}')]],
  ['a truncated sequence at the end', [...Buffer.from('{"type":"ping"}'), 0xf0, 0x9f, 0x98]],
]) {
  test(`invalid UTF-8 in a text frame (${name}) closes with 1007; others are still served`, async () => {
    const [chat, welcome] = await open();
    await chat.sendRaw(Buffer.from(bytes), { binary: false }).catch(() => {});
    const closed = await chat.waitClose();
    assert.equal(closed.code, 1007, `close code ${closed.code}; frames ${chat.describe()}`);
    assert.equal(chat.frames.filter((f) => f.type === 'ack').length, 0, 'nothing was stored');
    await assertOthersServed();
    const [, w] = await open({ hello: { token: welcome.token } });
    assert.equal(w.conversation, welcome.conversation);
    assert.deepEqual(w.history, []);
  });
}

test('a binary frame closes with 1003; nothing is stored; the conversation and the server survive', async () => {
  const [chat, welcome] = await open();
  await chat.sendRaw(Buffer.from(JSON.stringify({ type: 'message', text: 'what are your opening hours?' })), { binary: true })
    .catch(() => {});
  const closed = await chat.waitClose();
  assert.equal(closed.code, 1003, `close code ${closed.code}; frames ${chat.describe()}`);
  assert.equal(chat.frames.filter((f) => f.type === 'ack').length, 0, 'the binary frame was not acknowledged');
  await assertOthersServed();
  const [c2, w] = await open({ hello: { token: welcome.token } });
  assert.equal(w.conversation, welcome.conversation);
  assert.deepEqual(w.history, []);
  await assertAnswersHours(c2);
});

test('a flood of 40 messages: some rate_limited, none dropped silently, normal service after a pause', async () => {
  const [chat] = await open({ pace: false });
  const N = 40;
  for (let i = 0; i < N; i++) {
    chat.ws.send(JSON.stringify({ type: 'message', text: 'what are your opening hours?', client_id: `f${i}` }));
  }
  const done = () => {
    const acks = chat.frames.filter((f) => f.type === 'ack');
    const errors = chat.frames.filter((f) => f.type === 'error');
    const replied = acks.filter((a) => chat.frames.some((f) => REPLY_TYPES.includes(f.type) && f.reply_to === a.id));
    return acks.length + errors.length >= N && replied.length === acks.length;
  };
  while (!done()) await chat.next(() => true, 20000);

  const acks = chat.frames.filter((f) => f.type === 'ack');
  const errors = chat.frames.filter((f) => f.type === 'error');
  assert.equal(acks.length + errors.length, N, `each of the ${N} messages gets one ack or one error`);
  assert.ok(errors.length >= 1, 'some messages are rate_limited');
  assert.ok(errors.every((e) => e.code === 'rate_limited'), JSON.stringify(errors.filter((e) => e.code !== 'rate_limited')));
  assert.ok(acks.length >= 5, `a burst of messages is accepted (got ${acks.length})`);
  assert.equal(new Set(acks.map((a) => a.client_id)).size, acks.length, 'no message acknowledged twice');

  chat.drain();
  await sleep(2100);
  await assertAnswersHours(chat);
  // Still exactly one reply per acknowledged message, and nothing for the rate-limited ones.
  const allAcks = chat.frames.filter((f) => f.type === 'ack');
  const replies = chat.frames.filter((f) => REPLY_TYPES.includes(f.type));
  assert.equal(replies.length, allAcks.length, 'one reply per acknowledged message');
  for (const a of allAcks) {
    assert.equal(replies.filter((r) => r.reply_to === a.id).length, 1, `one reply to ${a.id}`);
  }
  assert.equal(chat.frames.filter((f) => f.type === 'error').length, errors.length, 'no late errors');
  assertServerAlive();
});
