// A small WebSocket chat client for the integration tests: it speaks the protocol of
// docs/protocol.md to a real server (see server.mjs) and records every frame received.
//
//   const chat = await connect(server);          // opens ws://127.0.0.1:PORT/ws
//   const welcome = await chat.hello();          // {type:'welcome', ...}
//   const { ack, reply } = await chat.ask('what are your opening hours?');
//   const err = await chat.next((f) => f.type === 'error');
//
// Frames are consumed in order: next(pred) returns the oldest received frame that matches
// `pred` and has not been returned by an earlier next(), waiting for it if needed.
// chat.frames holds everything received (consumed or not), for assertions and messages.
//
// Pacing: the server allows a burst of 10 frames then 1 per second (rate_limited). Tests that
// are not about the rate limit must not trip it by accident, so by default a connection sends
// at most PACE_BURST frames at once and then one per PACE_MS. `{ pace: false }` turns it off.
import WebSocket from 'ws';
import { setTimeout as sleep } from 'node:timers/promises';
import { slow } from './server.mjs';

export const SUBPROTOCOL = 'frontdesk-chat';
export const REPLY_TYPES = ['answer', 'handoff', 'emergency'];
const PACE_BURST = 8;
const PACE_MS = 1100;
const DEFAULT_TIMEOUT = slow(10000); // a bound on waiting for the server (FRONTDESK_SLOW)

export function wsUrl(server, path = '/ws') {
  return `ws://127.0.0.1:${server.port}${path}`;
}

// Tries the handshake. Resolves { ok: true, ws } or { ok: false, status, error }.
// Never rejects: refusing the handshake is an expected outcome in some tests.
export function tryConnect(server, { origin = server.origin, protocol = SUBPROTOCOL, path = '/ws', headers } = {}) {
  return new Promise((resolve) => {
    const opts = { headers, handshakeTimeout: slow(10000) };
    if (origin !== null && origin !== undefined) opts.origin = origin;
    const ws = new WebSocket(wsUrl(server, path), protocol === null ? undefined : protocol, opts);
    let done = false;
    const finish = (v) => { if (!done) { done = true; resolve(v); } };
    ws.on('unexpected-response', (req, res) => {
      res.resume();
      finish({ ok: false, status: res.statusCode, headers: res.headers });
      req.destroy();
    });
    ws.on('error', (error) => finish({ ok: false, status: null, error }));
    ws.on('open', () => finish({ ok: true, ws }));
  });
}

export async function connect(server, options = {}) {
  const res = await tryConnect(server, options);
  if (!res.ok) {
    let why = `handshake refused: status ${res.status} ${res.error ? res.error.message : ''}`;
    const proc = server.proc;
    if (proc && (proc.exitCode !== null || proc.signalCode !== null)) {
      why += `\nthe server is gone (exit ${proc.exitCode}, signal ${proc.signalCode}); stderr tail:\n` +
        (server.stderr ? server.stderr().slice(-3000) : '');
    }
    throw new Error(why);
  }
  return new Chat(res.ws, options);
}

let clientSeq = 0;

export class Chat {
  constructor(ws, { pace = true } = {}) {
    this.ws = ws;
    this.frames = [];        // every frame received, parsed (or {type:'__raw'} if not JSON)
    this.consumed = new Set();
    this.waiters = [];
    this.closeInfo = null;
    this.pace = pace;
    this.tokens = PACE_BURST;
    this.lastRefill = Date.now();
    this.sendQueue = Promise.resolve();
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        for (const w of this.waiters.splice(0)) w.onClose(this.closeInfo);
        resolve(this.closeInfo);
      });
    });
    ws.on('error', () => {}); // surfaced through 'close'
    ws.on('message', (data, isBinary) => {
      let frame;
      if (isBinary) {
        frame = { type: '__binary', raw: data };
      } else {
        try {
          frame = JSON.parse(data.toString('utf8'));
        } catch {
          frame = { type: '__raw', raw: data.toString('utf8') };
        }
        if (frame === null || typeof frame !== 'object' || Array.isArray(frame)) {
          frame = { type: '__raw', raw: data.toString('utf8') };
        }
      }
      this.frames.push(frame);
      this._dispatch();
    });
  }

  get protocol() { return this.ws.protocol; }
  get isOpen() { return this.ws.readyState === WebSocket.OPEN; }

  async _takeToken() {
    if (!this.pace) return;
    for (;;) {
      const now = Date.now();
      const refill = Math.floor((now - this.lastRefill) / PACE_MS);
      if (refill > 0) {
        this.tokens = Math.min(PACE_BURST, this.tokens + refill);
        this.lastRefill += refill * PACE_MS;
      }
      if (this.tokens > 0) { this.tokens--; return; }
      await sleep(PACE_MS - (now - this.lastRefill) + 5);
    }
  }

  // Sends raw data (string or Buffer) as one frame, after pacing. Resolves once handed to ws.
  sendRaw(data, opts = {}) {
    const p = this.sendQueue.then(async () => {
      await this._takeToken();
      await new Promise((resolve, reject) => {
        this.ws.send(data, opts, (err) => (err ? reject(err) : resolve()));
      });
    });
    this.sendQueue = p.catch(() => {});
    return p;
  }

  send(obj) { return this.sendRaw(JSON.stringify(obj)); }

  _dispatch() {
    for (const w of [...this.waiters]) {
      const idx = this.frames.findIndex((f, i) => !this.consumed.has(i) && w.pred(f));
      if (idx >= 0) {
        this.consumed.add(idx);
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(this.frames[idx]);
      }
    }
  }

  describe() {
    return JSON.stringify(this.frames.map((f) => (f.raw !== undefined ? { ...f, raw: String(f.raw).slice(0, 200) } : f)))
      .slice(0, 4000);
  }

  // Marks every frame received so far as consumed (after inspecting chat.frames directly),
  // so that later next() calls only see what arrives from now on.
  drain() {
    this.frames.forEach((_, i) => this.consumed.add(i));
  }

  // Resolves with the oldest unconsumed frame matching pred; rejects on timeout or close.
  next(pred = () => true, timeoutMs = DEFAULT_TIMEOUT) {
    if (typeof pred === 'string') { const t = pred; pred = (f) => f.type === t; }
    return new Promise((resolve, reject) => {
      const idx = this.frames.findIndex((f, i) => !this.consumed.has(i) && pred(f));
      if (idx >= 0) { this.consumed.add(idx); resolve(this.frames[idx]); return; }
      const fail = (why) => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        clearTimeout(timer);
        reject(new Error(`${why} waiting for a frame matching ${pred}; received: ${this.describe()}`));
      };
      const w = {
        pred,
        resolve: (f) => { clearTimeout(timer); resolve(f); },
        onClose: (info) => fail(`connection closed (code ${info.code} ${info.reason})`),
      };
      const timer = setTimeout(() => fail(`timeout after ${timeoutMs} ms`), timeoutMs);
      if (this.closeInfo) { fail(`connection already closed (code ${this.closeInfo.code})`); return; }
      this.waiters.push(w);
    });
  }

  // hello -> welcome (or error); returns the frame.
  async hello(extra = {}) {
    await this.send({ type: 'hello', ...extra });
    return this.next((f) => f.type === 'welcome' || f.type === 'error');
  }

  // Sends a patient message; resolves { ack, reply } where reply is the answer/handoff/emergency
  // with reply_to === ack.id. If the message is refused, resolves { error } instead.
  async ask(text, { clientId = `c${++clientSeq}`, timeoutMs = DEFAULT_TIMEOUT } = {}) {
    await this.send({ type: 'message', text, client_id: clientId });
    const first = await this.next(
      (f) => (f.type === 'ack' && f.client_id === clientId) || f.type === 'error', timeoutMs);
    if (first.type === 'error') return { error: first };
    const reply = await this.next((f) => REPLY_TYPES.includes(f.type) && f.reply_to === first.id, timeoutMs);
    return { ack: first, reply };
  }

  // Round trip through ping/pong: everything the server sent for earlier frames has arrived.
  async sync(timeoutMs = DEFAULT_TIMEOUT) {
    await this.send({ type: 'ping' });
    return this.next('pong', timeoutMs);
  }

  // Resolves { code, reason } once closed (by either side), or rejects after timeoutMs.
  async waitClose(timeoutMs = DEFAULT_TIMEOUT) {
    let timer;
    const t = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`connection not closed after ${timeoutMs} ms; received: ${this.describe()}`)), timeoutMs);
    });
    try { return await Promise.race([this.closed, t]); } finally { clearTimeout(timer); }
  }

  async close() {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(1000);
    }
    try { return await this.waitClose(slow(5000)); } catch { this.ws.terminate(); return this.closeInfo; }
  }
}

// Opens a connection, says hello and returns [chat, welcome].
export async function openConversation(server, options = {}) {
  const chat = await connect(server, options);
  const welcome = await chat.hello(options.hello || {});
  if (welcome.type !== 'welcome') throw new Error(`hello refused: ${JSON.stringify(welcome)}`);
  return [chat, welcome];
}

// Stops a server started by startServer() and checks it shut down cleanly: SIGTERM -> exit 0.
// Under the sanitizer build this also catches leaks and errors reported at exit.
export async function stopCleanly(server) {
  if (!server) return;
  const res = await server.stop();
  if (res.code !== 0 || res.sig !== null) {
    throw new Error(`server did not exit cleanly (code ${res.code}, signal ${res.sig}); stderr tail:\n` +
      server.stderr().slice(-4000));
  }
}
