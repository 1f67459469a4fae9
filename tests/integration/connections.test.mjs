// 5,000 WebSocket handshakes at once from one process: every one completes (or, past a
// per-address cap, is refused cleanly with 503), the server stays up, a normal chat still works,
// and once they are gone /healthz counts 0 connections again.
//
// Both ends need a file descriptor per connection: tests/run.sh raises `ulimit -n`; run by
// hand with a lower limit, the tests are skipped with the reason.
import test from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer } from '../lib/server.mjs';
import { openConversation, stopCleanly } from '../lib/chat.mjs';

const N = 5000;
const NEEDED_FDS = N + 500;

// The soft limit this process (and the server it spawns) runs under.
function fdLimit() {
  const out = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim();
  return out === 'unlimited' ? Infinity : Number(out);
}
const limit = fdLimit();
const skip = limit >= NEEDED_FDS ? false
  : `ulimit -n is ${limit}; ${N} connections need ${NEEDED_FDS} (tests/run.sh raises it)`;

// A WebSocket handshake by hand. Resolves { socket, status } with the HTTP status of the
// answer (101 for an accepted chat), or a string for a connection that failed or hung.
function handshake(server) {
  return new Promise((resolve) => {
    const socket = net.connect(server.port, '127.0.0.1');
    const key = crypto.randomBytes(16).toString('base64');
    let head = '';
    const finish = (status) => { socket.setTimeout(0); resolve({ socket, status }); };
    socket.on('connect', () => socket.write(
      `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nOrigin: ${server.origin}\r\n` +
      'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Protocol: frontdesk-chat\r\n\r\n`));
    const onData = (d) => {
      head += d.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        socket.off('data', onData);
        const m = head.match(/^HTTP\/1\.[01] (\d{3})/);
        finish(m ? Number(m[1]) : `bad answer ${head.slice(0, 40)}`);
      }
    };
    socket.on('data', onData);
    socket.on('error', (e) => finish(`error ${e.code}`));
    socket.on('close', () => finish('closed before answering'));
    // A bound so that a lost connection fails the test instead of hanging it.
    socket.setTimeout(90000, () => { socket.destroy(); finish('no answer'); });
  });
}

function tally(results) {
  const counts = {};
  for (const r of results) counts[r.status] = (counts[r.status] || 0) + 1;
  return counts;
}

async function connections(server) {
  const res = await fetch(`${server.origin}/healthz`);
  assert.equal(res.status, 200);
  return (await res.json()).connections;
}

async function waitForConnections(server, n, ms) {
  const deadline = Date.now() + ms;
  let now;
  while ((now = await connections(server)) !== n) {
    assert.ok(Date.now() < deadline, `/healthz still counts ${now} connections, not ${n}, after ${ms} ms`);
    await sleep(200);
  }
}

function assertAlive(server) {
  assert.equal(server.proc.exitCode, null, `server exited:\n${server.stderr().slice(-3000)}`);
  assert.equal(server.proc.signalCode, null, `server killed by ${server.proc.signalCode}`);
}

async function assertChatWorks(server) {
  const [chat] = await openConversation(server);
  const r = await chat.ask('what are your opening hours?');
  assert.equal(r.reply?.type, 'answer', JSON.stringify(r));
  await chat.close();
}

test(`${N} handshakes at once, no per-address cap: all accepted, a chat still works, all counted out`, { skip }, async () => {
  const server = await startServer(['--max-conn-per-ip', '0']);
  let results = [];
  try {
    results = await Promise.all(Array.from({ length: N }, () => handshake(server)));
    assert.deepEqual(tally(results), { 101: N });
    assertAlive(server);
    assert.equal(await connections(server), N);
    await assertChatWorks(server);
    for (const r of results) r.socket.destroy();
    await waitForConnections(server, 0, 30000);
    await assertChatWorks(server);
  } finally {
    for (const r of results) r.socket.destroy();
    await stopCleanly(server);
  }
});

test(`${N} handshakes at once against a cap of 1000 per address: 1000 accepted, the rest 503`, { skip }, async () => {
  const CAP = 1000;
  const server = await startServer(['--max-conn-per-ip', String(CAP)]);
  let results = [];
  try {
    results = await Promise.all(Array.from({ length: N }, () => handshake(server)));
    assert.deepEqual(tally(results), { 101: CAP, 503: N - CAP });
    assertAlive(server);
    assert.equal(await connections(server), CAP);
    for (const r of results) r.socket.destroy();
    await waitForConnections(server, 0, 30000);
    await assertChatWorks(server);
  } finally {
    for (const r of results) r.socket.destroy();
    await stopCleanly(server);
  }
});
