// Connection slots (`frontdesk serve --max-conn-per-ip N`): a patient who closed the tab, or whose
// connection the server closed, must not keep holding a slot that the next patient needs.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer } from '../lib/server.mjs';
import { tryConnect, Chat, openConversation, stopCleanly } from '../lib/chat.mjs';

const MAX = 3;
let server;
before(async () => { server = await startServer(['--max-conn-per-ip', String(MAX)]); });
after(async () => { await stopCleanly(server); });

// The server frees a slot when it has seen the close; retry briefly instead of assuming when.
async function connectWithin(ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await tryConnect(server);
    if (res.ok || Date.now() > deadline) return res;
    await sleep(100);
  }
}

test('only the path /ws is the chat', async () => {
  const res = await tryConnect(server, { path: '/chat' });
  if (res.ok) res.ws.terminate();
  assert.equal(res.ok, false);
});

test('slots are freed by a normal close, a server-side close (1009) and a dropped connection', async () => {
  const open = [];
  for (let i = 0; i < MAX; i++) {
    const [chat, w] = await openConversation(server);
    assert.equal(w.type, 'welcome');
    open.push(chat);
  }
  const extra = await tryConnect(server);
  if (extra.ok) extra.ws.terminate();
  assert.equal(extra.ok, false, `connection ${MAX + 1} from one address is refused`);

  // 1: the patient closes the tab.
  await open[0].close();
  // 2: the server closes it (message too big).
  await open[1].sendRaw('x'.repeat(20000)).catch(() => {});
  assert.equal((await open[1].waitClose()).code, 1009);
  // 3: the network drops (no close handshake).
  open[2].ws.terminate();
  await open[2].waitClose();

  const again = [];
  for (let i = 0; i < MAX; i++) {
    const res = await connectWithin();
    assert.equal(res.ok, true, `slot ${i + 1} freed (status ${res.status})`);
    const chat = new Chat(res.ws);
    again.push(chat);
    const w = await chat.hello();
    assert.equal(w.type, 'welcome');
  }
  const r = await again[0].ask('what are your opening hours?');
  assert.equal(r.reply?.type, 'answer');
  for (const c of again) await c.close();
});
