// The peer a JavaScript team would build: Node.js + npm `ws` serving frontdesk's patient
// protocol (docs/protocol.md), answering with NLP.js (bench/nlpjs/engine.mjs) from the same
// knowledge base. For the side-by-side benchmark of issue 6 (scenario 5b); not a product.
//
//   node bench/node-peer/server.mjs --kb FILE [--listen 127.0.0.1:0] [--threshold X]
//                                   [--log FILE] [--allow-origin URL]...
//
// Prints "listening on PORT" once the model is trained and the socket is open.
//
// What it does like frontdesk: WebSocket /ws, subprotocol frontdesk-chat, Origin checked (same
// host as Host, or --allow-origin), frames over 16 KiB closed with 1009, binary frames with
// 1003, JSON frames hello -> welcome, message -> ack then answer or handoff (reply_to = the
// ack's id, replies in order per connection), ping -> pong, the same error codes.
//
// What it does not do, on purpose (say so next to any number it produces):
// - persistence: with --log FILE every patient message and every reply is appended to FILE as
//   one JSON line with one write(2) each (fs.writeSync) before the patient is told, which like
//   frontdesk's WAL with synchronous=NORMAL survives a crash of the process, not of the machine;
//   without --log nothing is stored at all. Conversations live in memory only: a token resumes
//   its conversation while this process runs, but no history is replayed.
// - no triage (emergencies get whatever NLP.js answers), no rate limit, no per-address limit,
//   no feedback storage (feedback_ok is sent for any integer id).
import { openSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { WebSocketServer } from 'ws';
import { createEngine } from '../nlpjs/engine.mjs';

const SUBPROTOCOL = 'frontdesk-chat';
const MAX_FRAME = 16 * 1024;
const MAX_TEXT = 4000;
const GREETING = "Hi! I'm the clinic's virtual front desk. Ask me about hours, appointments, " +
	'prices, insurance, refills or directions.';
const HANDOFF_TEXT = "I'm not sure I can answer that well, so I've passed your question to our " +
	'front desk staff. Someone will reply here shortly.';

function parseArgs(argv) {
	const o = { listen: '127.0.0.1:0', kb: null, threshold: undefined, log: null, origins: [] };
	for (let i = 2; i < argv.length; i++) {
		const a = argv[i];
		const v = argv[i + 1];
		if (v === undefined) throw new Error(`${a} needs a value`);
		i++;
		if (a === '--listen') o.listen = v;
		else if (a === '--kb') o.kb = v;
		else if (a === '--threshold') o.threshold = Number(v);
		else if (a === '--log') o.log = v;
		else if (a === '--allow-origin') o.origins.push(v.toLowerCase());
		else throw new Error(`unknown option ${a}`);
	}
	if (!o.kb) throw new Error('--kb FILE is required');
	const m = /^(.+):(\d+)$/.exec(o.listen);
	if (!m) throw new Error('--listen wants ADDR:PORT');
	o.host = m[1];
	o.port = Number(m[2]);
	return o;
}

function originAllowed(req, origins) {
	const origin = (req.headers.origin || '').toLowerCase();
	if (!origin) return false;
	if (origins.includes(origin)) return true;
	const host = (req.headers.host || '').toLowerCase();
	const m = /^https?:\/\/(.+)$/.exec(origin);
	return !!m && m[1] === host;
}

async function main() {
	let o;
	try {
		o = parseArgs(process.argv);
	} catch (err) {
		console.error(`node-peer: ${err.message}`);
		console.error('usage: node server.mjs --kb FILE [--listen ADDR:PORT] [--threshold X] [--log FILE] [--allow-origin URL]...');
		process.exit(2);
	}
	const engine = await createEngine(o.kb, { threshold: o.threshold });
	const logFd = o.log ? openSync(o.log, 'a') : null;
	const conversations = new Map(); // token -> conversation id (memory only)
	let nextEvent = 0;

	// One write(2) per event, before the patient hears about it.
	function persist(event) {
		if (logFd !== null) writeSync(logFd, `${JSON.stringify(event)}\n`);
	}

	const wss = new WebSocketServer({
		host: o.host,
		port: o.port,
		path: '/ws',
		maxPayload: MAX_FRAME,
		perMessageDeflate: false,
		handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
		verifyClient: (info, done) => {
			if (!originAllowed(info.req, o.origins)) return done(false, 403, 'origin not allowed');
			const offered = (info.req.headers['sec-websocket-protocol'] || '').split(',').map((s) => s.trim());
			if (!offered.includes(SUBPROTOCOL)) return done(false, 400, 'subprotocol frontdesk-chat required');
			return done(true);
		},
	});

	wss.on('connection', (ws) => {
		const session = { conv: null };
		let chain = Promise.resolve(); // replies in order, one message at a time per connection

		const send = (obj) => {
			if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(obj));
		};
		const error = (code, message) => send({ type: 'error', code, message });

		async function onMessage(req) {
			if (req.type === 'hello') {
				let token = typeof req.token === 'string' ? req.token : null;
				let resumed = false;
				if (token !== null) {
					if (!conversations.has(token)) return error('bad_token', 'unknown or expired token');
					session.conv = conversations.get(token);
					resumed = true;
				} else {
					token = randomBytes(32).toString('hex');
					session.conv = `c_${randomBytes(16).toString('hex')}`;
					conversations.set(token, session.conv);
				}
				return send({ type: 'welcome', conversation: session.conv, token, resumed, status: 'bot',
					greeting: GREETING, history: [] });
			}
			if (req.type === 'ping') return send({ type: 'pong' });
			if (req.type === 'message') {
				if (!session.conv) return error('no_session', 'say hello first');
				if (typeof req.text !== 'string') return error('missing_field', '"text" must be a string');
				if ([...req.text].length > MAX_TEXT) return error('too_long', 'the message is too long');
				if (!req.text.trim()) return error('empty', 'the message is empty');
				const id = ++nextEvent;
				persist({ id, conv: session.conv, role: 'patient', type: 'message', text: req.text,
					client_id: req.client_id, ts: new Date().toISOString() });
				const ack = { type: 'ack', id };
				if (typeof req.client_id === 'string') ack.client_id = req.client_id;
				send(ack);
				const r = await engine.answer(req.text);
				const rid = ++nextEvent;
				let reply;
				if (r.id) {
					const e = engine.entries.get(r.id);
					reply = { type: 'answer', id: rid, reply_to: id, text: e.answer, entry: e.id,
						question: e.question, confidence: r.score };
				} else {
					reply = { type: 'handoff', id: rid, reply_to: id, reason: 'low_confidence',
						text: HANDOFF_TEXT, confidence: r.score, suggestions: [] };
				}
				persist({ ...reply, conv: session.conv, role: 'bot', ts: new Date().toISOString() });
				return send(reply);
			}
			if (req.type === 'feedback') {
				if (!session.conv) return error('no_session', 'say hello first');
				if (!Number.isInteger(req.message) || typeof req.helpful !== 'boolean') {
					return error('missing_field', 'feedback needs "message" and "helpful"');
				}
				return send({ type: 'feedback_ok', message: req.message });
			}
			return error('unknown_type', typeof req.type === 'string' ? 'unknown "type"' : '"type" is missing');
		}

		ws.on('message', (data, isBinary) => {
			if (isBinary) {
				ws.close(1003, 'text frames only');
				return;
			}
			let req;
			try {
				req = JSON.parse(data.toString('utf8'));
			} catch {
				req = null;
			}
			if (!req || typeof req !== 'object' || Array.isArray(req)) {
				error('bad_json', 'the frame must be a JSON object');
				return;
			}
			chain = chain.then(() => onMessage(req)).catch((err) => {
				console.error(`node-peer: ${err.message}`);
				error('internal', 'the server could not handle the message');
			});
		});
		ws.on('error', () => {}); // 1009 and friends: ws closes the socket itself
	});

	wss.on('listening', () => {
		console.log(`listening on ${wss.address().port}`);
	});
	wss.on('error', (err) => {
		console.error(`node-peer: ${err.message}`);
		process.exit(1);
	});

	const stop = () => {
		for (const ws of wss.clients) ws.close(1001, 'server shutting down');
		wss.close(() => process.exit(0));
		setTimeout(() => process.exit(0), 1500).unref();
	};
	process.on('SIGINT', stop);
	process.on('SIGTERM', stop);
}

main().catch((err) => {
	console.error(`node-peer: ${err.stack || err.message}`);
	process.exit(1);
});
