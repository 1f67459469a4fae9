// The admin JSON API (docs/admin-api.md) against a real server: who may call it, CSRF, entries and
// their revisions (drafts, publish, restore, archive, the stale-edit conflict), what patients get
// after each change (no restart), try-a-question, the unanswered inbox, the append-only audit log,
// users, import/export and the threshold setting.
//
//   node --test tests/integration/admin.test.mjs
//   FRONTDESK_BIN=$PWD/build-asan/frontdesk node --test tests/integration/admin.test.mjs
//
// The tests run in order on one server and build on each other's data (ids are distinct).
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startServer } from '../lib/server.mjs';
import { openConversation, stopCleanly } from '../lib/chat.mjs';
import { addUser } from '../lib/users.mjs';
import { login, request } from '../lib/staff.mjs';

const PW = 'correct horse battery staple';
const HOURS_TEXT = 'Both locations are open Monday to Friday, 8:00 am to 6:00 pm (Central Time). Our Downtown ' +
  'office stays open until 7:00 pm on Tuesdays and Thursdays. Call us at (555) 010-2400 or book in the portal.';

let server;
let dir;   // the server's directory (kept across the restart in the last test)
let ada;   // admin
let bea;   // a second admin
let sam;   // staff

before(async () => {
  server = await startServer();
  dir = server.dir;
  await addUser(server.db, 'ada', 'admin', PW, 'Ada');
  await addUser(server.db, 'bea', 'admin', PW, 'Bea');
  await addUser(server.db, 'sam', 'staff', PW, 'Sam');
  ada = await login(server, 'ada', PW);
  bea = await login(server, 'bea', PW);
  sam = await login(server, 'sam', PW);
});

after(async () => {
  try {
    await stopCleanly(server);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// A request as an admin session (ada unless `as` says otherwise), with its CSRF token.
function adm(method, path, body, { as = ada, ...opts } = {}) {
  return request(server, method, path, { cookie: as.cookie, csrf: as.csrf, body, ...opts });
}

// What a patient gets for one question, in a conversation of their own.
async function patientAsks(text) {
  const [chat] = await openConversation(server);
  try {
    const res = await chat.ask(text);
    assert.ok(!res.error, `the question was refused: ${JSON.stringify(res.error)}`);
    return res.reply;
  } finally {
    await chat.close();
  }
}

async function getEntry(id) {
  const res = await adm('GET', '/api/admin/entries/' + id);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

function isError(res, status, code, what) {
  assert.equal(res.status, status, `${what}: ${res.status} ${res.text}`);
  if (code) assert.equal(res.json && res.json.error, code, `${what}: ${res.text}`);
  if (res.json) assert.equal(typeof res.json.message, 'string', `${what}: an error has a message`);
}

// Every route of docs/admin-api.md, with a harmless body.
const ROUTES = [
  ['GET', '/api/admin/entries'],
  ['POST', '/api/admin/entries', { id: 'nope', question: 'Nope?', answer: 'Nope.', publish: true }],
  ['GET', '/api/admin/entries/hours-weekday'],
  ['PUT', '/api/admin/entries/hours-weekday', { question: 'Q?', answer: 'Hacked.', base_revision: 1, publish: true }],
  ['POST', '/api/admin/entries/hours-weekday/publish', { revision: 1 }],
  ['POST', '/api/admin/entries/hours-weekday/archive', {}],
  ['POST', '/api/admin/try', { text: 'what are your opening hours?' }],
  ['GET', '/api/admin/inbox'],
  ['POST', '/api/admin/inbox/dismiss', { key: 'h0123456789abcdef' }],
  ['GET', '/api/admin/audit'],
  ['GET', '/api/admin/export'],
  ['POST', '/api/admin/import', '{"id":"nope","question":"Nope?","answer":"Nope."}\n'],
  ['GET', '/api/admin/users'],
  ['POST', '/api/admin/users', { name: 'nope', role: 'admin', password: 'a long enough one' }],
  ['POST', '/api/admin/users/ada/disable', {}],
  ['POST', '/api/admin/users/ada/enable', {}],
  ['POST', '/api/admin/users/ada/password', { password: 'a long enough one' }],
  ['GET', '/api/admin/settings'],
  ['PUT', '/api/admin/settings', { threshold: 0.9 }],
];

// ---------------------------------------------------------------------------- who may call it
test('/admin and every admin route: admins only (401 without a session, 403 for staff)', async () => {
  for (const who of [undefined, sam]) {
    const page = await request(server, 'GET', '/admin', { cookie: who && who.cookie });
    assert.equal(page.status, 303, `GET /admin as ${who ? 'staff' : 'nobody'}`);
    assert.equal(page.headers.get('location'), '/login?next=/admin');
  }
  const page = await request(server, 'GET', '/admin', { cookie: ada.cookie });
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /text\/html/);
  assert.match(page.headers.get('content-security-policy'), /script-src 'self'/);
  assert.match(page.text, /<script src="\/admin\.js"/);
  assert.doesNotMatch(page.text, /<script>|style="/, 'no inline script or style');

  for (const [method, path, body] of ROUTES) {
    const none = await request(server, method, path, { body });
    isError(none, 401, 'no_session', `${method} ${path} without a session`);
    const staff = await request(server, method, path, { cookie: sam.cookie, csrf: sam.csrf, body });
    isError(staff, 403, 'forbidden', `${method} ${path} as staff`);
  }
  // none of it went through
  const e = await getEntry('hours-weekday');
  assert.equal(e.entry.revision, 1);
  assert.equal(e.entry.status, 'published');
  assert.equal(e.entry.answer, HOURS_TEXT);
  assert.equal((await adm('GET', '/api/admin/entries/nope')).status, 404);
  assert.equal((await adm('GET', '/api/admin/settings')).json.threshold.toFixed(2), '0.35');
});

test('the page\'s scripts are its own files: the vendored Chart.js and jsdiff, with their licences, no inline code', async () => {
  const page = await request(server, 'GET', '/admin', { cookie: ada.cookie });
  const scripts = [...page.text.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
  assert.deepEqual(scripts, ['<script src="/vendor/diff.min.js" defer>', '<script src="/vendor/chart.umd.js" defer>',
    '<script src="/admin.js" defer>']);
  const chart = await request(server, 'GET', '/vendor/chart.umd.js');
  assert.equal(chart.status, 200);
  assert.match(chart.headers.get('content-type'), /javascript/);
  assert.match(chart.text.slice(0, 3000), /Chart\.js[\s\S]*The MIT License[\s\S]*Permission is hereby granted/);
  assert.ok(!/^\/\/# sourceMappingURL=/m.test(chart.text), 'no comment naming a source map that is not vendored');
  const js = (await request(server, 'GET', '/admin.js')).text;
  const bad = js.match(/\.(?:inner|outer)HTML\s*=|insertAdjacentHTML|\beval\(|new Function\(|setAttribute\(\s*'style'|[{,]\s*style:/);
  assert.equal(bad, null, 'no HTML made from strings, no eval, no style attribute');
});

test('every change needs the X-CSRF-Token and our own Origin (403 csrf); reads do not', async () => {
  for (const [method, path, body] of ROUTES.filter(([m]) => m !== 'GET')) {
    const noToken = await request(server, method, path, { cookie: ada.cookie, body });
    isError(noToken, 403, 'csrf', `${method} ${path} without the token`);
    const wrong = await request(server, method, path, { cookie: ada.cookie, csrf: 'x'.repeat(ada.csrf.length), body });
    isError(wrong, 403, 'csrf', `${method} ${path} with a wrong token`);
    const foreign = await request(server, method, path, { cookie: ada.cookie, csrf: ada.csrf, body,
      origin: 'http://evil.example' });
    isError(foreign, 403, 'csrf', `${method} ${path} from another origin`);
    const noOrigin = await request(server, method, path, { cookie: ada.cookie, csrf: ada.csrf, body, origin: '' });
    isError(noOrigin, 403, 'csrf', `${method} ${path} without an Origin`);
  }
  // the other admin's token is not this session's
  isError(await adm('PUT', '/api/admin/settings', { threshold: 0.9 }, { as: { cookie: ada.cookie, csrf: bea.csrf } }),
    403, 'csrf', 'another session\'s token');
  const e = await getEntry('hours-weekday');
  assert.equal(e.entry.revision, 1, 'nothing was saved');
  assert.equal((await adm('GET', '/api/admin/entries/nope')).status, 404);
  assert.equal((await adm('GET', '/api/admin/settings')).json.threshold.toFixed(2), '0.35');
  assert.equal((await request(server, 'GET', '/api/admin/entries', { cookie: ada.cookie })).status, 200,
    'GET needs no token');
});

// ---------------------------------------------------------------------------- creating entries
test('create: an entry is made once; ids, required fields and sizes are checked', async () => {
  const ok = await adm('POST', '/api/admin/entries', {
    id: 'valet-parking', question: 'Do you have valet parking?', alternates: ['is there a valet'],
    answer: 'No valet, sorry: the garage on 3rd Street is free for patients.', category: 'locations',
    lang: 'en', review_by: '2027-01-31', owner: 'Front desk', publish: false,
  });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.revision, 1);
  assert.equal(ok.json.published, false);
  assert.equal(ok.json.entry.id, 'valet-parking');
  const got = await getEntry('valet-parking');
  assert.equal(got.entry.status, 'draft');
  assert.equal(got.entry.review_by, '2027-01-31');
  assert.equal(got.entry.owner, 'Front desk');
  assert.deepEqual(got.entry.alternates, ['is there a valet']);
  assert.deepEqual(got.revisions.map((r) => [r.revision, r.status, r.author]), [[1, 'draft', 'ada']]);

  const base = { question: 'Anything?', answer: 'Something.', publish: false };
  isError(await adm('POST', '/api/admin/entries', { ...base, id: 'valet-parking' }), 409, 'conflict', 'duplicate id');
  isError(await adm('POST', '/api/admin/entries', { ...base, id: 'hours-weekday' }), 409, 'conflict', 'id of a seeded entry');
  isError(await adm('POST', '/api/admin/entries', { ...base, id: '' }), 400, 'bad_request', 'empty id');
  isError(await adm('POST', '/api/admin/entries', { ...base }), 400, 'bad_request', 'no id');
  isError(await adm('POST', '/api/admin/entries', { ...base, id: 'Has Space' }), 400, 'bad_request', 'bad id');
  isError(await adm('POST', '/api/admin/entries', { ...base, id: 'x'.repeat(129) }), 400, 'bad_request', '129-char id');
  isError(await adm('POST', '/api/admin/entries', { ...base, id: 'no-question', question: ' ' }), 400, 'bad_request', 'blank question');
  isError(await adm('POST', '/api/admin/entries', { id: 'no-answer', question: 'Q?', publish: false }), 400, 'bad_request', 'no answer');
  isError(await adm('POST', '/api/admin/entries', { ...base, id: 'long-q', question: 'q'.repeat(1001) }), 400, 'bad_request', '1001-byte question');
  isError(await adm('POST', '/api/admin/entries', { ...base, id: 'many-alts', alternates: Array.from({ length: 51 }, (_, i) => 'alt ' + i) }),
    400, 'bad_request', '51 alternates');
  isError(await adm('POST', '/api/admin/entries', { ...base, id: 'bad-alt', alternates: [42] }), 400, 'bad_request', 'a number as alternate');
  isError(await adm('POST', '/api/admin/entries', { ...base, id: 'bad-date', review_by: 'next week' }), 400, 'bad_request', 'review_by not a date');
  isError(await adm('POST', '/api/admin/entries', { ...base, id: 'bad-lang', lang: 'fr' }), 400, 'bad_request', 'lang fr');
  isError(await adm('POST', '/api/admin/entries', { ...base, id: 'long-answer', answer: 'a'.repeat(30000) }),
    400, 'bad_request', '30,000-character answer');
  isError(await adm('POST', '/api/admin/entries', { ...base, id: 'huge-answer', answer: 'a'.repeat(1024 * 1024) }),
    413, 'too_big', '1 MB answer (over the 64 KiB body limit)');
  for (const id of ['no-question', 'no-answer', 'long-q', 'many-alts', 'bad-alt', 'bad-date', 'bad-lang', 'long-answer', 'huge-answer']) {
    assert.equal((await adm('GET', '/api/admin/entries/' + id)).status, 404, `${id} was not created`);
  }
  // the server is still fine after the oversized body
  assert.equal((await adm('GET', '/api/admin/entries/valet-parking')).status, 200);
});

test('an answer of 8,000 bytes (the documented limit, the importer\'s) is accepted; one more is refused', async () => {
  const res = await adm('POST', '/api/admin/entries', {
    id: 'long-but-allowed', question: 'A long answer?', answer: 'a'.repeat(8000), publish: false,
  });
  assert.equal(res.status, 200, res.text);
  const over = await adm('POST', '/api/admin/entries', {
    id: 'long-and-refused', question: 'A long answer?', answer: 'a'.repeat(8001), publish: false,
  });
  isError(over, 400, 'bad_request', '8,001-byte answer');
  assert.match(over.json.message, /8000/);
});

test('a <script> answer is stored and returned as text, exactly', async () => {
  const answer = '<script>alert("x")</script> Bring your <b>insurance card</b> & photo ID to the "front" desk.';
  const res = await adm('POST', '/api/admin/entries', {
    id: 'script-answer', question: 'What should I bring to the piano recital?', answer, category: 'general', publish: true,
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.entry.answer, answer);
  const got = await adm('GET', '/api/admin/entries/script-answer');
  assert.match(got.headers.get('content-type'), /application\/json/);
  assert.equal(got.json.entry.answer, answer);
  assert.equal(got.json.revisions[0].doc.answer, answer);
  const reply = await patientAsks('What should I bring to the piano recital?');
  assert.equal(reply.type, 'answer');
  assert.equal(reply.entry, 'script-answer');
  assert.equal(reply.text, answer, 'the patient gets the characters as written');
  const exp = await adm('GET', '/api/admin/export');
  const line = exp.text.split('\n').find((l) => l.includes('"script-answer"'));
  assert.equal(JSON.parse(line).answer, answer);
});

// ---------------------------------------------------------------------------- drafts and publishing
test('a draft never reaches a patient; publishing reaches the next question without a restart', async () => {
  const q = 'Do you sell gift cards?';
  const text = 'Yes: gift cards from $25 at either front desk, for any visit or service.';
  const created = await adm('POST', '/api/admin/entries', {
    id: 'gift-cards', question: q, alternates: ['can I buy a gift card', 'gift certificates'], answer: text,
    category: 'billing', lang: 'en', publish: false,
  });
  assert.equal(created.status, 200, created.text);
  const drafts = await adm('GET', '/api/admin/entries?status=draft');
  assert.ok(drafts.json.entries.some((e) => e.id === 'gift-cards' && e.status === 'draft'));
  const published = await adm('GET', '/api/admin/entries?status=published');
  assert.ok(!published.json.entries.some((e) => e.id === 'gift-cards'));

  let reply = await patientAsks(q);
  assert.notEqual(reply.entry, 'gift-cards', 'a draft is never an answer');
  assert.ok(!reply.text.includes('gift cards from $25'), reply.text);
  const tried = await adm('POST', '/api/admin/try', { text: q });
  assert.notEqual(tried.json.entry, 'gift-cards');
  assert.ok(!tried.json.matches.some((m) => m.entry === 'gift-cards'), 'the engine does not know the draft');
  assert.ok(!(await adm('GET', '/api/admin/export')).text.includes('"gift-cards"'), 'drafts are not exported');

  const pub = await adm('PUT', '/api/admin/entries/gift-cards', {
    question: q, alternates: ['can I buy a gift card', 'gift certificates'], answer: text, category: 'billing',
    lang: 'en', base_revision: 1, publish: true,
  });
  assert.equal(pub.status, 200, pub.text);
  assert.equal(pub.json.revision, 2);
  assert.equal(pub.json.published, true);
  reply = await patientAsks(q);
  assert.equal(reply.type, 'answer');
  assert.equal(reply.entry, 'gift-cards');
  assert.equal(reply.text, text);
  reply = await patientAsks('can I buy a gift card');
  assert.equal(reply.entry, 'gift-cards', 'alternates are live too');

  // a draft of a published entry: patients keep the published text
  const draft = await adm('PUT', '/api/admin/entries/gift-cards', {
    question: q, alternates: ['can I buy a gift card'], answer: 'DRAFT: gift cards are sold out.', category: 'billing',
    base_revision: 2, publish: false,
  });
  assert.equal(draft.status, 200, draft.text);
  assert.equal(draft.json.revision, 3);
  assert.equal(draft.json.published, false);
  const listed = (await adm('GET', '/api/admin/entries?q=gift')).json.entries.find((e) => e.id === 'gift-cards');
  assert.equal(listed.status, 'published');
  assert.equal(listed.revision, 2);
  assert.equal(listed.draft, 3, 'the list says there is a newer draft');
  const got = await getEntry('gift-cards');
  assert.equal(got.entry.answer, text);
  assert.deepEqual(got.revisions.map((r) => [r.revision, r.status]), [[3, 'draft'], [2, 'published'], [1, 'draft']]);
  assert.equal(got.revisions[0].doc.answer, 'DRAFT: gift cards are sold out.');
  reply = await patientAsks(q);
  assert.equal(reply.text, text, 'still the published text');

  // publishing that draft revision makes it live
  const p3 = await adm('POST', '/api/admin/entries/gift-cards/publish', { revision: 3 });
  assert.equal(p3.status, 200, p3.text);
  assert.equal(p3.json.revision, 4);
  reply = await patientAsks(q);
  assert.equal(reply.text, 'DRAFT: gift cards are sold out.');
});

test('two edits from the same revision: the second is refused (409) and nothing is half-saved', async () => {
  const before = await getEntry('hours-weekday');
  const base = before.revisions[0].revision;
  const doc = { question: before.entry.question, alternates: before.entry.alternates, category: 'hours', lang: 'en' };
  const first = await adm('PUT', '/api/admin/entries/hours-weekday',
    { ...doc, answer: 'FIRST: open 8 to 6, Monday to Friday.', base_revision: base, publish: true });
  assert.equal(first.status, 200, first.text);
  const second = await adm('PUT', '/api/admin/entries/hours-weekday',
    { ...doc, question: 'SECOND question?', answer: 'SECOND: open 9 to 5.', base_revision: base, publish: true },
    { as: bea });
  isError(second, 409, 'conflict', 'the stale edit');
  assert.match(second.json.message, /changed since you opened it/);
  const noBase = await adm('PUT', '/api/admin/entries/hours-weekday',
    { ...doc, answer: 'NO BASE.', publish: true }, { as: bea });
  isError(noBase, 409, 'conflict', 'an edit without base_revision');

  const after = await getEntry('hours-weekday');
  assert.equal(after.entry.answer, 'FIRST: open 8 to 6, Monday to Friday.');
  assert.equal(after.entry.question, before.entry.question);
  assert.equal(after.revisions.length, before.revisions.length + 1, 'one new revision, the first edit');
  assert.ok(!after.revisions.some((r) => /SECOND|NO BASE/.test(JSON.stringify(r.doc))));
  assert.equal(after.revisions[0].author, 'ada');
  const reply = await patientAsks('what are your opening hours?');
  assert.equal(reply.entry, 'hours-weekday');
  assert.equal(reply.text, 'FIRST: open 8 to 6, Monday to Friday.');

  isError(await adm('PUT', '/api/admin/entries/no-such-entry', { ...doc, answer: 'x', base_revision: 1, publish: true }),
    404, 'not_found', 'PUT of an unknown entry');
  isError(await adm('GET', '/api/admin/entries/no-such-entry'), 404, 'not_found', 'GET of an unknown entry');
});

test('malformed JSON is 400 bad_json, and changes nothing', async () => {
  // (an empty POST body has its own test below)
  const bodies = ['{"id": "broken", "question": ', 'not json at all', '[1, 2, 3]', '"a string"'];
  const routes = [
    ['POST', '/api/admin/entries'], ['PUT', '/api/admin/entries/hours-weekday'],
    ['POST', '/api/admin/entries/hours-weekday/publish'], ['POST', '/api/admin/try'],
    ['POST', '/api/admin/inbox/dismiss'], ['POST', '/api/admin/users'], ['POST', '/api/admin/users/sam/password'],
    ['PUT', '/api/admin/settings'],
  ];
  const before = await getEntry('hours-weekday');
  for (const [method, path] of routes) {
    for (const body of method === 'PUT' ? [...bodies, ''] : bodies) {
      const res = await adm(method, path, body, { headers: { 'content-type': 'application/json' } });
      isError(res, 400, 'bad_json', `${method} ${path} with ${JSON.stringify(body)}`);
    }
  }
  const after = await getEntry('hours-weekday');
  assert.equal(after.revisions.length, before.revisions.length);
  assert.equal((await adm('GET', '/api/admin/entries/broken')).status, 404);
  isError(await adm('POST', '/api/admin/entries/hours-weekday/publish', { revision: '1' }), 400, 'missing_field', 'revision as a string');
});

test('a POST with an empty body (Content-Length: 0) gets its answer', async () => {
  // what fetch(url, {method: 'POST'}) sends from a browser: no body, Content-Length: 0
  const tried = await adm('POST', '/api/admin/try', '');
  isError(tried, 400, 'bad_json', 'try with an empty body');
  const archived = await adm('POST', '/api/admin/entries/hours-lab/archive', '');
  assert.equal(archived.status, 200, archived.text);
  assert.equal(archived.json.status, 'archived');
  const back = await adm('POST', '/api/admin/entries/hours-lab/publish', { revision: 1 });
  assert.equal(back.status, 200, back.text);
});

test('publishing an old revision restores its text (as a new revision)', async () => {
  const before = await getEntry('hours-weekday');
  assert.notEqual(before.entry.answer, HOURS_TEXT);
  const res = await adm('POST', '/api/admin/entries/hours-weekday/publish', { revision: 1 });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.revision, before.revisions[0].revision + 1);
  assert.equal(res.json.entry.answer, HOURS_TEXT);
  const after = await getEntry('hours-weekday');
  assert.equal(after.entry.answer, HOURS_TEXT);
  assert.equal(after.entry.revision, res.json.revision);
  assert.equal(after.revisions[0].status, 'published');
  assert.equal(after.revisions[0].doc.answer, HOURS_TEXT);
  assert.equal(after.revisions.length, before.revisions.length + 1, 'history is kept, not rewritten');
  const reply = await patientAsks('what are your opening hours?');
  assert.equal(reply.text, HOURS_TEXT);
  isError(await adm('POST', '/api/admin/entries/hours-weekday/publish', { revision: 999 }), 404, 'not_found', 'no such revision');
  isError(await adm('POST', '/api/admin/entries/no-such-entry/publish', { revision: 1 }), 404, 'not_found', 'no such entry');
});

test('archive: patients no longer get the entry; publishing brings it back', async () => {
  const res = await adm('POST', '/api/admin/entries/gift-cards/archive', {});
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.status, 'archived');
  const got = await getEntry('gift-cards');
  assert.equal(got.entry.status, 'archived');
  assert.ok((await adm('GET', '/api/admin/entries?status=archived')).json.entries.some((e) => e.id === 'gift-cards'));
  let reply = await patientAsks('Do you sell gift cards?');
  assert.notEqual(reply.entry, 'gift-cards');
  assert.ok(!reply.text.includes('gift cards'), reply.text);
  assert.ok(!(await adm('POST', '/api/admin/try', { text: 'Do you sell gift cards?' })).json.matches
    .some((m) => m.entry === 'gift-cards'));
  assert.ok(!(await adm('GET', '/api/admin/export')).text.includes('"gift-cards"'), 'archived entries are not exported');
  isError(await adm('POST', '/api/admin/entries/gift-cards/archive', {}), 404, 'not_found', 'archiving twice');
  isError(await adm('POST', '/api/admin/entries/no-such-entry/archive', {}), 404, 'not_found', 'archiving an unknown entry');

  const back = await adm('PUT', '/api/admin/entries/gift-cards', {
    question: 'Do you sell gift cards?', answer: 'Yes, from $25.', category: 'billing',
    base_revision: got.revisions[0].revision, publish: true,
  });
  assert.equal(back.status, 200, back.text);
  assert.equal((await getEntry('gift-cards')).entry.status, 'published');
  reply = await patientAsks('Do you sell gift cards?');
  assert.equal(reply.entry, 'gift-cards');
  assert.equal(reply.text, 'Yes, from $25.');
});

// ---------------------------------------------------------------------------- try a question
test('try a question: the decision, confidence vs threshold, the answer, the top matches and why', async () => {
  const known = await adm('POST', '/api/admin/try', { text: 'what are your opening hours?' });
  assert.equal(known.status, 200, known.text);
  const k = known.json;
  assert.equal(k.decision, 'answer');
  assert.equal(k.entry, 'hours-weekday');
  assert.equal(k.text, HOURS_TEXT);
  assert.ok(k.confidence >= k.threshold, `${k.confidence} >= ${k.threshold}`);
  assert.equal(k.threshold.toFixed(2), '0.35');
  assert.ok(Array.isArray(k.matches) && k.matches.length >= 2);
  assert.equal(k.matches[0].entry, 'hours-weekday');
  // the order is re-ranked (engine.h); the answer's own match clears the threshold, and no
  // match scores over the confidence (the best score)
  assert.ok(k.matches[0].score >= k.threshold, 'the answer clears the threshold itself');
  for (const m of k.matches) assert.ok(m.score <= k.confidence + 1e-9, 'none over the confidence');
  for (const m of k.matches) assert.deepEqual(Object.keys(m).sort(), ['entry', 'question', 'score']);
  assert.match(k.why, /threshold/);

  const unknown = (await adm('POST', '/api/admin/try', { text: 'Is there a grand piano in the lobby?' })).json;
  assert.equal(unknown.decision, 'handoff');
  assert.equal(unknown.reason, 'low_confidence');
  assert.ok(unknown.confidence < unknown.threshold);
  assert.equal(unknown.text, '');
  assert.match(unknown.why, /below the threshold/);

  const emergency = (await adm('POST', '/api/admin/try', { text: 'I have crushing chest pain and can\'t breathe' })).json;
  assert.equal(emergency.decision, 'emergency');
});

// On a server of its own: the sanitizer build reports leaks when the server exits.
test('try without a text: 400, and nothing leaks (the sanitizer build checks at exit)', async () => {
  const own = await startServer();
  try {
    await addUser(own.db, 'ada', 'admin', PW, 'Ada');
    const s = await login(own, 'ada', PW);
    for (const body of [{}, { text: '' }, { text: 42 }]) {
      const res = await request(own, 'POST', '/api/admin/try', { cookie: s.cookie, csrf: s.csrf, body });
      isError(res, 400, 'bad_request', `try with ${JSON.stringify(body)}`);
    }
  } finally {
    await stopCleanly(own);
  }
});

// ---------------------------------------------------------------------------- the unanswered inbox
test('inbox: an unknown question shows up, grouped across word order and case; dismiss hides it', async () => {
  const r1 = await patientAsks('Is there a grand piano in the lobby?');
  assert.equal(r1.type, 'handoff');
  const r2 = await patientAsks('GRAND PIANO in the LOBBY: is there?');
  assert.equal(r2.type, 'handoff');
  const inbox = await adm('GET', '/api/admin/inbox');
  assert.equal(inbox.status, 200, inbox.text);
  const item = inbox.json.items.find((i) => /piano/i.test(i.text));
  assert.ok(item, `the question is in the inbox: ${inbox.text}`);
  assert.equal(item.kind, 'handoff');
  assert.equal(item.count, 2, 'both wordings in one group');
  assert.equal(item.text, 'GRAND PIANO in the LOBBY: is there?', 'the latest wording');
  assert.match(item.key, /^h[0-9a-f]{16}$/);
  assert.equal(typeof item.last_at_ms, 'number');
  assert.equal(item.entry ?? null, null);
  const counts = inbox.json.items.map((i) => i.count);
  assert.deepEqual(counts, [...counts].sort((a, b) => b - a), 'most frequent first');
  assert.ok(inbox.json.items.some((i) => /gift cards/i.test(i.text)), 'the gift-card question asked while it was a draft');
  assert.ok((await adm('GET', '/api/admin/inbox?days=1')).json.items.some((i) => i.key === item.key));

  const dis = await adm('POST', '/api/admin/inbox/dismiss', { key: item.key });
  assert.equal(dis.status, 200, dis.text);
  assert.ok(!(await adm('GET', '/api/admin/inbox')).json.items.some((i) => i.key === item.key), 'dismissed');
  assert.equal((await adm('POST', '/api/admin/inbox/dismiss', { key: item.key })).status, 200, 'dismissing twice is fine');
  isError(await adm('POST', '/api/admin/inbox/dismiss', { key: 'not-a-key' }), 400, 'bad_request', 'a bad key');
  isError(await adm('POST', '/api/admin/inbox/dismiss', {}), 400, 'bad_request', 'no key');
});

test('inbox: a thumbs-down on an answer shows up as kind unhelpful, with the entry', async () => {
  const [chat] = await openConversation(server);
  try {
    const { reply } = await chat.ask('how do I get my lab results?');
    assert.equal(reply.type, 'answer');
    await chat.send({ type: 'feedback', message: reply.id, helpful: false });
    await chat.next('feedback_ok');
    const items = (await adm('GET', '/api/admin/inbox')).json.items;
    const item = items.find((i) => i.kind === 'unhelpful' && i.text === 'how do I get my lab results?');
    assert.ok(item, JSON.stringify(items));
    assert.equal(item.entry, reply.entry);
    assert.equal(item.count, 1);
    assert.match(item.key, /^u[0-9a-f]{16}$/);
  } finally {
    await chat.close();
  }
});

// ---------------------------------------------------------------------------- users
test('users: add, list, disable (ends sessions), enable, reset the password', async () => {
  const add = await adm('POST', '/api/admin/users', { name: 'carl', display: 'Carl', role: 'staff', password: PW });
  assert.equal(add.status, 200, add.text);
  let users = (await adm('GET', '/api/admin/users')).json.users;
  const carl = users.find((u) => u.name === 'carl');
  assert.deepEqual([carl.display, carl.role, carl.disabled], ['Carl', 'staff', false]);
  assert.ok(!JSON.stringify(users).includes('argon2'), 'no hashes in the list');
  const session = await login(server, 'carl', PW);
  assert.equal(session.user.role, 'staff');

  isError(await adm('POST', '/api/admin/users', { name: 'carl', role: 'staff', password: PW }), 409, null, 'a taken name');
  isError(await adm('POST', '/api/admin/users', { name: 'dee', role: 'staff', password: 'short' }), 400, null, 'a short password');
  isError(await adm('POST', '/api/admin/users', { name: 'dee', role: 'boss', password: PW }), 400, null, 'an unknown role');
  isError(await adm('POST', '/api/admin/users', { name: 'Dee Dee', role: 'staff', password: PW }), 400, null, 'a bad name');
  isError(await adm('POST', '/api/admin/users', { role: 'staff', password: PW }), 400, null, 'no name');

  const dis = await adm('POST', '/api/admin/users/carl/disable', {});
  assert.equal(dis.status, 200, dis.text);
  assert.equal((await request(server, 'GET', '/api/me', { cookie: session.cookie })).status, 401, 'the session ended');
  assert.equal((await request(server, 'POST', '/api/login', { body: { name: 'carl', password: PW } })).status, 401);
  users = (await adm('GET', '/api/admin/users')).json.users;
  assert.equal(users.find((u) => u.name === 'carl').disabled, true);

  assert.equal((await adm('POST', '/api/admin/users/carl/enable', {})).status, 200);
  const again = await login(server, 'carl', PW);

  const newPw = 'a brand new passphrase';
  isError(await adm('POST', '/api/admin/users/carl/password', { password: 'short' }), 400, null, 'a short new password');
  isError(await adm('POST', '/api/admin/users/carl/password', {}), 400, null, 'no password');
  assert.equal((await adm('POST', '/api/admin/users/carl/password', { password: newPw })).status, 200);
  assert.equal((await request(server, 'GET', '/api/me', { cookie: again.cookie })).status, 401, 'the reset ends sessions');
  assert.equal((await request(server, 'POST', '/api/login', { body: { name: 'carl', password: PW } })).status, 401);
  await login(server, 'carl', newPw);

  isError(await adm('POST', '/api/admin/users/ada/disable', {}), 400, 'bad_request', 'disabling yourself');
  isError(await adm('POST', '/api/admin/users/nobody/disable', {}), 404, 'not_found', 'an unknown user');
  isError(await adm('POST', '/api/admin/users/nobody/password', { password: newPw }), 404, 'not_found', 'an unknown user');
  isError(await adm('POST', '/api/admin/users/carl/promote', {}), 404, 'not_found', 'an unknown action');
  assert.equal((await request(server, 'GET', '/api/me', { cookie: ada.cookie })).status, 200, 'ada is still in');
});

// ---------------------------------------------------------------------------- audit
test('audit: every change with its actor, newest first, paged; no route edits or deletes it', async () => {
  const res = await adm('GET', '/api/admin/audit?limit=500');
  assert.equal(res.status, 200, res.text);
  const events = res.json.events;
  const ids = events.map((e) => e.id);
  assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');
  const has = (actor, action, target) => events.some((e) => e.actor === actor && e.action === action &&
    (target === undefined || e.target === target));
  assert.ok(has('ada', 'entry.draft', 'valet-parking'));
  assert.ok(has('ada', 'entry.publish', 'gift-cards'));
  assert.ok(has('ada', 'entry.publish', 'hours-weekday'));
  assert.ok(has('ada', 'entry.archive', 'gift-cards'));
  assert.ok(has('ada', 'inbox.dismiss'));
  assert.ok(has('ada', 'user.add', 'carl'));
  assert.ok(has('ada', 'user.disable', 'carl'));
  assert.ok(has('ada', 'user.enable', 'carl'));
  assert.ok(has('ada', 'user.password', 'carl'));
  assert.ok(has('bea', 'login'));
  assert.ok(!has('bea', 'entry.publish', 'hours-weekday'), 'the refused edit is not logged as a change');
  const restore = events.find((e) => e.action === 'entry.publish' && e.target === 'hours-weekday' && e.detail === 'revision 1');
  assert.ok(restore, 'the restore names the revision');
  for (const e of events) {
    assert.deepEqual(Object.keys(e).sort().filter((k) => !['target', 'detail', 'peer'].includes(k)), ['action', 'actor', 'at', 'id']);
    assert.match(e.at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  }

  const page1 = (await adm('GET', '/api/admin/audit?limit=3')).json.events;
  assert.deepEqual(page1.map((e) => e.id), ids.slice(0, 3));
  const page2 = (await adm('GET', `/api/admin/audit?limit=3&before=${page1[2].id}`)).json.events;
  assert.deepEqual(page2.map((e) => e.id), ids.slice(3, 6), 'older: the next ones, none twice');

  for (const [method, path] of [['PUT', '/api/admin/audit'], ['DELETE', '/api/admin/audit'], ['POST', '/api/admin/audit'],
    ['PATCH', '/api/admin/audit'], ['DELETE', `/api/admin/audit/${ids[0]}`], ['PUT', `/api/admin/audit/${ids[0]}`],
    ['POST', `/api/admin/audit/${ids[0]}/delete`]]) {
    const r = await adm(method, path, method === 'DELETE' ? undefined : { actor: 'nobody', action: 'forged' });
    assert.ok([404, 405].includes(r.status), `${method} ${path}: ${r.status} ${r.text}`);
  }
  const later = (await adm('GET', '/api/admin/audit?limit=500')).json.events;
  assert.deepEqual(later.filter((e) => ids.includes(e.id)), events, 'every event is still there, unchanged');
  assert.ok(!later.some((e) => e.actor === 'nobody' || e.action === 'forged'));
});

// ---------------------------------------------------------------------------- import / export
test('export then import round-trips; a bad line imports nothing (400 "line N")', async () => {
  const exp = await adm('GET', '/api/admin/export');
  assert.equal(exp.status, 200);
  assert.match(exp.headers.get('content-type'), /application\/x-ndjson/);
  const lines = exp.text.split('\n').filter(Boolean);
  const published = (await adm('GET', '/api/admin/entries?status=published')).json.entries;
  assert.equal(lines.length, published.length, 'one line per published entry');
  const docs = lines.map((l) => JSON.parse(l));
  assert.deepEqual(docs.map((d) => d.id).sort(), published.map((e) => e.id).sort());
  assert.equal(docs.find((d) => d.id === 'hours-weekday').answer, HOURS_TEXT);

  const imp = await adm('POST', '/api/admin/import', exp.text, { headers: { 'content-type': 'application/x-ndjson' } });
  assert.equal(imp.status, 200, imp.text);
  assert.equal(imp.json.imported, lines.length);
  const again = await adm('GET', '/api/admin/export');
  assert.deepEqual(again.text.split('\n').filter(Boolean).sort(), [...lines].sort(), 'the same knowledge base');
  assert.equal((await patientAsks('what are your opening hours?')).text, HOURS_TEXT);

  // an import adds and replaces, published at once
  const fresh = { id: 'imported-entry', question: 'Do you have a quiet room for autistic patients?',
    answer: 'Yes: ask at the front desk for the quiet room.', category: 'access', lang: 'en' };
  const ok = await adm('POST', '/api/admin/import', JSON.stringify(fresh) + '\n');
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.imported, 1);
  assert.equal((await getEntry('imported-entry')).entry.status, 'published');
  assert.equal((await patientAsks(fresh.question)).entry, 'imported-entry');

  const good = JSON.stringify({ id: 'never-imported', question: 'Is there a rooftop garden?', answer: 'Yes, on the 5th floor.' });
  const bad = [good, lines[0], '{"id": "broken", "question": ', lines[1]].join('\n') + '\n';
  const r = await adm('POST', '/api/admin/import', bad);
  isError(r, 400, 'bad_request', 'a bad line 3');
  assert.match(r.json.message, /^line 3\b/);
  assert.equal((await adm('GET', '/api/admin/entries/never-imported')).status, 404, 'nothing was imported');
  const unknownField = [good, JSON.stringify({ ...fresh, id: 'other', colour: 'blue' })].join('\n');
  const r2 = await adm('POST', '/api/admin/import', unknownField);
  isError(r2, 400, 'bad_request', 'an unknown field on line 2');
  assert.match(r2.json.message, /^line 2\b/);
  assert.equal((await adm('GET', '/api/admin/entries/never-imported')).status, 404);
  isError(await adm('POST', '/api/admin/import', '\n\n'), 400, null, 'only blank lines');
  const after = await adm('GET', '/api/admin/export');
  assert.equal(after.text.split('\n').filter(Boolean).length, lines.length + 1, 'only the good import changed the base');
});

// ---------------------------------------------------------------------------- settings (and a restart)
test('settings: the threshold is set, read back, applied at once and kept across a restart', async () => {
  const get = await adm('GET', '/api/admin/settings');
  assert.equal(get.status, 200);
  assert.equal(get.json.threshold.toFixed(2), '0.35');
  assert.equal(typeof get.json.retention_days, 'number');

  const put = await adm('PUT', '/api/admin/settings', { threshold: 0.6 });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.threshold, 0.6);
  assert.equal((await adm('GET', '/api/admin/settings')).json.threshold.toFixed(3), '0.600');
  assert.equal((await adm('POST', '/api/admin/try', { text: 'what are your opening hours?' })).json.threshold.toFixed(2), '0.60');
  for (const threshold of [0.01, 0.99, '0.5', null, -1]) {
    isError(await adm('PUT', '/api/admin/settings', { threshold }), 400, 'bad_request', `threshold ${threshold}`);
  }
  isError(await adm('PUT', '/api/admin/settings', { threshold: 0.5, retention_days: -1 }), 400, 'bad_request',
    'one bad field of two');
  const none = await adm('PUT', '/api/admin/settings', {});
  assert.equal(none.status, 200, 'nothing to change is fine');
  assert.equal((await adm('GET', '/api/admin/settings')).json.threshold.toFixed(2), '0.60');
  const audit = (await adm('GET', '/api/admin/audit?limit=5')).json.events;
  assert.ok(audit.some((e) => e.action === 'settings.threshold' && e.actor === 'ada' && e.detail === '0.600'));

  // restart on the same database: the setting and every published edit are still there
  await stopCleanly({ stop: () => server.stop({ keepFiles: true }), stderr: server.stderr });
  server = await startServer([], { keepDir: dir });
  ada = await login(server, 'ada', PW);
  assert.equal((await adm('GET', '/api/admin/settings')).json.threshold.toFixed(2), '0.60');
  const gift = await getEntry('gift-cards');
  assert.equal(gift.entry.answer, 'Yes, from $25.');
  assert.equal((await patientAsks('Do you sell gift cards?')).text, 'Yes, from $25.');
  assert.equal((await getEntry('valet-parking')).entry.status, 'draft', 'drafts stay drafts');
});
