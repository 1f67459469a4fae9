// kill -9 in the middle of chats: after a restart on the same database, every message a client
// saw acknowledged is there, the waiting chat is still in the staff queue, the webhook that had
// not gone out is delivered (once), and clients resume with no gap and no duplicate.
import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer } from '../lib/server.mjs';
import { openConversation, stopCleanly } from '../lib/chat.mjs';
import { addUser } from '../lib/users.mjs';
import { OPEN_TIME, login, openConsole } from '../lib/staff.mjs';

const PW = 'correct horse battery staple';

function freePort() {
  return new Promise((resolve) => {
    const s = http.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

test('kill -9 mid-chat: acknowledged messages, the queue and pending webhooks survive; clients resume exactly', async () => {
  const port = await freePort();
  const args = ['--pretend-time', String(OPEN_TIME), '--webhook', `http://127.0.0.1:${port}/hook`];
  const first = await startServer(args);
  const dir = first.dir;
  await addUser(first.db, 'maria', 'staff', PW, 'Maria');

  // A: handed off (the webhook's receiver is down: the delivery waits in the outbox).
  const [a, wa] = await openConversation(first);
  const ha = await a.ask('I need to talk to a person about my bill');
  assert.equal(ha.reply.type, 'handoff');
  // B: a conversation in full flow; remember every id it was told about.
  const [b, wb] = await openConversation(first);
  const acked = [];
  for (const q of ['what are your opening hours?', 'do you take walk-ins?', 'where do I park?']) {
    const r = await b.ask(q);
    acked.push(r.ack.id, r.reply.id);
  }
  await sleep(300);
  first.proc.kill('SIGKILL');
  await new Promise((r) => first.proc.once('exit', r));
  a.ws.terminate();
  b.ws.terminate();

  const got = [];
  const rx = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => { got.push(body); res.end('ok'); });
  });
  await new Promise((r) => rx.listen(port, '127.0.0.1', r));
  const second = await startServer(args, { keepDir: dir });
  try {
    // B resumes from the last id it saw: nothing missing, nothing twice.
    const last = Math.max(...acked);
    const [b2, again] = await openConversation(second, { hello: { token: wb.token, since: last } });
    assert.deepEqual(again.history, [], 'nothing after what B saw, and nothing it saw comes again');
    const [b3, full] = await openConversation(second, { hello: { token: wb.token } });
    assert.deepEqual(full.history.map((e) => e.id), acked, 'every acknowledged message and reply is there');
    // A is still waiting in the staff queue.
    const s = await login(second, 'maria', PW);
    const [con, welcome] = await openConsole(second, s);
    const item = welcome.queue.find((i) => i.conversation === wa.conversation);
    assert.ok(item, 'the waiting chat is still in the queue');
    assert.equal(item.status, 'waiting');
    // The webhook that never went out before the crash is delivered, once.
    const until = Date.now() + 30000;
    while (got.length === 0 && Date.now() < until) await sleep(100);
    await sleep(2500);
    assert.equal(got.length, 1, 'delivered exactly once');
    assert.equal(JSON.parse(got[0]).conversation, wa.conversation);
    await b2.close(); await b3.close(); await con.close();
  } finally {
    await stopCleanly(second);
    rx.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
