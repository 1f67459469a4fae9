// What the patient wrote survives a restart of the server: a graceful stop (SIGTERM,
// exit code 0) and even a crash right after the ack.
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startServer } from '../lib/server.mjs';
import { connect, openConversation, REPLY_TYPES } from '../lib/chat.mjs';

const dirs = [];
const servers = [];
after(async () => {
  for (const s of servers) await s.stop({ keepFiles: true }).catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function start(keepDir) {
  const s = await startServer([], keepDir ? { keepDir } : {});
  servers.push(s);
  if (!dirs.includes(s.dir)) dirs.push(s.dir);
  return s;
}

test('SIGTERM exits 0 and a new server on the same db resumes the whole history', async () => {
  const s1 = await start();
  const [chat, welcome] = await openConversation(s1);
  const asked = [];
  for (const q of ['what are your opening hours?', 'what is the capital of france', "I have chest pain and can't breathe"]) {
    const r = await chat.ask(q);
    assert.ok(r.ack && r.reply, JSON.stringify(r));
    asked.push([q, r]);
  }
  await chat.send({ type: 'feedback', message: asked[0][1].reply.id, helpful: true });
  const ok = await chat.next((f) => f.type === 'feedback_ok' || f.type === 'error');
  assert.equal(ok.type, 'feedback_ok', JSON.stringify(ok));
  await chat.close();

  const exit = await s1.stop({ keepFiles: true });
  assert.deepEqual(exit, { code: 0, sig: null }, `exit after SIGTERM:\n${s1.stderr()}`);

  const s2 = await start(s1.dir);
  const [c2, w] = await openConversation(s2, { hello: { token: welcome.token } });
  assert.equal(w.type, 'welcome', JSON.stringify(w));
  assert.equal(w.conversation, welcome.conversation);
  assert.equal(w.resumed, true);
  const expected = asked.flatMap(([q, { ack, reply }]) => [
    { id: ack.id, role: 'patient', type: 'message', text: q, client_id: ack.client_id },
    { id: reply.id, role: 'bot', type: reply.type, text: reply.text, reply_to: ack.id },
  ]);
  assert.deepEqual(w.history.map((e) => e.id), expected.map((e) => e.id), JSON.stringify(w.history));
  w.history.forEach((ev, i) => {
    for (const [k, v] of Object.entries(expected[i])) assert.deepEqual(ev[k], v, `history[${i}].${k}`);
  });
  assert.equal(w.history[1].entry, asked[0][1].reply.entry);
  assert.equal(w.history[1].helpful, true, 'the feedback survived too');
  assert.equal(w.history[3].reason, 'low_confidence');

  // The conversation goes on, with ids after the old ones.
  const r = await c2.ask('what are your opening hours?');
  assert.ok(r.ack, JSON.stringify(r));
  assert.ok(r.ack.id > expected[expected.length - 1].id, `new id ${r.ack.id} after the old ones`);
  assert.equal(r.reply.type, 'answer');
  await c2.close();
  const exit2 = await s2.stop({ keepFiles: true });
  assert.deepEqual(exit2, { code: 0, sig: null }, `exit after SIGTERM:\n${s2.stderr()}`);
});

test('SIGTERM with patients still connected exits 0 and closes their connections', async () => {
  const s = await start();
  const [chat, welcome] = await openConversation(s);
  const r = await chat.ask('what are your opening hours?');
  assert.ok(r.reply);
  const exit = await s.stop({ keepFiles: true });
  assert.deepEqual(exit, { code: 0, sig: null }, `exit after SIGTERM:\n${s.stderr()}`);
  await chat.waitClose();

  const s2 = await start(s.dir);
  const [, w] = await openConversation(s2, { hello: { token: welcome.token } });
  assert.deepEqual(w.history.map((e) => e.id), [r.ack.id, r.reply.id]);
});

test('a message that was acked is never lost, even if the server is killed right after', async () => {
  const s = await start();
  const chat = await connect(s);
  const welcome = await chat.hello();
  assert.equal(welcome.type, 'welcome');
  await chat.send({ type: 'message', text: 'please call me back about my prescription', client_id: 'k' });
  const ack = await chat.next((f) => f.type === 'ack' || f.type === 'error');
  assert.equal(ack.type, 'ack', JSON.stringify(ack));
  const killed = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGKILL');
  await killed;
  servers.splice(servers.indexOf(s), 1); // already gone: nothing to stop
  await chat.waitClose();

  const s2 = await start(s.dir);
  const [, w] = await openConversation(s2, { hello: { token: welcome.token } });
  assert.equal(w.conversation, welcome.conversation);
  const msg = w.history.find((e) => e.id === ack.id);
  assert.ok(msg, `acked message ${ack.id} is in the history: ${JSON.stringify(w.history)}`);
  assert.equal(msg.text, 'please call me back about my prescription');
  assert.equal(msg.role, 'patient');
  // If the reply was stored too, it comes once.
  assert.ok(w.history.filter((e) => REPLY_TYPES.includes(e.type)).length <= 1);
});
