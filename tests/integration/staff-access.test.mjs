// Who may do what: every protected route and the console socket refused without a
// valid session; CSRF on state changes; sessions that expire; after hours and
// nobody online, the patient is told so and can leave a message that becomes a ticket.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer } from '../lib/server.mjs';
import { openConversation, stopCleanly } from '../lib/chat.mjs';
import { addUser } from '../lib/users.mjs';
import { CLOSED_TIME, OPEN_TIME, act, login, openConsole, request, tryConsole } from '../lib/staff.mjs';

const PW = 'correct horse battery staple';
let server;
const open = [];
before(async () => {
  server = await startServer(['--pretend-time', String(OPEN_TIME), '--session-idle', '3']);
  await addUser(server.db, 'maria', 'staff', PW, 'Maria');
});
after(async () => {
  for (const c of open) await c.close();
  await stopCleanly(server);
});

// Every route that needs a session, and what it answers without one.
const ADMIN_ROUTES = [
  ['GET', '/api/admin/entries'],
  ['POST', '/api/admin/entries'],
  ['GET', '/api/admin/entries/hours-weekday'],
  ['PUT', '/api/admin/entries/hours-weekday'],
  ['POST', '/api/admin/entries/hours-weekday/publish'],
  ['POST', '/api/admin/entries/hours-weekday/archive'],
  ['GET', '/api/admin/entries/hours-weekday/recall'],
  ['POST', '/api/admin/try'],
  ['GET', '/api/admin/inbox'],
  ['POST', '/api/admin/inbox/dismiss'],
  ['GET', '/api/admin/audit'],
  ['GET', '/api/admin/export'],
  ['POST', '/api/admin/import'],
  ['GET', '/api/admin/users'],
  ['POST', '/api/admin/users'],
  ['POST', '/api/admin/users/maria/disable'],
  ['POST', '/api/admin/users/maria/enable'],
  ['POST', '/api/admin/users/maria/password'],
  ['GET', '/api/admin/settings'],
  ['PUT', '/api/admin/settings'],
  ['GET', '/api/admin/analytics'],
  ['GET', '/api/admin/analytics.csv'],
];
const PROTECTED = [
  ['GET', '/staff', 303],
  ['GET', '/admin', 303],
  ['GET', '/api/me', 401],
  ['POST', '/api/logout', 401],
  ['GET', '/api/queue', 401],
  ['GET', '/api/conversations/c_' + '0'.repeat(32), 401],
  ...ADMIN_ROUTES.map(([m, p]) => [m, p, 401]),
];

test('every protected route is refused without a session, and with a forged or expired cookie', async () => {
  for (const cookie of [undefined, 'fd_session=' + 'a'.repeat(64), 'fd_session=../../etc', 'other=1']) {
    for (const [method, path, status] of PROTECTED) {
      const res = await request(server, method, path, { cookie, body: method === 'GET' ? undefined : {} });
      assert.equal(res.status, status, `${method} ${path} with cookie ${cookie}: ${res.text}`);
      if (status === 303) assert.equal(res.headers.get('location'), `/login?next=${path}`);
      else assert.equal(res.json.error, 'no_session');
    }
  }
});

test('a staff session is refused on every admin route (403) and the admin page (303); nothing changes', async () => {
  const s = await login(server, 'maria', PW);
  for (const [method, path] of ADMIN_ROUTES) {
    const res = await request(server, method, path, { cookie: s.cookie, csrf: s.csrf, body: method === 'GET' ? undefined : { text: 'x', revision: 1, threshold: 0.5 } });
    assert.equal(res.status, 403, `${method} ${path}: ${res.text}`);
    assert.equal(res.json.error, 'forbidden');
  }
  assert.equal((await request(server, 'GET', '/admin', { cookie: s.cookie })).status, 303);
  const me = await request(server, 'GET', '/api/me', { cookie: s.cookie });
  assert.equal(me.status, 200, 'the session still works: refusals do not end it');
});

test('with a session: pages and routes open; state changes need the CSRF token and our Origin', async () => {
  const s = await login(server, 'maria', PW);
  assert.match(s.setCookie, /HttpOnly/);
  assert.match(s.setCookie, /SameSite=Strict/);
  assert.doesNotMatch(s.setCookie, /Secure/, 'no Secure flag without TLS (the cookie would never come back)');
  const page = await request(server, 'GET', '/staff', { cookie: s.cookie });
  assert.equal(page.status, 200);
  assert.match(page.text, /<html/i);
  assert.match(page.headers.get('content-security-policy'), /script-src 'self'/);
  const me = await request(server, 'GET', '/api/me', { cookie: s.cookie });
  assert.equal(me.json.user.name, 'maria');
  assert.equal(me.json.csrf, s.csrf);
  assert.equal((await request(server, 'GET', '/api/queue', { cookie: s.cookie })).status, 200);

  const noToken = await request(server, 'POST', '/api/logout', { cookie: s.cookie, body: {} });
  assert.deepEqual([noToken.status, noToken.json.error], [403, 'csrf']);
  const foreign = await request(server, 'POST', '/api/logout',
    { cookie: s.cookie, csrf: s.csrf, body: {}, origin: 'https://evil.example' });
  assert.deepEqual([foreign.status, foreign.json.error], [403, 'csrf']);
  const out = await request(server, 'POST', '/api/logout', { cookie: s.cookie, csrf: s.csrf, body: {} });
  assert.equal(out.status, 200);
  assert.match(out.headers.get('set-cookie'), /Max-Age=0/);
  assert.equal((await request(server, 'GET', '/api/me', { cookie: s.cookie })).status, 401, 'logged out for good');
});

test('login: wrong password and unknown user get the same answer; bad bodies a clear error; foreign Origin refused', async () => {
  const wrong = await request(server, 'POST', '/api/login', { body: { name: 'maria', password: 'nope nope nope' } });
  const unknown = await request(server, 'POST', '/api/login', { body: { name: 'nobody', password: 'nope nope nope' } });
  assert.deepEqual([wrong.status, wrong.json.error], [401, 'bad_credentials']);
  assert.deepEqual(unknown.json, wrong.json);
  assert.equal((await request(server, 'POST', '/api/login', { body: '{"name":' })).json.error, 'bad_json');
  assert.equal((await request(server, 'POST', '/api/login', { body: { name: 'maria' } })).json.error, 'missing_field');
  assert.equal((await request(server, 'POST', '/api/login', { body: 'x'.repeat(70000) })).status, 413);
  assert.equal((await request(server, 'GET', '/api/login')).status, 405);
  const cross = await request(server, 'POST', '/api/login',
    { body: { name: 'maria', password: PW }, origin: 'https://evil.example' });
  assert.equal(cross.status, 403);
});

test('login attempts are throttled per account and per address', async () => {
  // Its own server: every test here comes from 127.0.0.1, and this one gets it throttled.
  const own = await startServer();
  try {
    await addUser(own.db, 'target', 'staff', PW, 'Tara');
    await addUser(own.db, 'other', 'staff', PW, 'Otto');
    let last;
    for (let i = 0; i < 6; i++) last = await request(own, 'POST', '/api/login', { body: { name: 'target', password: 'wrong password ' + i } });
    assert.equal(last.status, 429);
    assert.ok(last.json.retry_after > 0);
    const right = await request(own, 'POST', '/api/login', { body: { name: 'target', password: PW } });
    assert.equal(right.status, 429, 'even the right password waits out the delay');
    const sameAddress = await request(own, 'POST', '/api/login', { body: { name: 'other', password: PW } });
    assert.equal(sameAddress.status, 429, 'the address that guessed is throttled for every account');
  } finally {
    await stopCleanly(own);
  }
});

test('the console socket: refused without a session, from another origin, and closed when the session expires', async () => {
  const none = await tryConsole(server, {});
  assert.equal(none.ok, false);
  assert.equal(none.status, 401);
  const s = await login(server, 'maria', PW);
  const evil = await tryConsole(server, { origin: 'https://evil.example', headers: { cookie: s.cookie } });
  assert.deepEqual([evil.ok, evil.status], [false, 403]);
  const widgetProtocol = await tryConsole(server, { protocol: 'frontdesk-chat', headers: { cookie: s.cookie } });
  assert.equal(widgetProtocol.ok, true, 'a patient socket is not a console');
  widgetProtocol.ws.close();

  const [con] = await openConsole(server, s);
  open.push(con);
  // --session-idle 3: idle for longer, and the console is told and closed.
  await sleep(4500);
  const closed = await con.waitClose(5000);
  assert.equal(closed.code, 4001);
  assert.ok(con.frames.some((f) => f.type === 'error' && f.code === 'session_expired'));
  assert.equal((await request(server, 'GET', '/api/me', { cookie: s.cookie })).status, 401);
});

test('nobody online: the handoff says so and offers to leave a message, which becomes a ticket in the queue', async () => {
  const [pat, pw] = await openConversation(server);
  open.push(pat);
  const { reply } = await pat.ask('can I speak to a person');
  assert.equal(reply.type, 'handoff');
  assert.equal(reply.nobody_online, true);
  assert.equal(reply.leave_message, true);
  await pat.send({ type: 'leave_message', name: 'Ana', contact: '' , text: 'call me' });
  assert.equal((await pat.next('error')).code, 'missing_field');
  await pat.send({ type: 'leave_message', name: 'Ana Ruiz', contact: '555-0100', text: 'Please call me about my results' });
  const ok = await pat.next('ticket_ok');
  assert.ok(ok.id > 0);

  const s = await login(server, 'maria', PW);
  const [con, welcome] = await openConsole(server, s);
  open.push(con);
  const item = welcome.queue.find((i) => i.conversation === pw.conversation);
  assert.equal(item.status, 'ticket');
  assert.deepEqual(item.ticket, { name: 'Ana Ruiz', contact: '555-0100', text: 'Please call me about my results' });
  assert.equal((await act(con, { type: 'claim', conversation: pw.conversation })).type, 'ack');
  assert.equal((await act(con, { type: 'resolve', conversation: pw.conversation })).type, 'ack');
});

test('after hours (clinic closed): the patient is told when we open, in their language, and can leave a message', async () => {
  const closed = await startServer(['--pretend-time', String(CLOSED_TIME)]);
  try {
    await addUser(closed.db, 'maria', 'staff', PW, 'Maria');
    const s = await login(closed, 'maria', PW);
    const [con] = await openConsole(closed, s);
    const [pat] = await openConversation(closed);
    const { reply } = await pat.ask('I want to talk to a person');
    assert.equal(reply.after_hours, true, 'closed even though someone is online');
    assert.equal(reply.leave_message, true);
    assert.match(reply.text, /closed/);
    assert.match(reply.text, /8:00/);
    const [pes] = await openConversation(closed, { hello: { lang: 'es' } });
    const es = await pes.ask('quiero hablar con una persona');
    assert.equal(es.reply.after_hours, true);
    assert.match(es.reply.text, /cerrad/);
    await pat.close(); await pes.close(); await con.close();
  } finally {
    await stopCleanly(closed);
  }
});
