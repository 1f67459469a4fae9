// Staff side of the integration tests: sign in over HTTP, then open the console
// WebSocket (subprotocol frontdesk-staff) with the session cookie. The console client
// is the same frame recorder as the patient's (chat.mjs), without pacing.
import { connect, tryConnect } from './chat.mjs';

export const STAFF_PROTOCOL = 'frontdesk-staff';
// A Tuesday, 10:00 in the clinic's zone (America/Chicago): open. And 23:00: closed.
export const OPEN_TIME = 1795536000;
export const CLOSED_TIME = 1795582800;

export async function request(server, method, path, { body, cookie, csrf, origin = server.origin, headers = {} } = {}) {
  const h = { ...headers };
  if (body !== undefined) h['content-type'] = 'application/json';
  if (cookie) h.cookie = cookie;
  if (csrf) h['x-csrf-token'] = csrf;
  if (origin) h.origin = origin;
  const res = await fetch(server.origin + path, {
    method, headers: h, redirect: 'manual',
    body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* pages and redirects */ }
  return { status: res.status, headers: res.headers, text, json };
}

// Signs in; returns { cookie, csrf, user, setCookie }.
export async function login(server, name, password) {
  const res = await request(server, 'POST', '/api/login', { body: { name, password } });
  if (res.status !== 200) throw new Error(`login ${name}: ${res.status} ${res.text}`);
  const setCookie = res.headers.get('set-cookie');
  const cookie = setCookie.split(';')[0];
  return { cookie, csrf: res.json.csrf, user: res.json.user, setCookie };
}

// Opens a console for a signed-in session and says hello; returns [console, welcome].
export async function openConsole(server, session, { since } = {}) {
  const con = await connect(server, { protocol: STAFF_PROTOCOL, headers: { cookie: session.cookie }, pace: false });
  await con.send(since === undefined ? { type: 'hello' } : { type: 'hello', since });
  const welcome = await con.next((f) => f.type === 'welcome' || f.type === 'error');
  if (welcome.type !== 'welcome') throw new Error(`staff hello refused: ${JSON.stringify(welcome)}`);
  return [con, welcome];
}

export function tryConsole(server, opts = {}) {
  return tryConnect(server, { protocol: STAFF_PROTOCOL, ...opts });
}

// Sends a console frame and waits for its ack or error.
export async function act(con, frame) {
  await con.send(frame);
  return con.next((f) => f.type === 'ack' || f.type === 'error');
}
