// Browser test of the admin page (web/admin.html at /admin) against a real frontdesk server, driven
// by Debian's chromium through playwright-core: an admin edits and publishes, and a patient's widget
// in another browser context gets the new text on its next question; drafts never reach it; an
// unanswered question goes from the inbox to a published entry; stale edits keep the admin's text.
// Then the analytics (Chart.js charts with their numbers as text, the CSV), synonyms, the opening
// hours and patient messages, and answer recall (who got an entry's old text).
//
//   node --test tests/browser/admin.test.mjs
//
// FRONTDESK_BIN picks another server binary (see tests/lib/server.mjs); CHROMIUM the browser.
// Every wait is on something the person would see (a selector, a text), never on a delay.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser } from '../lib/browser.mjs';
import { startServer } from '../lib/server.mjs';
import { addUser } from '../lib/users.mjs';
import { login, request, openConsole, act } from '../lib/staff.mjs';

const PW = 'correct horse battery staple';
const HOURS_TEXT = 'Both locations are open Monday to Friday, 8:00 am to 6:00 pm (Central Time). Our Downtown ' +
  'office stays open until 7:00 pm on Tuesdays and Thursdays. Call us at (555) 010-2400 or book in the portal.';

let server;
let chrome; // launchBrowser(): newPage() and the problems every page met (checked last)

before(async () => {
  server = await startServer();
  await addUser(server.db, 'ada', 'admin', PW, 'Ada');
  await addUser(server.db, 'bea', 'admin', PW, 'Bea');
  chrome = await launchBrowser({ strict: true });
});

after(async () => {
  if (chrome) await chrome.close();
  if (server) await server.stop();
});

const newPage = (options) => chrome.newPage(options);

// ---------------------------------------------------------------- helpers
let admin; // { context, page }: ada, signed in, shared by the tests below

async function signInAdmin(name = 'ada') {
  const p = await newPage();
  await p.page.goto(server.origin + '/admin');
  await p.page.waitForURL(/\/login\?next=(\/|%2F)admin/);
  await p.page.getByLabel('Name').fill(name);
  await p.page.getByLabel('Password').fill(PW);
  await p.page.getByRole('button', { name: 'Sign in' }).click();
  await p.page.waitForURL(/\/admin(#.*)?$/);
  await p.page.locator('#entry-list .entry-item').first().waitFor();
  return p;
}

const section = (page, name) => page.getByRole('navigation', { name: 'Admin sections' }).getByRole('link', { name });
// a field of the entry editor (the list's filters have labels of the same names)
const field = (page, name) => page.locator('#editor').getByRole('textbox', { name, exact: true });
const editorStatus = (page) => page.locator('#editor-status');

async function openEntry(page, id) {
  await section(page, 'Knowledge base').click();
  await page.getByRole('searchbox', { name: 'Search' }).fill(id);
  await page.locator(`#entry-list .entry-item[data-id="${id}"]`).click();
  await page.getByRole('heading', { name: `Edit: ${id}` }).waitFor();
}

// The patient side: the widget on the demo page (an open shadow root; locators pierce it).
// p.conversations collects the conversation ids of the server's welcome frames.
async function openWidget() {
  const p = await newPage();
  p.conversations = [];
  p.page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => {
    try {
      const f = JSON.parse(String(payload));
      if (f.type === 'welcome' && f.conversation) p.conversations.push(f.conversation);
    } catch { /* not JSON */ }
  }));
  await p.page.goto(server.url);
  await p.page.getByRole('button', { name: 'Chat with us' }).click();
  await p.page.getByRole('dialog').waitFor({ state: 'visible' });
  return p;
}

async function patientAsks(page, text) {
  const replies = page.locator('.fd-row[data-reply-to]');
  const before = await replies.count();
  const box = page.getByRole('textbox', { name: 'Your message' });
  await box.fill(text);
  await box.press('Enter');
  const reply = replies.nth(before);
  await reply.waitFor({ state: 'visible' });
  return {
    type: await reply.getAttribute('data-type'),
    entry: await reply.getAttribute('data-entry'),
    text: await reply.locator('.fd-text').textContent(),
  };
}

// ---------------------------------------------------------------- a: edit and publish
let patient; // { context, page }: one patient's widget, kept open across the tests

test('a: an admin edits the hours answer and publishes; the open widget gets it on the next question', async () => {
  // the patient is already chatting, and gets today's text
  patient = await openWidget();
  const first = await patientAsks(patient.page, 'what are your opening hours?');
  assert.deepEqual([first.type, first.entry, first.text], ['answer', 'hours-weekday', HOURS_TEXT]);

  admin = await signInAdmin();
  const { page } = admin;
  assert.equal(await page.locator('#me-name').textContent(), 'Ada');
  assert.equal(await section(page, 'Knowledge base').getAttribute('aria-current'), 'page');
  await openEntry(page, 'hours-weekday');
  const answer = field(page, 'Answer');
  assert.equal(await answer.inputValue(), HOURS_TEXT);
  assert.equal(await field(page, 'ID').getAttribute('readonly'), '', 'the id of a saved entry is fixed');
  const newText = 'We are open Monday to Friday, 7:30 am to 7:00 pm, at both locations. Call (555) 010-2400.';
  await answer.fill(newText);
  await page.getByRole('button', { name: 'Publish', exact: true }).click();
  await editorStatus(page).filter({ hasText: /Published .* as revision 2\. Patients get it from their next question\./ }).waitFor();
  assert.equal(await editorStatus(page).getAttribute('role'), 'status', 'the result is announced');
  await page.locator('#rev-list .rev[data-revision="2"]').filter({ hasText: 'live' }).waitFor();
  assert.match(await page.locator('#rev-list .rev[data-revision="2"]').textContent(), /by ada/);

  // the same widget, no reload: the next question gets the new text
  const second = await patientAsks(patient.page, 'what are your opening hours?');
  assert.deepEqual([second.type, second.entry, second.text], ['answer', 'hours-weekday', newText]);
});

// ---------------------------------------------------------------- b: drafts
test('b: a draft does not reach the widget (an edit of a live entry, or a new entry)', async () => {
  const { page } = admin;
  const live = await field(page, 'Answer').inputValue();
  await field(page, 'Answer').fill('DRAFT: we are closing for renovation.');
  await page.getByRole('button', { name: 'Save draft' }).click();
  await editorStatus(page).filter({ hasText: 'Draft saved as revision 3. Patients still get revision 2.' }).waitFor();
  assert.match(await page.locator('#editor-state').textContent(), /unpublished draft, revision 3/);
  // the editor keeps showing the draft to work on
  assert.equal(await field(page, 'Answer').inputValue(), 'DRAFT: we are closing for renovation.');
  let reply = await patientAsks(patient.page, 'what are your opening hours?');
  assert.equal(reply.text, live, 'the patient still gets the published text');

  // a brand-new entry saved as a draft
  await page.getByRole('button', { name: 'New entry' }).click();
  await page.getByRole('heading', { name: 'New entry' }).waitFor();
  await field(page, 'ID').fill('gift-cards');
  await field(page, 'Question').fill('Do you sell gift cards?');
  await field(page, 'Other ways to ask (one per line)').fill('can I buy a gift card\ngift certificates');
  await field(page, 'Answer').fill('Yes: gift cards from $25 at either front desk.');
  await page.locator('#editor').getByRole('combobox', { name: 'Category' }).fill('billing');
  await page.getByRole('button', { name: 'Save draft' }).click();
  await editorStatus(page).filter({ hasText: 'Draft saved as revision 1. Patients don’t get it until you publish.' }).waitFor();
  await page.getByRole('heading', { name: 'Edit: gift-cards' }).waitFor();
  await page.getByRole('searchbox', { name: 'Search' }).fill('gift');
  await page.locator('#entry-list .entry-item[data-id="gift-cards"]').filter({ hasText: 'Draft' }).waitFor();
  await page.getByLabel('Status').selectOption('draft');
  await page.locator('#entries-count').filter({ hasText: '1 entry matches' }).waitFor();
  await page.getByLabel('Status').selectOption('');
  reply = await patientAsks(patient.page, 'Do you sell gift cards?');
  assert.notEqual(reply.entry, 'gift-cards');
  assert.ok(!reply.text.includes('$25'), reply.text);

  // missing fields are marked, announced, and nothing is sent
  await page.getByRole('button', { name: 'New entry' }).click();
  await page.getByRole('button', { name: 'Publish', exact: true }).click();
  await page.locator('#editor-error').filter({ hasText: 'Not saved: 3 fields need a fix.' }).waitFor();
  assert.equal(await field(page, 'ID').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'e-id', 'focus on the first field to fix');
});

// ---------------------------------------------------------------- c: inbox to entry
test('c: an unanswered question shows in the inbox, becomes an entry, and the patient gets the answer', async () => {
  const q = 'Is there a piano in the lobby?';
  const before = await patientAsks(patient.page, q);
  assert.equal(before.type, 'handoff');

  const { page } = admin;
  await section(page, 'Unanswered').click();
  await page.getByRole('heading', { name: 'Unanswered questions' }).waitFor();
  const item = page.locator('#inbox-list .inbox-item').filter({ hasText: q });
  await item.waitFor();
  assert.match(await item.textContent(), /Handed to staff/);
  assert.match(await item.textContent(), /asked once/);
  await item.getByRole('button', { name: 'Make a draft entry' }).click();

  await page.getByRole('heading', { name: 'New entry' }).waitFor();
  assert.equal(await field(page, 'Question').inputValue(), q);
  assert.equal(await field(page, 'ID').inputValue(), 'piano-lobby', 'an id suggested from the words');
  assert.equal(await field(page, 'Answer').inputValue(), '');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'e-answer', 'ready to write the answer');
  const answer = 'Yes: a grand piano in the Downtown lobby. Patients are welcome to play it quietly.';
  await field(page, 'Answer').fill(answer);
  await page.getByRole('button', { name: 'Publish', exact: true }).click();
  await editorStatus(page).filter({ hasText: 'The question is off the unanswered list.' }).waitFor();
  await page.getByRole('heading', { name: 'Edit: piano-lobby' }).waitFor();

  const after = await patientAsks(patient.page, q);
  assert.deepEqual([after.type, after.entry, after.text], ['answer', 'piano-lobby', answer]);

  await section(page, 'Unanswered').click();
  await page.locator('#inbox-status').filter({ hasText: /to look at|Nothing unanswered/ }).waitFor();
  assert.equal(await page.locator('#inbox-list .inbox-item').filter({ hasText: q }).count(), 0, 'off the inbox');
});

test('c2: "Add as alternate of…" adds the question to an entry; once published the patient gets that entry', async () => {
  const q = 'is the Steinway tuned';
  const before = await patientAsks(patient.page, q);
  assert.equal(before.type, 'handoff', JSON.stringify(before));

  const { page } = admin;
  await section(page, 'Unanswered').click();
  await page.getByRole('button', { name: 'Refresh' }).click();
  const item = page.locator('#inbox-list .inbox-item').filter({ hasText: q });
  await item.waitFor();
  const add = item.getByRole('button', { name: 'Add as alternate of…' });
  await add.click();
  assert.equal(await add.getAttribute('aria-expanded'), 'true');
  const picker = item.getByRole('combobox', { name: 'Add as another way to ask of' });
  await picker.selectOption('piano-lobby');
  await item.getByRole('button', { name: 'Open it with this question added' }).click();

  await page.getByRole('heading', { name: 'Edit: piano-lobby' }).waitFor();
  const alts = (await field(page, 'Other ways to ask (one per line)').inputValue()).split('\n');
  assert.equal(alts.at(-1), q);
  await page.locator('#editor-notice').filter({ hasText: 'as another way to ask' }).waitFor();
  await page.getByRole('button', { name: 'Publish', exact: true }).click();
  await editorStatus(page).filter({ hasText: 'Published' }).waitFor();

  const after = await patientAsks(patient.page, q);
  assert.deepEqual([after.type, after.entry], ['answer', 'piano-lobby']);
});

// ---------------------------------------------------------------- d: stale edit
test('d: a stale edit is refused with a clear message and the admin\'s text is kept', async () => {
  const { page } = admin;
  await openEntry(page, 'gift-cards');
  const mine = 'MY EDIT: gift cards from $30, sold at both front desks and online.';
  await field(page, 'Answer').fill(mine);

  // meanwhile another admin saves the same entry
  const bea = await login(server, 'bea', PW);
  const cur = (await request(server, 'GET', '/api/admin/entries/gift-cards', { cookie: bea.cookie })).json;
  const theirs = await request(server, 'PUT', '/api/admin/entries/gift-cards', {
    cookie: bea.cookie, csrf: bea.csrf,
    body: { question: 'Do you sell gift cards?', answer: 'THEIR EDIT: gift cards are $20.', category: 'billing',
      base_revision: cur.revisions[0].revision, publish: true },
  });
  assert.equal(theirs.status, 200, theirs.text);

  await page.getByRole('button', { name: 'Publish', exact: true }).click();
  const conflict = page.getByRole('alert').filter({ hasText: 'changed by someone else since you opened it: reload' });
  await conflict.waitFor();
  assert.equal(await field(page, 'Answer').inputValue(), mine, 'nothing the admin typed is lost');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Reload the entry');

  await page.getByRole('button', { name: 'Reload the entry' }).click();
  await page.getByRole('heading', { name: 'Your unsaved edit' }).waitFor();
  assert.equal(await field(page, 'Answer').inputValue(), 'THEIR EDIT: gift cards are $20.', 'the latest version');
  assert.match(await page.locator('#unsaved-doc').textContent(), /MY EDIT: gift cards from \$30/, 'and mine beside it');
  await page.getByRole('button', { name: 'Put my text back in the form' }).click();
  assert.equal(await field(page, 'Answer').inputValue(), mine);
  await page.getByRole('button', { name: 'Publish', exact: true }).click();
  await editorStatus(page).filter({ hasText: 'Published' }).waitFor();
  const got = (await request(server, 'GET', '/api/admin/entries/gift-cards', { cookie: bea.cookie })).json;
  assert.equal(got.entry.answer, mine);
  assert.equal(got.revisions[0].author, 'ada');
});

// ---------------------------------------------------------------- e: compare and restore
test('e: compare a revision with the form, then restore it; the patient gets the restored text', async () => {
  const { page } = admin;
  await openEntry(page, 'hours-weekday');
  const rev1 = page.locator('#rev-list .rev[data-revision="1"]');
  await rev1.getByRole('button', { name: 'Compare revision 1 with the text in the form' }).click();
  await page.getByRole('heading', { name: /Revision 1 \(removed\) compared with the text in the form/ }).waitFor();
  const diff = page.locator('#diff-out');
  assert.ok(await diff.locator('del').count() >= 1 && await diff.locator('ins').count() >= 1);
  assert.match(await diff.locator('del').allTextContents().then((t) => t.join(' ')), /8:00 am to 6:00 pm/);
  assert.match(await diff.locator('ins').allTextContents().then((t) => t.join(' ')), /DRAFT/);

  await rev1.getByRole('button', { name: 'Restore revision 1' }).click();
  await editorStatus(page).filter({ hasText: /Revision 1 is published again as revision \d+\./ }).waitFor();
  assert.equal(await field(page, 'Answer').inputValue(), HOURS_TEXT);
  const reply = await patientAsks(patient.page, 'what are your opening hours?');
  assert.equal(reply.text, HOURS_TEXT);
});

// ---------------------------------------------------------------- f: text stays text
test('f: an answer with <script> and markup is shown as text everywhere, never run', async () => {
  const { page } = admin;
  const evil = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> <b>Bold?</b> Ask at the desk.';
  await page.getByRole('button', { name: 'New entry' }).click();
  await field(page, 'ID').fill('script-test');
  await field(page, 'Question').fill('Do you have a harp in the waiting room?');
  await field(page, 'Answer').fill(evil);
  await page.getByRole('button', { name: 'Publish', exact: true }).click();
  await editorStatus(page).filter({ hasText: 'Published' }).waitFor();
  assert.equal(await field(page, 'Answer').inputValue(), evil);
  await page.getByRole('searchbox', { name: 'Search' }).fill('harp');
  await page.locator('#entry-list .entry-item[data-id="script-test"]').filter({ hasText: 'Do you have a harp' }).waitFor();

  await section(page, 'Try a question').click();
  await page.getByRole('textbox', { name: "A patient's question" }).fill('Do you have a harp in the waiting room?');
  await page.getByRole('button', { name: 'Try it' }).click();
  const shown = page.locator('#try-answer');
  await shown.waitFor();
  assert.equal(await shown.textContent(), evil);
  assert.equal(await shown.locator('b, img, script').count(), 0, 'no markup was made from it');
  assert.match(await page.locator('#try-why').textContent(), /threshold/);
  const confidence = Number(await page.locator('#try-confidence').textContent());
  const threshold = Number(await page.locator('#try-threshold').textContent());
  assert.ok(confidence >= threshold, `confidence ${confidence} vs threshold ${threshold}`);
  assert.ok(await page.locator('#try-matches tbody tr').count() >= 1, 'the top matches');
  assert.match(await page.locator('.try-decision').textContent(), /Answered from the knowledge base/);

  const reply = await patientAsks(patient.page, 'Do you have a harp in the waiting room?');
  assert.equal(reply.text, evil);
  for (const p of [page, patient.page]) {
    assert.equal(await p.evaluate(() => window.__pwned), undefined, 'nothing ran');
  }
});

// ---------------------------------------------------------------- g: the other sections
test('g: users, settings, audit and export work from the page', async () => {
  const { page } = admin;
  await section(page, 'Users').click();
  await page.getByRole('textbox', { name: 'Sign-in name' }).fill('maria');
  await page.getByRole('textbox', { name: 'Display name' }).fill('Maria');
  await page.getByLabel('Password', { exact: true }).fill(PW);
  await page.getByRole('button', { name: 'Add the user' }).click();
  await page.locator('#users-status').filter({ hasText: 'Added maria (staff).' }).waitFor();
  const row = page.locator('#users-body tr[data-user="maria"]');
  await row.getByRole('button', { name: 'Disable maria' }).click();
  await page.locator('#users-status').filter({ hasText: 'maria is disabled' }).waitFor();
  await row.getByRole('button', { name: 'Enable maria' }).waitFor();
  await row.getByRole('button', { name: 'Enable maria' }).click();
  await page.locator('#users-status').filter({ hasText: 'maria is enabled again' }).waitFor();
  await login(server, 'maria', PW);

  await section(page, 'Settings').click();
  const threshold = page.getByRole('spinbutton', { name: 'Answer threshold' });
  await page.waitForFunction(() => document.getElementById('s-threshold').value !== '');
  assert.equal(await threshold.inputValue(), '0.35');
  await threshold.fill('0.4');
  const keep = page.getByRole('spinbutton', { name: 'Keep conversations for (days)' });
  assert.equal(await keep.inputValue(), '365');
  await keep.fill('90');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.locator('#settings-status')
    .filter({ hasText: 'Saved: the threshold is 0.40, in effect now. Conversations are kept 90 days.' }).waitFor();
  const saved = (await request(server, 'GET', '/api/admin/settings', { cookie: (await login(server, 'bea', PW)).cookie })).json;
  assert.deepEqual([saved.threshold.toFixed(2), saved.retention_days], ['0.40', 90]);
  await threshold.fill('2');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.locator('#settings-error').filter({ hasText: 'from 0.05 to 0.95' }).waitFor();

  await section(page, 'Audit log').click();
  const rows = page.locator('#audit-body tr');
  await rows.first().waitFor();
  assert.match(await rows.filter({ hasText: 'Changed how long conversations are kept' }).first().textContent(), /ada.*retention_days *90$/);
  assert.match(await rows.filter({ hasText: 'Changed the threshold' }).first().textContent(), /ada.*threshold *0\.400$/);
  assert.match(await page.locator('#audit-body').textContent(), /Published an entry/);
  assert.ok(await page.locator('#audit-body a', { hasText: 'piano-lobby' }).count() >= 1, 'entries link to the editor');

  await section(page, 'Import / export').click();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Download the knowledge base' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'frontdesk-kb.jsonl');
  const exported = await (async () => {
    const chunks = [];
    for await (const c of await download.createReadStream()) chunks.push(c);
    return Buffer.concat(chunks).toString('utf8');
  })();
  assert.ok(exported.split('\n').some((l) => l.includes('"piano-lobby"')));

  // import: a bad line is reported with its number and nothing is imported
  await page.getByLabel('JSONL file').setInputFiles({
    name: 'bad.jsonl', mimeType: 'application/x-ndjson',
    buffer: Buffer.from('{"id":"from-file","question":"Is there a roof garden?","answer":"Yes."}\n{"id": oops}\n'),
  });
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await page.locator('#import-error').filter({ hasText: 'Nothing was imported: line 2' }).waitFor();
  await page.getByLabel('JSONL file').setInputFiles({
    name: 'good.jsonl', mimeType: 'application/x-ndjson',
    buffer: Buffer.from('{"id":"from-file","question":"Is there a roof garden?","answer":"Yes, on the 5th floor."}\n'),
  });
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await page.locator('#import-status').filter({ hasText: 'Imported 1 entry from good.jsonl' }).waitFor();
  const reply = await patientAsks(patient.page, 'Is there a roof garden?');
  assert.deepEqual([reply.entry, reply.text], ['from-file', 'Yes, on the 5th floor.']);
});

// ---------------------------------------------------------------- h: 768 px, keyboard
test('h: usable at 768 px wide; the sections are reached with the keyboard', async () => {
  const { page } = admin;
  await page.setViewportSize({ width: 768, height: 900 });
  await section(page, 'Knowledge base').click();
  await openEntry(page, 'piano-lobby');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling at 768 px (${overflow} px too wide)`);
  for (const name of ['Knowledge base', 'Users', 'Import / export']) assert.ok(await section(page, name).isVisible());
  assert.ok(await field(page, 'Answer').isVisible());

  // keyboard: focus a section link, Enter, and the section's heading has the focus
  await section(page, 'Try a question').focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Try a question' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'try-title');
  assert.equal(await section(page, 'Try a question').getAttribute('aria-current'), 'page');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'try-text');
  await page.setViewportSize({ width: 1280, height: 800 });
});

// ---------------------------------------------------------------- i: analytics
async function downloadText(download) {
  const chunks = [];
  for await (const c of await download.createReadStream()) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

const KAYAK = 'Do you rent out kayaks at the clinic?';

test('i: analytics: charts and their numbers after an answer, a handoff and a person replying; the CSV downloads', async () => {
  // a patient: one question answered, one handed to staff, whom a staff member answers
  const p = await openWidget();
  const answered = await patientAsks(p.page, 'How much does a flu shot cost?');
  assert.deepEqual([answered.type, answered.entry], ['answer', 'price-flu-shot']);
  const handed = await patientAsks(p.page, KAYAK);
  assert.equal(handed.type, 'handoff', JSON.stringify(handed));
  assert.equal(p.conversations.length, 1);
  const conv = p.conversations[0];
  const bea = await login(server, 'bea', PW);
  const [con] = await openConsole(server, bea);
  try {
    assert.equal((await act(con, { type: 'claim', conversation: conv })).type, 'ack');
    const ack = await act(con, { type: 'reply', conversation: conv, text: 'No kayaks, sorry!', client_id: 'k1' });
    assert.equal(ack.type, 'ack', JSON.stringify(ack));
    await p.page.getByText('No kayaks, sorry!').waitFor();
    assert.equal((await act(con, { type: 'resolve', conversation: conv })).type, 'ack');
  } finally {
    await con.close();
  }
  const api = (await request(server, 'GET', '/api/admin/analytics', { cookie: bea.cookie })).json;
  assert.ok(api.conversations >= 1 && api.handed_off >= 1, JSON.stringify(api));
  assert.equal(typeof api.median_seconds_to_person, 'number', 'a person answered a handoff');

  const { page } = admin;
  await section(page, 'Analytics').click();
  await page.getByRole('heading', { name: 'Analytics', exact: true }).waitFor();
  await page.locator('#a-conversations').filter({ hasText: /^\d+$/ }).waitFor();
  // the default range: the last 30 days, today included (UTC), the server's own default
  const today = new Date().toISOString().slice(0, 10);
  assert.equal(await page.getByLabel('To (included)', { exact: true }).inputValue(), today);
  assert.equal(await page.getByLabel('From', { exact: true }).inputValue(), new Date(Date.now() - 29 * 86400000).toISOString().slice(0, 10));

  // the numbers are the server's
  const text = async (id) => (await page.locator('#' + id).textContent()).trim();
  assert.equal(await text('a-conversations'), String(api.conversations));
  assert.equal(await text('a-bot-only'), String(api.answered_by_bot_only));
  assert.equal(await text('a-handed-off'), String(api.handed_off));
  assert.equal(await text('a-handoff-rate'), `(${Math.round(api.handoff_rate * 100)}%)`);
  assert.equal(await text('a-thumbs-up'), String(api.thumbs_up));
  assert.equal(await text('a-thumbs-down'), String(api.thumbs_down));
  assert.match(await text('a-median'), /^\d+ seconds?$|minute|hour/);

  // two charts, drawn by Chart.js on canvases of a real size, with the server's numbers
  for (const id of ['chart-conv', 'chart-ans']) {
    const canvas = page.locator('#' + id);
    assert.equal(await canvas.getAttribute('aria-hidden'), 'true', 'the numbers are given as text instead');
    const bb = await canvas.boundingBox();
    assert.ok(bb && bb.width > 200 && bb.height > 100, `${id} is drawn (${JSON.stringify(bb)})`);
  }
  const drawn = await page.evaluate(() => ['chart-conv', 'chart-ans'].map((id) =>
    window.Chart.getChart(document.getElementById(id)).data.datasets.map((d) => d.data.reduce((a, b) => a + b, 0))));
  const total = (k) => api.days.reduce((n, d) => n + d[k], 0);
  assert.deepEqual(drawn, [[total('conversations')], [total('bot_answers'), total('handoffs'), total('emergencies')]]);

  // the text alternatives: a summary sentence and a table per chart, today's row as the server says
  assert.match(await text('chart-conv-summary'), new RegExp(`^${total('conversations')} conversations? started over 30 days`));
  assert.match(await text('chart-ans-summary'), new RegExp(`answered ${total('bot_answers')} questions? and handed ${total('handoffs')} questions? to staff`));
  const convRows = page.locator('#chart-conv-body tr');
  assert.equal(await convRows.count(), 30);
  const last = api.days.at(-1);
  assert.equal(last.day, today);
  assert.equal(await convRows.last().locator('td').textContent(), String(last.conversations));
  assert.deepEqual(await page.locator('#chart-ans-body tr').last().locator('td').allTextContents(),
    [last.bot_answers, last.handoffs, last.emergencies].map(String));
  const tableWrap = page.locator('#chart-conv-table');
  assert.match(await tableWrap.getAttribute('class'), /visually-hidden/);
  await page.locator('#chart-conv-table').locator('xpath=..').getByRole('button', { name: 'Show the numbers' }).click();
  assert.doesNotMatch(await tableWrap.getAttribute('class'), /visually-hidden/);
  assert.ok(await convRows.last().isVisible());

  // why handed off, the most used entries, the most asked unanswered questions
  const low = api.handoff_reasons.find((r) => r.reason === 'low_confidence');
  const lowRow = page.locator('#a-reasons-body tr[data-reason="low_confidence"]');
  assert.match(await lowRow.textContent(), /Not confident enough/);
  assert.equal(await lowRow.locator('td').first().textContent(), String(low.count));
  assert.ok(await page.locator('#a-top-unanswered li').filter({ hasText: KAYAK }).count() === 1);
  const flu = page.locator('#a-top-entries li[data-entry="price-flu-shot"]');
  assert.match(await flu.textContent(), /How much does a flu shot cost\?.*price-flu-shot · \d+ answers?/);

  // the CSV: the same range, the same per-day numbers
  const csvLink = page.getByRole('link', { name: 'Download CSV' });
  const from = await page.getByLabel('From', { exact: true }).inputValue();
  assert.equal(await csvLink.getAttribute('href'), `/api/admin/analytics.csv?from=${from}&to=${today}`);
  const [download] = await Promise.all([page.waitForEvent('download'), csvLink.click()]);
  assert.equal(download.suggestedFilename(), `frontdesk-analytics-${from}-to-${today}.csv`);
  const csv = (await downloadText(download)).trim().split(/\r?\n/);
  assert.equal(csv[0], 'day,conversations,patient_messages,bot_answers,handoffs,emergencies,thumbs_up,thumbs_down');
  assert.equal(csv.length, 31);
  assert.equal(csv.at(-1), [last.day, last.conversations, last.patient_messages, last.bot_answers, last.handoffs,
    last.emergencies, last.thumbs_up, last.thumbs_down].join(','));

  // another range: the last 7 days; a range the wrong way round is refused before asking
  await page.getByRole('button', { name: 'Last 7 days' }).click();
  await page.locator('#analytics-status').filter({ hasText: /^Showing .* with a question\.$/ }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll('#chart-conv-body tr').length === 7);
  assert.match(await csvLink.getAttribute('href'), new RegExp(`from=${new Date(Date.now() - 6 * 86400000).toISOString().slice(0, 10)}&to=${today}$`));
  await page.getByLabel('From', { exact: true }).fill('2030-01-02');
  await page.getByLabel('To (included)', { exact: true }).fill('2030-01-01');
  await page.getByRole('button', { name: 'Show', exact: true }).click();
  await page.locator('#analytics-error').filter({ hasText: 'Not shown: The first day is after the last day.' }).waitFor();
  assert.equal(await page.getByLabel('From', { exact: true }).getAttribute('aria-invalid'), 'true');
  assert.equal(await page.locator('#chart-conv-body tr').count(), 7, 'the last good range stays');

  // 768 px: no sideways scrolling
  await page.setViewportSize({ width: 768, height: 900 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling at 768 px (${overflow} px too wide)`);
  await page.setViewportSize({ width: 1280, height: 800 });

  // a top entry opens in the editor
  await flu.getByRole('link').click();
  await page.getByRole('heading', { name: 'Edit: price-flu-shot' }).waitFor();
  assert.deepEqual(chrome.problems.filter((x) => /securitypolicyviolation|Content Security Policy/.test(x)), [],
    'Chart.js sizes its canvases through the CSSOM, which the CSP allows');
});

// ---------------------------------------------------------------- j: synonyms
test('j: synonyms: "jab" -> "shot" is saved from the page and the patient\'s "jab" question gets the flu-shot price', async () => {
  const p = await openWidget();
  const before = await patientAsks(p.page, 'how much is a jab');
  assert.notEqual(before.entry, 'price-flu-shot', 'without the synonym, "jab" alone is not understood');

  const { page } = admin;
  await section(page, 'Synonyms').click();
  await page.getByRole('heading', { name: 'Synonyms' }).waitFor();
  await page.locator('#syn-empty').filter({ hasText: 'No synonyms yet' }).waitFor();
  await page.getByRole('button', { name: 'Add a row' }).click();
  assert.equal(await page.evaluate(() => document.activeElement.id), await page.getByRole('textbox', { name: 'Word, row 1' }).getAttribute('id'));
  await page.getByRole('textbox', { name: 'Word, row 1' }).fill('jab');
  await page.getByRole('textbox', { name: 'Meaning, row 1' }).fill('shot');
  // a second row with two words and no meaning: both fields are marked, nothing is sent
  await page.getByRole('button', { name: 'Add a row' }).click();
  await page.getByRole('textbox', { name: 'Word, row 2' }).fill('flu jab');
  await page.getByRole('button', { name: 'Save the synonyms' }).click();
  await page.locator('#synonyms-error').filter({ hasText: 'Not saved: 2 fields need a fix.' }).waitFor();
  const word2 = page.getByRole('textbox', { name: 'Word, row 2' });
  assert.equal(await word2.getAttribute('aria-invalid'), 'true');
  assert.match(await page.locator('#' + (await word2.getAttribute('aria-describedby')).split(' ')[0]).textContent(),
    /One word: letters and digits only/);
  assert.equal(await page.getByRole('textbox', { name: 'Meaning, row 2' }).getAttribute('aria-invalid'), 'true');
  assert.equal(await page.getByRole('textbox', { name: 'Word, row 1' }).getAttribute('aria-invalid'), null);
  assert.deepEqual((await request(server, 'GET', '/api/admin/synonyms', { cookie: (await login(server, 'bea', PW)).cookie })).json,
    { synonyms: {} }, 'nothing was saved');
  await page.getByRole('button', { name: 'Remove row 2' }).click();
  await page.getByRole('button', { name: 'Save the synonyms' }).click();
  await page.locator('#synonyms-status').filter({ hasText: 'Saved 1 synonym. The bot uses them from the next question.' }).waitFor();
  assert.deepEqual((await request(server, 'GET', '/api/admin/synonyms', { cookie: (await login(server, 'bea', PW)).cookie })).json,
    { synonyms: { jab: 'shot' } });

  const reply = await patientAsks(p.page, 'how much is a jab for the flu');
  assert.deepEqual([reply.type, reply.entry], ['answer', 'price-flu-shot']);
  assert.match(reply.text, /\$35/);
  const again = await patientAsks(p.page, 'how much is a jab');
  assert.deepEqual([again.type, again.entry], ['answer', 'price-flu-shot'], 'the word alone now reads as "shot"');

  // back on the section later: the saved list
  await section(page, 'Analytics').click();
  await section(page, 'Synonyms').click();
  await page.waitForFunction(() => document.querySelectorAll('#syn-list .syn-row').length === 1);
  assert.equal(await page.getByRole('textbox', { name: 'Word, row 1' }).inputValue(), 'jab');
  assert.equal(await page.getByRole('textbox', { name: 'Meaning, row 1' }).inputValue(), 'shot');
});

// ---------------------------------------------------------------- k: messages, opening hours
test('k: settings: a new English greeting reaches a new widget; bad opening hours are refused and change nothing', async () => {
  const { page } = admin;
  const bea = await login(server, 'bea', PW);
  const settings = async () => (await request(server, 'GET', '/api/admin/settings', { cookie: bea.cookie })).json;
  await section(page, 'Settings').click();
  const greeting = page.getByRole('textbox', { name: 'Greeting, English' });
  await page.waitForFunction(() => document.getElementById('m-greeting-en').value !== '');
  assert.equal(await greeting.inputValue(), (await settings()).messages.greeting.en);

  // the patient messages
  const hello = 'Welcome to Riverside Family Health! Ask me about hours, prices or refills.';
  await greeting.fill(hello);
  const nobodyEs = page.getByRole('textbox', { name: 'Nobody can join, Spanish' });
  const nobodyEsText = await nobodyEs.inputValue();
  await nobodyEs.fill('   ');
  await page.getByRole('button', { name: 'Save the messages' }).click();
  await page.locator('#messages-error').filter({ hasText: 'Not saved: one message needs a fix.' }).waitFor();
  assert.equal(await nobodyEs.getAttribute('aria-invalid'), 'true');
  assert.notEqual((await settings()).messages.greeting.en, hello, 'nothing was sent');
  await nobodyEs.fill(nobodyEsText);
  await page.getByRole('button', { name: 'Save the messages' }).click();
  await page.locator('#messages-status').filter({ hasText: 'Saved: Greeting (English).' }).waitFor();
  assert.equal((await settings()).messages.greeting.en, hello);
  const p = await openWidget();
  const shown = p.page.locator('.fd-row--greeting .fd-text');
  await shown.waitFor();
  assert.equal(await shown.textContent(), hello);

  // opening hours, in the JSON view: not JSON at all, then JSON the server refuses
  const hoursBefore = (await settings()).hours;
  assert.equal(hoursBefore.timezone, 'America/Chicago');
  await page.getByRole('button', { name: 'JSON', exact: true }).click();
  const json = page.getByRole('textbox', { name: 'Opening hours as JSON' });
  assert.deepEqual(JSON.parse(await json.inputValue()), hoursBefore, 'the form and the JSON say the same');
  await json.fill('{"timezone": "America/Chicago", "locations": [');
  await page.getByRole('button', { name: 'Save the opening hours' }).click();
  await page.locator('#hours-error').filter({ hasText: /^Not saved: The JSON is not valid: .*Nothing was changed\.$/ }).waitFor();
  assert.equal(await json.getAttribute('aria-invalid'), 'true');
  assert.deepEqual((await settings()).hours, hoursBefore);

  const bad = structuredClone(hoursBefore);
  bad.locations[0].week.tue = '19:00-08:00';
  await json.fill(JSON.stringify(bad, null, 2));
  await page.getByRole('button', { name: 'Save the opening hours' }).click();
  await page.locator('#hours-error')
    .filter({ hasText: 'Not saved: locations[0].week.tue: "19:00-08:00" opens at or after it closes. Nothing was changed.' }).waitFor();
  assert.deepEqual((await settings()).hours, hoursBefore, 'the server changed nothing');

  // the form shows the same JSON: the bad Tuesday is caught before sending; fixed, Saturday closed, saved
  await page.getByRole('button', { name: 'Form', exact: true }).click();
  const downtown = page.getByRole('group', { name: 'Downtown' });
  await downtown.getByRole('button', { name: 'Remove this location' }).waitFor();
  await page.getByRole('button', { name: 'Save the opening hours' }).click();
  await page.locator('#hours-error').filter({ hasText: 'Not saved: one field needs a fix.' }).waitFor();
  const tueCloses = downtown.getByLabel('Tuesday: closes at');
  assert.equal(await tueCloses.getAttribute('aria-invalid'), 'true');
  await tueCloses.fill('19:00');
  await downtown.getByLabel('Tuesday: opens at').fill('08:00');
  const northgate = page.getByRole('group', { name: 'Northgate' });
  await northgate.getByRole('checkbox', { name: 'Open on Saturday' }).uncheck();
  assert.ok(await northgate.getByLabel('Saturday: opens at').isDisabled());
  await page.getByRole('button', { name: 'Save the opening hours' }).click();
  await page.locator('#hours-status')
    .filter({ hasText: 'Saved: the opening hours are in effect now (America/Chicago, 2 locations, 8 holidays).' }).waitFor();
  const after = (await settings()).hours;
  const want = structuredClone(hoursBefore);
  want.locations[1].week.sat = 'closed';
  assert.deepEqual(after, want, 'exactly the one change');
});

// ---------------------------------------------------------------- l: answer recall
test('l: answer recall: after a correction, "Who got the old text?" lists the conversation answered from the old text', async () => {
  const bea = await login(server, 'bea', PW);
  const made = await request(server, 'POST', '/api/admin/entries', {
    cookie: bea.cookie, csrf: bea.csrf,
    body: { id: 'bike-rack', question: 'Is there a bike rack at the clinic?', answer: 'Yes: beside the Downtown entrance.',
      category: 'access', lang: 'en', publish: true },
  });
  assert.equal(made.status, 200, made.text);
  const p = await openWidget();
  const got = await patientAsks(p.page, 'Is there a bike rack at the clinic?');
  assert.deepEqual([got.entry, got.text], ['bike-rack', 'Yes: beside the Downtown entrance.']);
  const conv = p.conversations[0];
  assert.ok(conv);

  const { page } = admin;
  await openEntry(page, 'bike-rack');
  const recall = page.getByRole('region', { name: 'Who got the old text?' });
  await recall.locator('#recall-status')
    .filter({ hasText: 'Nobody got an older text of this entry in the last 30 days. Patients get revision 1 now.' }).waitFor();
  await field(page, 'Answer').fill('Yes: two bike racks, beside both entrances.');
  await page.getByRole('button', { name: 'Publish', exact: true }).click();
  await editorStatus(page).filter({ hasText: 'as revision 2' }).waitFor();
  await recall.locator('#recall-status')
    .filter({ hasText: '1 conversation got an older text in the last 30 days. Patients get revision 2 now.' }).waitFor();
  const row = recall.locator(`tr[data-conversation="${conv}"]`);
  assert.deepEqual((await row.locator('td').allTextContents()).slice(1), ['revision 1', '1']);
  const link = row.getByRole('link', { name: new RegExp(conv) });
  assert.equal(await link.getAttribute('href'), '/staff#' + conv, 'follow up from the staff console');

  await recall.getByLabel('From the last').selectOption('7');
  await recall.locator('#recall-status').filter({ hasText: 'in the last 7 days' }).waitFor();
  assert.equal(await row.count(), 1);
});

// ---------------------------------------------------------------- last: nothing went wrong
test('no CSP violation, page error, console error or unexpected dialog on any page', () => {
  assert.deepEqual(chrome.problems, []);
});
