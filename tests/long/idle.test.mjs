// Long (about 75 s): connections whose peer stopped answering are reaped by the idle policy
// (server.c: a ping after 30 s without traffic, hang up at 70 s without a pong), while a quiet
// patient whose browser answers pings keeps its connection for as long as it likes.
import test from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import crypto from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer } from '../lib/server.mjs';
import { openConversation, stopCleanly } from '../lib/chat.mjs';

// A WebSocket handshake by hand, then nothing: it reads what the server sends (and keeps it)
// but never answers, the way a phone that lost its network looks from the server.
function silentPeer(server) {
  return new Promise((resolve, reject) => {
    const s = net.connect(server.port, '127.0.0.1');
    const peer = { socket: s, received: Buffer.alloc(0), closed: false, upgraded: false };
    s.on('connect', () => s.write(
      `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nOrigin: ${server.origin}\r\n` +
      'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
      `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\n` +
      'Sec-WebSocket-Protocol: frontdesk-chat\r\n\r\n'));
    s.on('data', (d) => {
      if (!peer.upgraded) {
        const head = d.toString('latin1');
        if (!head.startsWith('HTTP/1.1 101')) { reject(new Error(`handshake: ${head.slice(0, 60)}`)); return; }
        peer.upgraded = true;
        d = d.subarray(d.indexOf('\r\n\r\n') + 4);
        resolve(peer);
      }
      peer.received = Buffer.concat([peer.received, d]);
    });
    s.on('error', () => {});
    s.on('close', () => { peer.closed = true; });
  });
}

async function connections(server) {
  return (await (await fetch(`${server.origin}/healthz`)).json()).connections;
}

test('a peer that never answers pings is hung up on; a quiet patient who does is kept', async () => {
  const server = await startServer();
  try {
    const silent = await Promise.all(Array.from({ length: 20 }, () => silentPeer(server)));
    const [alive] = await openConversation(server);
    assert.equal(await connections(server), 21);

    const deadline = Date.now() + 150000; // a bound for a broken build, not a measure
    while (!silent.every((p) => p.closed)) {
      assert.ok(Date.now() < deadline, `${silent.filter((p) => !p.closed).length} silent peers still connected`);
      await sleep(1000);
    }
    for (const p of silent) {
      // The server asked first: a ping frame (FIN + opcode 9) before it hung up.
      assert.equal(p.received[0], 0x89, `a ping came first, got ${p.received.subarray(0, 4).toString('hex')}`);
    }
    assert.ok(alive.isOpen, 'the patient who answers pings is still connected');
    const r = await alive.ask('what are your opening hours?');
    assert.equal(r.reply?.type, 'answer', JSON.stringify(r));
    assert.equal(await connections(server), 1);
    await alive.close();
  } finally {
    await stopCleanly(server);
  }
});
