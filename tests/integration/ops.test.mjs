// Operations a clinic relies on: a backup taken while the server is serving can be
// restored with nothing lost, and TLS (https + wss) with HSTS.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import https from 'node:https';
import WebSocket from 'ws';
import { startServer, bin, root } from '../lib/server.mjs';

const dir = mkdtempSync(path.join(tmpdir(), 'frontdesk-ops-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

// One hello, then optional messages; resolves every frame received, in order.
function converse(url, origin, { token, messages = [], tls = false } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'frontdesk-chat', { origin, rejectUnauthorized: !tls ? undefined : false });
    const frames = [];
    let replies = 0;
    const timer = setTimeout(() => { ws.terminate(); reject(new Error('timeout: ' + JSON.stringify(frames))); }, 15000);
    ws.on('open', () => ws.send(JSON.stringify(token ? { type: 'hello', token } : { type: 'hello' })));
    ws.on('error', (e) => { clearTimeout(timer); reject(e); });
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString());
      frames.push(f);
      if (f.type === 'welcome') messages.forEach((text) => ws.send(JSON.stringify({ type: 'message', text })));
      if (['answer', 'handoff', 'emergency'].includes(f.type)) replies++;
      if ((f.type === 'welcome' && messages.length === 0) || replies === messages.length && replies > 0) {
        clearTimeout(timer);
        ws.close();
        resolve(frames);
      }
    });
  });
}

test('a backup taken while serving restores the conversations and the knowledge base', async () => {
  const server = await startServer([], { keepDir: mkdtempSync(path.join(dir, 'live-')) });
  let token, conversation;
  try {
    const frames = await converse(`ws://127.0.0.1:${server.port}/ws`, server.origin,
      { messages: ['what are your opening hours?', 'where do I park?'] });
    ({ token, conversation } = frames[0]);
    const backup = path.join(dir, 'backup.db');
    const r = spawnSync(bin, ['backup', '--db', server.db, backup], { encoding: 'utf8', cwd: root });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(statSync(backup).mode & 0o077, 0, 'the backup is readable by its owner only');
  } finally {
    assert.equal((await server.stop({ keepFiles: true })).code, 0);
  }
  // Restore: a new server on the backup file alone.
  const restoreDir = mkdtempSync(path.join(dir, 'restored-'));
  spawnSync('cp', [path.join(dir, 'backup.db'), path.join(restoreDir, 'test.db')]);
  const restored = await startServer([], { keepDir: restoreDir });
  try {
    const frames = await converse(`ws://127.0.0.1:${restored.port}/ws`, restored.origin, { token });
    assert.equal(frames[0].type, 'welcome');
    assert.equal(frames[0].conversation, conversation);
    assert.equal(frames[0].history.length, 4, 'two questions and two answers');
    assert.equal(frames[0].history[1].type, 'answer');
    const health = await (await fetch(`${restored.origin}/healthz`)).json();
    assert.equal(health.entries, 112);
  } finally {
    await restored.stop();
  }
});

test('backup refuses a path it cannot write, and leaves nothing behind', () => {
  const r = spawnSync(bin, ['backup', '--db', path.join(dir, 'x.db'), '/nonexistent-dir/b.db'],
    { encoding: 'utf8', cwd: root });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /frontdesk backup: /);
});

test('with --tls-cert/--tls-key it serves https and wss, with HSTS', async () => {
  const key = path.join(dir, 'key.pem'), cert = path.join(dir, 'cert.pem');
  const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key,
    '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { encoding: 'utf8' });
  assert.equal(gen.status, 0, gen.stderr);
  const server = await startServer(['--tls-cert', cert, '--tls-key', key]);
  try {
    assert.equal(server.origin.startsWith('https://'), true);
    const res = await new Promise((resolve, reject) => {
      https.get(`${server.origin}/`, { rejectUnauthorized: false }, (r) => { r.resume(); resolve(r); })
        .on('error', reject);
    });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['strict-transport-security'] || '', /max-age=\d+/);
    assert.match(res.headers['content-security-policy'], /script-src 'self'/);
    const frames = await converse(`wss://127.0.0.1:${server.port}/ws`, server.origin,
      { messages: ['what are your opening hours?'], tls: true });
    assert.equal(frames[0].type, 'welcome');
    assert.ok(frames.some((f) => f.type === 'answer' && f.entry.startsWith('hours')));
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
});

test('--tls-cert without --tls-key is refused', () => {
  const r = spawnSync(bin, ['serve', '--tls-cert', 'x.pem', '--listen', '127.0.0.1:0'], { encoding: 'utf8', cwd: root });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /go together/);
});
