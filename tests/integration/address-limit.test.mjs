// The per-address message limit (`serve --rate-per-ip-burst N --rate-per-ip-per-sec R`): many
// connections from one address cannot together ask more than the address may, each within its
// own per-connection limit; the refused message is not stored, and the address recovers.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer, SLOW, slow } from '../lib/server.mjs';
import { openConversation, stopCleanly } from '../lib/chat.mjs';

let server;
before(async () => {
  // 2 a second; under valgrind (FRONTDESK_SLOW) the refill is slowed as much as the server, or
  // the bucket would refill between two of its slow replies and never run dry.
  server = await startServer(['--rate-per-ip-burst', '6', '--rate-per-ip-per-sec', String(2 / SLOW)]);
});
after(async () => { await stopCleanly(server); });

test('six connections from one address share its budget; the seventh message is refused, later ones pass', async () => {
  const chats = [], tokens = [];
  for (let i = 0; i < 4; i++) {
    const [c, w] = await openConversation(server);
    chats.push(c);
    tokens.push(w.token);
  }
  const results = [];
  for (let i = 0; i < 8; i++) results.push(await chats[i % 4].ask('what are your opening hours?'));
  const refused = results.filter((r) => r.error);
  assert.ok(refused.length >= 1, 'over the address budget: refused');
  assert.ok(refused.every((r) => r.error.code === 'rate_limited'), JSON.stringify(refused));
  assert.ok(results.slice(0, 6).every((r) => r.reply), 'the first six (the burst) are answered');
  // Nothing refused was stored: the histories hold exactly the acknowledged questions.
  let stored = 0;
  for (const t of tokens) {
    const [c, w] = await openConversation(server, { hello: { token: t } });
    stored += w.history.filter((e) => e.role === 'patient').length;
    await c.close();
  }
  assert.equal(stored, results.filter((r) => r.ack).length);
  await sleep(slow(1500)); // the bucket refills at 2 a second (2 / SLOW)
  const again = await chats[0].ask('do you take walk-ins?');
  assert.ok(again.reply, 'the address recovers');
  for (const c of chats) await c.close();
});
