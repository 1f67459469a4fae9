// The page, the widget and the health check over plain HTTP, and no file outside web/.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startServer } from '../lib/server.mjs';
import { stopCleanly } from '../lib/chat.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await stopCleanly(server); });

// A raw GET: the path is sent exactly as given (fetch() would normalise "..").
function get(path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, path, method: 'GET', headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('latin1') }));
      res.on('error', reject);
    });
    // A server may drop a request it will not serve (e.g. a %00 in the path): that is not a leak.
    req.on('error', (e) => (['ECONNRESET', 'EPIPE'].includes(e.code) ? resolve({ status: null, headers: {}, body: '' }) : reject(e)));
    req.end();
  });
}

// Even rawer: for request lines http.request refuses to send.
function rawRequest(text) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(server.port, '127.0.0.1', () => sock.end(text));
    let data = '';
    sock.setEncoding('latin1');
    sock.on('data', (d) => { data += d; });
    sock.on('end', () => resolve(data));
    sock.on('close', () => resolve(data));
    sock.on('error', (e) => (e.code === 'ECONNRESET' ? resolve(data) : reject(e)));
  });
}

test('GET / is the chat page, with a strict Content-Security-Policy', async () => {
  const res = await get('/');
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'] || '', /^text\/html/);
  const csp = res.headers['content-security-policy'];
  assert.ok(csp, 'Content-Security-Policy header present');
  assert.match(csp, /script-src 'self'/);
  assert.ok(!csp.includes("'unsafe-inline'"), `no 'unsafe-inline' in ${csp}`);
  assert.ok(!/script-src[^;]*'unsafe-eval'/.test(csp), `no 'unsafe-eval' for scripts in ${csp}`);
  assert.ok(res.body.length > 0);
});

test('GET /widget.js is served as JavaScript', async () => {
  const res = await get('/widget.js');
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'] || '', /javascript/);
  assert.ok(res.body.length > 0);
});

test('GET /healthz is JSON with status ok', async () => {
  const res = await get('/healthz');
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'] || '', /application\/json/);
  const body = JSON.parse(res.body);
  assert.equal(body.status, 'ok');
});

const PASSWD = /root:[^:\n]*:0:0:/;
const traversals = [
  '/../../etc/passwd',
  '/../../../../../../../../etc/passwd',
  '/%2e%2e/%2e%2e/etc/passwd',
  '/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd',
  '/..%2f..%2f..%2f..%2fetc%2fpasswd',
  '/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '/.%2e/.%2e/.%2e/.%2e/etc/passwd',
  '/..%5c..%5c..%5c..%5cetc%5cpasswd',
  '/%252e%252e/%252e%252e/etc/passwd',
  '/widget.js/../../../../etc/passwd',
  '//etc/passwd',
  '/%2fetc%2fpasswd',
  '/etc/passwd%00.js',
  '/..\\..\\..\\..\\etc\\passwd',
];

for (const p of traversals) {
  test(`GET ${p} never returns /etc/passwd`, async () => {
    const res = await get(p);
    assert.ok(!PASSWD.test(res.body), `${p} leaked /etc/passwd (status ${res.status})`);
    assert.notEqual(res.status, 500);
  });
}

test('raw request lines with .. (absolute form, no leading slash) never return /etc/passwd', async () => {
  for (const line of [
    'GET ../../../../etc/passwd HTTP/1.1',
    'GET http://127.0.0.1/../../../../etc/passwd HTTP/1.1',
    'GET /a/../../../../../etc/passwd HTTP/1.0',
  ]) {
    const out = await rawRequest(`${line}\r\nHost: 127.0.0.1:${server.port}\r\nConnection: close\r\n\r\n`);
    assert.ok(!PASSWD.test(out), `${line} leaked /etc/passwd`);
  }
});

test('the server still serves after all that', async () => {
  const res = await get('/healthz');
  assert.equal(res.status, 200);
  assert.equal(server.proc.exitCode, null);
});
