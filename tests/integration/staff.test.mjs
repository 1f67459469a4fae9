// Staff take over escalated chats: the whole path over real WebSockets, patient and
// staff console side by side (docs/staff-protocol.md).
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.mjs';
import { openConversation, stopCleanly } from '../lib/chat.mjs';
import { addUser } from '../lib/users.mjs';
import { OPEN_TIME, act, login, openConsole } from '../lib/staff.mjs';

const PW = 'correct horse battery staple';
let server;
const open = [];
before(async () => {
  server = await startServer(['--pretend-time', String(OPEN_TIME)]);
  await addUser(server.db, 'maria', 'staff', PW, 'Maria');
  await addUser(server.db, 'ben', 'staff', PW, 'Ben');
  await addUser(server.db, 'ada', 'admin', PW, 'Ada');
});
after(async () => {
  for (const c of open) await c.close();
  await stopCleanly(server);
});

async function patient(opts) {
  const [chat, welcome] = await openConversation(server, opts);
  open.push(chat);
  return [chat, welcome];
}
async function console_(name) {
  const session = await login(server, name, PW);
  const [con, welcome] = await openConsole(server, session);
  open.push(con);
  return [con, welcome, session];
}
const queueItem = (con, conv, pred = () => true) =>
  con.next((f) => f.type === 'queue' && f.item && f.item.conversation === conv && pred(f.item));

test('handoff -> queue -> claim -> messages both ways -> bot silent -> hand back -> the bot answers again', async () => {
  const [con, welcome] = await console_('maria');
  assert.equal(welcome.user.display, 'Maria');
  assert.ok(Array.isArray(welcome.queue));

  const [pat, pw] = await patient();
  const conv = pw.conversation;
  const { reply } = await pat.ask('can I talk to a real person please');
  assert.equal(reply.type, 'handoff');
  assert.equal(reply.reason, 'asked_for_person');
  assert.ok(!reply.leave_message, 'someone is online and the clinic is open: no leave-a-message form');
  const pos = await pat.next('queue');
  assert.equal(pos.position, 1);
  assert.equal(pos.staff_online, 1);

  const item = (await queueItem(con, conv)).item;
  assert.equal(item.status, 'waiting');
  assert.equal(item.reason, 'asked_for_person');
  assert.deepEqual(item.questions, ['can I talk to a real person please']);
  assert.equal(item.owner, null);

  const claim = await act(con, { type: 'claim', conversation: conv });
  assert.equal(claim.type, 'ack', JSON.stringify(claim));
  const joined = await pat.next((f) => f.role === 'system' && f.type === 'claimed');
  assert.match(joined.text, /Maria/);
  assert.equal((await queueItem(con, conv, (i) => i.status === 'owned')).item.owner.name, 'maria');

  await con.send({ type: 'typing', conversation: conv, typing: true });
  const typing = await pat.next('typing');
  assert.deepEqual([typing.name, typing.typing], ['Maria', true]);

  const ack = await act(con, { type: 'reply', conversation: conv, text: 'Hi, this is Maria. How can I help?', client_id: 'r1' });
  assert.equal(ack.type, 'ack');
  assert.equal(ack.client_id, 'r1');
  const staffMsg = await pat.next((f) => f.role === 'staff' && f.type === 'message');
  assert.equal(staffMsg.text, 'Hi, this is Maria. How can I help?');
  assert.equal(staffMsg.name, 'Maria');
  assert.equal(staffMsg.id, ack.id);

  const note = await act(con, { type: 'note', conversation: conv, text: 'INTERNAL: check her chart' });
  assert.equal(note.type, 'ack');

  // The patient writes: stored and acknowledged, seen by staff, and the bot says nothing.
  await pat.send({ type: 'typing', typing: true });
  const ptyping = await con.next('patient_typing');
  assert.equal(ptyping.conversation, conv);
  await pat.send({ type: 'message', text: 'what are your opening hours?', client_id: 'p2' });
  const pack = await pat.next((f) => f.type === 'ack' && f.client_id === 'p2');
  const seen = await con.next((f) => f.type === 'event' && f.event.id === pack.id);
  assert.equal(seen.event.text, 'what are your opening hours?');
  await pat.sync();
  assert.ok(!pat.frames.some((f) => ['answer', 'handoff'].includes(f.type) && f.reply_to === pack.id),
    'the bot must stay quiet while a person owns the chat');
  assert.ok(!pat.frames.some((f) => f.type === 'note' || JSON.stringify(f).includes('INTERNAL')),
    'internal notes never reach the patient');

  const back = await act(con, { type: 'handback', conversation: conv });
  assert.equal(back.type, 'ack');
  const handback = await pat.next((f) => f.role === 'system' && f.type === 'handback');
  assert.match(handback.text, /assistant/);
  await con.next((f) => f.type === 'queue' && f.removed === conv);

  const again = await pat.ask('what are your opening hours?');
  assert.equal(again.reply.type, 'answer', JSON.stringify(again.reply));

  // A reload: the history has the staff message and system events, never the note.
  const [, resumed] = await patient({ hello: { token: pw.token } });
  const kinds = resumed.history.map((e) => `${e.role}:${e.type}`);
  assert.ok(kinds.includes('staff:message') && kinds.includes('system:claimed') && kinds.includes('system:handback'), kinds.join());
  assert.ok(!kinds.includes('staff:note'), 'no note in the patient history');
});

test('two staff race to claim one chat: exactly one wins, the other is told who has it', async () => {
  const [maria] = await console_('maria');
  const [ben] = await console_('ben');
  const [pat, pw] = await patient();
  await pat.ask('I want to speak to someone');
  await queueItem(maria, pw.conversation);
  await queueItem(ben, pw.conversation);
  const [a, b] = await Promise.all([
    act(maria, { type: 'claim', conversation: pw.conversation }),
    act(ben, { type: 'claim', conversation: pw.conversation }),
  ]);
  const types = [a.type, b.type].sort();
  assert.deepEqual(types, ['ack', 'error']);
  const loser = a.type === 'error' ? a : b;
  assert.equal(loser.code, 'already_claimed');
  const winnerName = a.type === 'ack' ? 'Maria' : 'Ben';
  assert.match(loser.message, new RegExp(winnerName));
  // The loser cannot reply or hand back; the patient sees one "joined" only.
  const loserCon = a.type === 'error' ? maria : ben;
  const r = await act(loserCon, { type: 'reply', conversation: pw.conversation, text: 'hello?' });
  assert.deepEqual([r.type, r.code], ['error', 'not_owner']);
  const h = await act(loserCon, { type: 'handback', conversation: pw.conversation });
  assert.deepEqual([h.type, h.code], ['error', 'not_owner']);
  await pat.sync();
  assert.equal(pat.frames.filter((f) => f.type === 'claimed').length, 1);
});

test('transfer to another staff member, then resolve; replying to a resolved chat is refused', async () => {
  const [maria] = await console_('maria');
  const [ben] = await console_('ben');
  const [pat, pw] = await patient();
  const conv = pw.conversation;
  await pat.ask('please connect me with the front desk staff');
  await queueItem(maria, conv);
  assert.equal((await act(maria, { type: 'claim', conversation: conv })).type, 'ack');
  const bad = await act(maria, { type: 'transfer', conversation: conv, to: 'nobody' });
  assert.equal(bad.code, 'no_such_user');
  assert.equal((await act(maria, { type: 'transfer', conversation: conv, to: 'ben' })).type, 'ack');
  const moved = await pat.next((f) => f.type === 'transferred');
  assert.match(moved.text, /Ben/);
  assert.equal((await queueItem(ben, conv, (i) => i.owner && i.owner.name === 'ben')).item.status, 'owned');
  const r = await act(maria, { type: 'reply', conversation: conv, text: 'still me?' });
  assert.equal(r.code, 'not_owner');
  assert.equal((await act(ben, { type: 'reply', conversation: conv, text: 'Ben here.' })).type, 'ack');
  assert.equal((await act(ben, { type: 'resolve', conversation: conv })).type, 'ack');
  await pat.next((f) => f.type === 'resolved');
  const late = await act(ben, { type: 'reply', conversation: conv, text: 'one more thing' });
  assert.deepEqual([late.type, late.code], ['error', 'resolved']);
  // The patient writes again: back with the bot, which answers.
  const again = await pat.ask('where do I park?');
  assert.equal(again.reply.type, 'answer', JSON.stringify(again.reply));
});

test('queue order: emergencies on top; waiting patients are told their place as it changes', async () => {
  const [con] = await console_('maria');
  const [p1, w1] = await patient();
  await p1.ask('can i talk to a human');
  const [p2, w2] = await patient();
  await p2.ask('can i talk to a human');
  const second = await p2.next('queue');
  assert.ok(second.position >= 2, JSON.stringify(second));
  const [p3, w3] = await patient();
  const em = await p3.ask("I have crushing chest pain and can't breathe");
  assert.equal(em.reply.type, 'emergency');
  const it = (await queueItem(con, w3.conversation)).item;
  assert.equal(it.emergency, true);
  const res = await fetchQueue(con);
  assert.equal(res[0].conversation, w3.conversation, 'the emergency is first');
  // The emergency jumped the line: p2 moved back by one; claiming it moves p2 up again. The
  // patients a move pushed around are told within two seconds (at most once a second), so wait
  // for the place rather than for a round trip.
  const back = await p2.next((f) => f.type === 'queue' && f.position === second.position + 1);
  assert.equal(back.position, second.position + 1, 'an emergency goes ahead of everyone waiting');
  assert.equal((await act(con, { type: 'claim', conversation: w3.conversation })).type, 'ack');
  const up = await p2.next((f) => f.type === 'queue' && f.position === second.position);
  assert.equal(up.position, second.position, 'a claimed chat leaves the line');
  for (const w of [w1, w2, w3]) await act(con, { type: 'resolve', conversation: w.conversation });
});

async function fetchQueue(con) {
  await con.send({ type: 'hello' });
  const w = await con.next('welcome');
  return w.queue;
}

test('while a chat waits the bot still answers what it knows (the chat stays queued); an emergency jumps the queue', async () => {
  const [con] = await console_('maria');
  const [pat, pw] = await patient();
  await pat.ask('i need to talk to a person');
  await queueItem(con, pw.conversation);
  const known = await pat.ask('how much is a flu shot');
  assert.equal(known.reply.type, 'answer');
  const unsure = await pat.ask('what is the capital of france');
  assert.equal(unsure.reply.type, 'handoff');
  assert.match(unsure.reply.text, /added that to your conversation/);
  const item = (await queueItem(con, pw.conversation, (i) => i.questions.includes('what is the capital of france'))).item;
  assert.equal(item.status, 'waiting', 'still in the queue');
  const em = await pat.ask('my son took a whole bottle of pills');
  assert.equal(em.reply.type, 'emergency');
  assert.equal((await queueItem(con, pw.conversation, (i) => i.emergency)).item.reason, 'emergency');
  // Owned: the bot is silent, but an emergency still gets the instructions.
  assert.equal((await act(con, { type: 'claim', conversation: pw.conversation })).type, 'ack');
  const em2 = await pat.ask('I want to kill myself');
  assert.equal(em2.reply.type, 'emergency');
  await act(con, { type: 'resolve', conversation: pw.conversation });
});

test('reconnects replay exactly what was missed, by event id, nothing twice (patient and staff)', async () => {
  const [con, , session] = await console_('maria');
  const [pat, pw] = await patient();
  const conv = pw.conversation;
  await pat.ask('talk to staff please');
  await queueItem(con, conv);
  assert.equal((await act(con, { type: 'claim', conversation: conv })).type, 'ack');
  await pat.next((f) => f.type === 'claimed');
  const lastSeen = Math.max(...pat.frames.filter((f) => Number.isInteger(f.id)).map((f) => f.id));
  await pat.close();

  // While the patient is away, two replies.
  const r1 = await act(con, { type: 'reply', conversation: conv, text: 'first while away' });
  const r2 = await act(con, { type: 'reply', conversation: conv, text: 'second while away' });
  const [pat2, again] = await patient({ hello: { token: pw.token, since: lastSeen } });
  assert.deepEqual(again.history.map((e) => e.id), [r1.id, r2.id]);
  assert.equal(again.status, 'owned');

  // The console drops; the patient writes twice; the console comes back with since.
  const staffLast = Math.max(...con.frames.filter((f) => f.type === 'event').map((f) => f.event.id).concat([r2.id]));
  await con.close();
  const m1 = await pat2.ask('are you there?').catch(() => null);
  await pat2.send({ type: 'message', text: 'hello??', client_id: 'h2' });
  const m2 = await pat2.next((f) => f.type === 'ack' && f.client_id === 'h2');
  const [con2, welcome] = await openConsole(server, session, { since: staffLast });
  open.push(con2);
  const missedIds = welcome.missed.filter((e) => e.conversation === conv).map((e) => e.id);
  assert.ok(missedIds.includes(m2.id), JSON.stringify(welcome.missed));
  assert.equal(new Set(missedIds).size, missedIds.length, 'nothing twice');
  assert.ok(missedIds.every((id) => id > staffLast), 'nothing already seen');
  void m1;
  await act(con2, { type: 'resolve', conversation: conv });
});

test('staff protocol errors: before hello, unknown conversation, bad JSON, missing fields; the console keeps serving', async () => {
  const session = await login(server, 'ben', PW);
  const { connect } = await import('../lib/chat.mjs');
  const con = await connect(server, { protocol: 'frontdesk-staff', headers: { cookie: session.cookie }, pace: false });
  open.push(con);
  await con.send({ type: 'claim', conversation: 'c_00' });
  assert.equal((await con.next('error')).code, 'no_session');
  await con.send({ type: 'hello' });
  await con.next('welcome');
  for (const [frame, code] of [
    ['not json', 'bad_json'],
    [JSON.stringify({ type: 'claim' }), 'missing_field'],
    [JSON.stringify({ type: 'claim', conversation: 'c_' + '0'.repeat(32) }), 'not_found'],
    [JSON.stringify({ type: 'reply', conversation: 'c_' + '0'.repeat(32), text: 'x' }), 'not_found'],
    [JSON.stringify({ type: 'presence', status: 'sleeping' }), 'missing_field'],
    [JSON.stringify({ type: 'bogus' }), 'unknown_type'],
  ]) {
    await con.sendRaw(frame);
    const err = await con.next('error');
    assert.equal(err.code, code, frame);
  }
  await con.send({ type: 'ping' });
  await con.next('pong');
});
