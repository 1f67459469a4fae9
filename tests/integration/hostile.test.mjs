// Hostile clients: a patient socket that never reads, slowloris on HTTP (headers and bodies
// sent a byte a second), and path traversal on the static files. In each case the server keeps
// serving everybody else, and gets rid of the attacker by itself. (Frames over the limit, floods,
// invalid UTF-8 and a wrong Origin are in robustness.test.mjs and origin.test.mjs; 5,000
// connections at once in connections.test.mjs.)
import test from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer, root } from '../lib/server.mjs';
import { connect, openConversation, stopCleanly } from '../lib/chat.mjs';

function assertAlive(server) {
  assert.equal(server.proc.exitCode, null, `server exited:\n${server.stderr().slice(-3000)}`);
  assert.equal(server.proc.signalCode, null, `server killed by ${server.proc.signalCode}:\n${server.stderr().slice(-3000)}`);
}

async function health(server) {
  const res = await fetch(`${server.origin}/healthz`);
  assert.equal(res.status, 200);
  return res.json();
}

// Polls until cond() is true; fails with what() once `ms` have passed (a bound, not a measure).
async function waitFor(cond, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${what()}`);
    await sleep(200);
  }
}

// One raw HTTP/1.1 request with the target exactly as given (no client-side normalisation of
// "..", "%2e" or "\"). Resolves { status, headers, body } or { status: null } if the server
// closed without answering.
function rawGet(server, target) {
  return new Promise((resolve) => {
    const s = net.connect(server.port, '127.0.0.1');
    let data = Buffer.alloc(0);
    const done = () => {
      clearTimeout(timer);
      const i = data.indexOf('\r\n\r\n');
      if (i < 0) { resolve({ status: null, raw: data.toString('latin1') }); return; }
      const head = data.subarray(0, i).toString('latin1');
      const m = head.match(/^HTTP\/1\.[01] (\d{3})/);
      resolve({ status: m ? Number(m[1]) : null, head, body: data.subarray(i + 4) });
    };
    const timer = setTimeout(() => { s.destroy(); }, 10000);
    s.on('connect', () => s.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nConnection: close\r\n\r\n`));
    s.on('data', (d) => { data = Buffer.concat([data, d]); });
    s.on('error', () => {});
    s.on('close', done);
  });
}

test('a patient socket that never reads is closed once its queue is full; others are served throughout', async () => {
  // The rate limit is raised so the reader can ask for a lot quickly; what is under test is the
  // outbound queue (SERVER_MAX_QUEUED frames), not the rate limit.
  const server = await startServer(['--rate-burst', '100000', '--rate-per-sec', '100000']);
  try {
    // A conversation with a long history: each resume (hello with its token) is answered by a
    // welcome frame of about 80 KB, so a few hundred of them are far more than any socket buffer.
    const [writer, welcome] = await openConversation(server, { pace: false });
    for (let i = 0; i < 20; i++) {
      const r = await writer.ask(`what are your opening hours? ${'x'.repeat(3900)}`);
      assert.ok(r.ack, JSON.stringify(r.error));
    }
    await writer.close();

    const slow = await connect(server, { pace: false });
    const w = await slow.hello({ token: welcome.token });
    assert.equal(w.type, 'welcome');
    assert.ok(JSON.stringify(w).length > 60000, 'the welcome frame is large');
    slow.ws.pause(); // stop reading: the kernel buffers fill, then the server's queue
    const hello = JSON.stringify({ type: 'hello', token: welcome.token });
    for (let i = 0; i < 1000; i++) slow.ws.send(hello);

    // Meanwhile another patient is answered, round after round, until the server has dropped
    // the slow connection (healthz counts only the observer then).
    const [observer] = await openConversation(server, { pace: false });
    let rounds = 0;
    await waitFor(async () => {
      const r = await observer.ask('what are your opening hours?');
      assert.equal(r.reply?.type, 'answer', `the other patient is answered: ${JSON.stringify(r)}`);
      rounds++;
      const h = await health(server);
      return h.connections === 1;
    }, 45000, () => 'the server closes a connection that does not read');
    assert.ok(rounds >= 2, 'the other patient was served while the slow one was still connected');
    assert.match(server.stderr(), /not reading/, 'the log says why the connection was closed');

    // Reading again, the slow client finds its connection over: the 1008 close if it got out
    // before the grace period ended, or an abnormal close (1006) if the socket was dropped.
    slow.ws.resume();
    const closed = await slow.waitClose(20000);
    assert.ok([1006, 1008].includes(closed.code), `close code ${closed.code} ${closed.reason}`);
    if (closed.code === 1008) assert.equal(closed.reason, 'not reading');

    const r = await observer.ask('where do I park?');
    assert.ok(r.reply, JSON.stringify(r));
    await observer.close();
    assertAlive(server);
  } finally {
    await stopCleanly(server);
  }
});

test('slowloris: headers or a body sent a byte a second, or nothing at all, are dropped; others are served meanwhile', async () => {
  const server = await startServer();
  try {
    const kinds = {
      // request headers that never end
      header: { n: 200, start: '', drip: `GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nUser-Agent: slow${'-'.repeat(300)}\r\n` },
      // complete headers, then a body that never ends
      body: {
        n: 50,
        start: `POST /api/login HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nOrigin: ${server.origin}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n{"user":"',
        drip: 'a'.repeat(4000),
      },
      // connect and say nothing
      idle: { n: 50, start: '', drip: '' },
    };
    const socks = [];
    for (const [kind, k] of Object.entries(kinds)) {
      for (let i = 0; i < k.n; i++) {
        const s = net.connect(server.port, '127.0.0.1');
        Object.assign(s, { kind, pos: 0, drip: k.drip, got: '', closedByServer: false });
        s.on('connect', () => { if (k.start) s.write(k.start); });
        s.on('data', (d) => { s.got += d.toString('latin1'); });
        s.on('error', () => {});
        s.on('close', () => { s.closedByServer = true; });
        socks.push(s);
      }
    }
    const drip = setInterval(() => {
      for (const s of socks) if (!s.destroyed && s.pos < s.drip.length) s.write(s.drip[s.pos++]);
    }, 1000);
    const open = () => socks.filter((s) => !s.closedByServer).length;
    try {
      let servedWhileOpen = 0;
      await waitFor(async () => {
        const stillOpen = open();
        const h = await health(server);
        assert.equal(h.status, 'ok');
        const page = await fetch(server.url);
        assert.equal(page.status, 200);
        await page.arrayBuffer();
        const [chat] = await openConversation(server);
        const r = await chat.ask('what are your opening hours?');
        assert.equal(r.reply?.type, 'answer', JSON.stringify(r));
        await chat.close();
        if (stillOpen >= socks.length * 0.9) servedWhileOpen++;
        return open() === 0;
      }, 60000, () => `the server drops every slow connection (${open()} of ${socks.length} still open)`);
      assert.ok(servedWhileOpen >= 1, 'health, a page and a chat were served while the slow connections were open');
    } finally {
      clearInterval(drip);
      for (const s of socks) s.destroy();
    }
    for (const s of socks) {
      assert.doesNotMatch(s.got, /^HTTP\/1\.[01] 2\d\d/, `a ${s.kind} connection never completed a request`);
    }
    assert.match(server.stderr(), /request body too slow/, 'the log says why the body senders were dropped');
    assertAlive(server);
    assert.equal((await health(server)).connections, 0);
  } finally {
    await stopCleanly(server);
  }
});

test('path traversal never serves a file outside web/, and the server keeps serving', async () => {
  const server = await startServer();
  try {
    const webDir = path.join(root, 'web');
    const webFiles = [];
    (function walk(d) {
      for (const f of readdirSync(d)) {
        const p = path.join(d, f);
        if (statSync(p).isDirectory()) walk(p); else webFiles.push(readFileSync(p));
      }
    })(webDir);
    // Files outside web/ and a telling excerpt of each: none may ever appear in a response.
    const secrets = ['Makefile', 'server/main.c', 'server/store.c', 'package.json', 'README.md', '/etc/passwd', '/etc/hostname']
      .map((f) => (f.startsWith('/') ? f : path.join(root, f)))
      .flatMap((f) => { try { return [[f, readFileSync(f, 'latin1').trim().slice(0, 48)]]; } catch { return []; } })
      .filter(([, excerpt]) => excerpt.length >= 8);
    assert.ok(secrets.length >= 4);

    const targets = [
      '/../server/main.c', '/../../server/main.c', '/%2e%2e/%2e%2e/etc/passwd', '/%2e%2e/server/main.c',
      '/web/../../Makefile', '//etc/passwd', '///etc/passwd', '/../../../../../../../../etc/passwd',
      '/..%2fMakefile', '/%2e%2e%2fMakefile', '/.%2e/Makefile', '/%2E%2E/Makefile', '/%252e%252e/Makefile',
      '/..%5cMakefile', '/..%5c..%5cserver%5cmain.c', '/..\\..\\Makefile', '/%5c..%5c..%5cetc%5cpasswd',
      '/widget.js/../../Makefile', '/./../Makefile', '/....//Makefile', '/..;/Makefile', '/%c0%ae%c0%ae/Makefile',
      '/%00/../Makefile', '/index.html%00.js', '/..%00/Makefile', '/staff/../../Makefile', '/api/../../Makefile',
      '/healthz/../../Makefile', '/login/../../README.md', '/.git/HEAD', '/../.git/HEAD', '/..', '/%2e%2e',
      'Makefile', '../Makefile', '*',
    ];
    for (const target of targets) {
      const r = await rawGet(server, target);
      const body = r.body ? r.body.toString('latin1') : (r.raw || '');
      for (const [file, excerpt] of secrets) {
        assert.ok(!body.includes(excerpt), `${JSON.stringify(target)} served ${file}`);
      }
      if (r.status === null) continue; // closed without an answer: nothing served
      if (r.status === 200) {
        assert.ok(webFiles.some((f) => f.equals(r.body)), `${JSON.stringify(target)}: a 200 is a file from web/`);
      } else {
        assert.ok([301, 302, 400, 403, 404, 405].includes(r.status), `${JSON.stringify(target)} -> ${r.status}`);
      }
    }
    assertAlive(server);
    const ok = await rawGet(server, '/widget.js');
    assert.equal(ok.status, 200);
    assert.ok(ok.body.equals(readFileSync(path.join(webDir, 'widget.js'))));
    const [chat] = await openConversation(server);
    assert.equal((await chat.ask('what are your opening hours?')).reply?.type, 'answer');
    await chat.close();
  } finally {
    await stopCleanly(server);
  }
});
