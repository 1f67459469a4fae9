// Only the clinic's own pages (and the widget origins it allows) may open a chat:
// anything else is refused during the handshake, before a conversation exists.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.mjs';
import { tryConnect, Chat, stopCleanly } from '../lib/chat.mjs';

let server, allowing;
before(async () => {
  server = await startServer();
  allowing = await startServer(['--allow-origin', 'http://clinic.example']);
});
after(async () => {
  try { await stopCleanly(server); } finally { await stopCleanly(allowing); }
});

async function assertRefused(srv, origin) {
  const res = await tryConnect(srv, { origin });
  if (res.ok) res.ws.terminate();
  assert.equal(res.ok, false, `origin ${origin} must be refused`);
  assert.equal(res.status, 403, `origin ${origin}: HTTP ${res.status} ${res.error ? res.error.message : ''}`);
}

async function assertAccepted(srv, origin) {
  const res = await tryConnect(srv, { origin });
  assert.equal(res.ok, true, `origin ${origin} must be accepted (got ${res.status} ${res.error ? res.error.message : ''})`);
  const chat = new Chat(res.ws);
  const w = await chat.hello();
  assert.equal(w.type, 'welcome', JSON.stringify(w));
  const r = await chat.ask('what are your opening hours?');
  assert.equal(r.reply?.type, 'answer', JSON.stringify(r));
  await chat.close();
}

test("the server's own origin is accepted", async () => {
  await assertAccepted(server, server.origin);
});

test('a foreign origin is refused with 403', async () => {
  await assertRefused(server, 'http://evil.example');
});

test('no Origin header at all is refused with 403', async () => {
  await assertRefused(server, null);
});

test('look-alikes of the own origin are refused', async () => {
  for (const o of [
    `http://127.0.0.1:${server.port === 1 ? 2 : 1}`,        // same host, other port
    `http://127.0.0.1:${server.port}.evil.example`,         // prefix match
    `http://evil.example/http://127.0.0.1:${server.port}`,  // suffix match
    'null',                                                 // sandboxed iframe / file://
  ]) {
    await assertRefused(server, o);
  }
});

test('--allow-origin: that origin is accepted, others still refused', async () => {
  await assertAccepted(allowing, 'http://clinic.example');
  await assertAccepted(allowing, allowing.origin);
  await assertRefused(allowing, 'http://evil.example');
  await assertRefused(allowing, 'http://clinic.example.evil.example');
  await assertRefused(allowing, 'http://evil.clinic.example');
  await assertRefused(allowing, null);
});

test('after refused handshakes the server keeps serving', async () => {
  await assertRefused(server, 'http://evil.example');
  await assertAccepted(server, server.origin);
});
