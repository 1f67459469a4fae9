// Browser test of the staff pages (web/login.html, web/staff.html) and the patient widget's side of
// a takeover (docs/staff-protocol.md), against a real frontdesk server, driven by Debian's chromium
// through playwright-core. Two browser contexts: a patient on the demo page and a staff member.
//
//   node --test tests/browser/staff.test.mjs
//
// FRONTDESK_BIN picks another server binary (see tests/lib/server.mjs); CHROMIUM the browser.
// Every wait is on something the person would see (a selector, a text), never on a delay.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser } from '../lib/browser.mjs';
import { startServer } from '../lib/server.mjs';
import { openConversation } from '../lib/chat.mjs';
import { addUser } from '../lib/users.mjs';
import { OPEN_TIME } from '../lib/staff.mjs';

const PW = 'correct horse battery staple';

let server;
let chrome; // launchBrowser(): newPage() and the problems every page met (checked last)

before(async () => {
  // a Tuesday morning in the clinic's zone: open, so a signed-in person is offered, not a ticket
  server = await startServer(['--pretend-time', String(OPEN_TIME)]);
  await addUser(server.db, 'maria', 'staff', PW, 'Maria');
  await addUser(server.db, 'ben', 'staff', PW, 'Ben');
  chrome = await launchBrowser();
});

after(async () => {
  if (chrome) await chrome.close();
  if (server) await server.stop();
});

const newPage = (options) => chrome.newPage(options);

// ---------------------------------------------------------------- helpers
async function signIn(page, name = 'maria', password = PW) {
  await page.goto(server.origin + '/login');
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/staff(#.*)?$/);
  await page.locator('#conn[data-state="online"]').waitFor();
}

// The patient's widget (open shadow root: Playwright's locators pierce it).
async function openWidget(page) {
  await page.getByRole('button', { name: 'Chat with us' }).click();
  await page.getByRole('dialog').waitFor({ state: 'visible' });
}
async function patientSays(page, text) {
  const box = page.getByRole('textbox', { name: 'Your message' });
  await box.fill(text);
  await box.press('Enter');
  await page.locator('.fd-row--patient[data-state="sent"]').filter({ hasText: text }).waitFor();
}

const queueItem = (page, text) => page.locator('#queue-list .q-item').filter({ hasText: text });

// ---------------------------------------------------------------- sign-in
test('/staff without a session lands on the sign-in page', async () => {
  const { page } = await newPage();
  await page.goto(server.origin + '/staff');
  await page.waitForURL(/\/login\?next=(\/|%2F)staff$/);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  // labelled fields with the right autocomplete hints, the name field focused
  assert.equal(await page.getByLabel('Name').getAttribute('autocomplete'), 'username');
  assert.equal(await page.getByLabel('Password').getAttribute('autocomplete'), 'current-password');
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'login-name');
});

test('sign-in: a wrong password is a clear alert; too many attempts says when to try again', async () => {
  const { page } = await newPage();
  await page.goto(server.origin + '/login?next=/staff');
  await page.getByLabel('Name').fill('maria');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert');
  await alert.filter({ hasText: 'Wrong name or password' }).waitFor();
  assert.equal(await page.getByLabel('Password').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'login-password', 'focus back on the password');
  assert.match(page.url(), /\/login/);

  // the server's throttling answer (429 with retry_after), shown in minutes
  await page.route('**/api/login', (route) => route.fulfill({
    status: 429, contentType: 'application/json',
    body: JSON.stringify({ error: 'rate_limited', message: 'too many attempts', retry_after: 170 }),
  }));
  await page.getByLabel('Password').fill('still not it');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await alert.filter({ hasText: 'Too many attempts. Try again in 3 minutes.' }).waitFor();
  await page.unroute('**/api/login');
});

test('sign-in: next is followed only when it is a path on this origin', async () => {
  const { page } = await newPage();
  await page.goto(server.origin + '/login?next=' + encodeURIComponent('//evil.example/staff'));
  await page.getByLabel('Name').fill('ben');
  await page.getByLabel('Password').fill(PW);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(server.origin + '/staff');
  await page.locator('#conn[data-state="online"]').waitFor();
  assert.equal(await page.locator('#me-name').textContent(), 'Ben');
  // sign out: back on the sign-in page, and the console is closed to this browser again
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/login/);
  await page.goto(server.origin + '/staff');
  await page.waitForURL(/\/login\?next=/);
});

// ---------------------------------------------------------------- the takeover, end to end
test('a patient asks for a person; staff take over, talk both ways, hand back to the bot', async () => {
  const staff = (await newPage()).page;
  const patient = (await newPage()).page;
  await signIn(staff);
  assert.equal(await staff.locator('#me-name').textContent(), 'Maria');
  assert.equal(await staff.title(), 'frontdesk staff');

  // the patient asks for a person (with markup that must stay text on the staff side)
  await patient.goto(server.url);
  await openWidget(patient);
  const question = 'can I talk to a real person please <i>now</i>';
  await patientSays(patient, question);
  const handoff = patient.locator('.fd-row[data-type="handoff"]');
  await handoff.waitFor();
  const line = patient.locator('.fd-queue');
  await line.filter({ hasText: "You're next in line. A staff member will reply here." }).waitFor();
  assert.equal(await line.getAttribute('role'), 'status');

  // staff: the chat shows up in the queue, counted in the title and the badge
  const item = queueItem(staff, '<i>now</i>');
  await item.waitFor();
  assert.match(await item.textContent(), /Asked for a person/);
  assert.match(await item.textContent(), /Waiting/);
  assert.match(await item.textContent(), /Not taken yet/);
  assert.equal(await item.locator('i').count(), 0, 'patient text is never parsed as HTML');
  await staff.waitForFunction(() => document.title === '(1) frontdesk staff');
  assert.match(await staff.locator('#waiting-badge').textContent(), /1 waiting/);
  assert.match(await staff.locator('#announcer').textContent(), /New chat waiting/);

  // while waiting in line, the bot still answers what it knows
  await patientSays(patient, 'where do I park?');
  await patient.locator('.fd-row[data-type="answer"]').first().waitFor();
  await line.filter({ hasText: "You're next in line." }).waitFor();

  // open it: the transcript, then take it over
  await item.getByRole('button').click();
  const transcript = staff.locator('#transcript');
  await transcript.locator('.ev--patient').filter({ hasText: question }).waitFor();
  await transcript.locator('.ev--bot[data-type="handoff"]').waitFor();
  await staff.getByRole('button', { name: 'Take over' }).click();
  await transcript.locator('.ev--system[data-type="claimed"]').waitFor();
  await staff.waitForFunction(() => document.title === 'frontdesk staff');
  await item.filter({ hasText: 'Taken by you' }).waitFor();

  // the patient sees who joined
  await patient.locator('.fd-row[data-role="system"][data-type="claimed"]').filter({ hasText: 'Maria' }).waitFor();
  await line.filter({ hasText: "You're chatting with Maria from the front desk." }).waitFor();

  // staff types: the patient sees "Maria is typing…"; Enter sends, acknowledged by the server
  const box = staff.getByRole('textbox', { name: 'Reply to the patient' });
  await box.focus();
  await staff.keyboard.type('Hi, this is Maria.');
  await patient.locator('.fd-typing').filter({ hasText: 'Maria is typing…' }).waitFor();
  await staff.keyboard.press('Shift+Enter');
  await staff.keyboard.type('How can I help?');
  await staff.keyboard.press('Enter');
  const reply = 'Hi, this is Maria.\nHow can I help?';
  const mine = transcript.locator('.ev--staff[data-state="sent"]');
  await mine.waitFor();
  assert.equal(await mine.locator('.ev-text').textContent(), reply);
  assert.match(await mine.getAttribute('data-id'), /^\d+$/);
  assert.equal(await box.inputValue(), '');

  // the patient gets it from "Maria (staff)", not from the bot
  const staffRow = patient.locator('.fd-row--staff');
  await staffRow.waitFor();
  assert.match(await staffRow.textContent(), /Maria \(staff\)/);
  assert.equal(await staffRow.locator('.fd-text').textContent(), reply);
  await patient.locator('.fd-typing').waitFor({ state: 'hidden' });

  // an internal note: labelled on the staff side, never shown to the patient
  await staff.getByLabel('Internal note').check();
  await staff.getByRole('textbox', { name: "Internal note – patient can't see this" }).fill('INTERNAL check the chart');
  await staff.getByRole('button', { name: 'Add note' }).click();
  const note = transcript.locator('.ev--note[data-state="sent"]');
  await note.waitFor();
  assert.match(await note.textContent(), /Internal note – patient can't see this/);
  await staff.getByLabel('Reply to patient').check();

  // the patient types: staff see it; the patient's answer arrives, and the bot stays quiet
  const pbox = patient.getByRole('textbox', { name: 'Your message' });
  await pbox.fill('I need a refill of my inhaler');
  await staff.locator('#patient-typing').filter({ hasText: 'Patient is typing…' }).waitFor();
  await pbox.press('Enter');
  await transcript.locator('.ev--patient').filter({ hasText: 'I need a refill of my inhaler' }).waitFor();
  await staff.locator('#patient-typing').waitFor({ state: 'hidden' });

  // hand back: the patient is told, and the bot answers the next question again
  await staff.getByRole('button', { name: 'Hand back to bot' }).click();
  await transcript.locator('.ev--system[data-type="handback"]').waitFor();
  await item.waitFor({ state: 'detached' });
  await patient.locator('.fd-row[data-role="system"][data-type="handback"]').waitFor();
  await patient.locator('.fd-queue:empty').waitFor({ state: 'attached' }); // no "in line" any more
  const answersBefore = await patient.locator('.fd-row[data-type="answer"]').count();
  await patientSays(patient, 'what are your opening hours');
  const answer = patient.locator('.fd-row[data-type="answer"]').nth(answersBefore);
  await answer.waitFor();
  assert.match(await answer.getAttribute('data-entry') ?? '', /^hours/);

  // the note never reached the patient, and nothing was shown twice on either side
  assert.equal(await patient.getByText('INTERNAL check the chart').count(), 0);
  const ids = await patient.locator('.fd-row[data-id]').evaluateAll((rows) => rows.map((r) => r.dataset.id));
  assert.equal(new Set(ids).size, ids.length);
  const sids = await transcript.locator('.ev[data-id]').evaluateAll((rows) => rows.map((r) => r.dataset.id));
  assert.equal(new Set(sids).size, sids.length);

  // after a reload the patient sees Maria's message and the notices again, from history
  await patient.reload();
  if (!(await patient.getByRole('dialog').isVisible())) await openWidget(patient);
  await patient.locator('.fd-row--staff').filter({ hasText: 'Maria (staff)' }).waitFor();
  await patient.locator('.fd-row[data-role="system"][data-type="claimed"]').waitFor();
  assert.equal(await patient.getByText('INTERNAL check the chart').count(), 0);
});

// ---------------------------------------------------------------- the console reconnects
test('console: a dropped socket reconnects with since; what was missed shows once', async () => {
  const { page: staff } = await newPage();
  const sockets = [];
  await staff.routeWebSocket(/\/ws$/, (ws) => { ws.connectToServer(); sockets.push(ws); });
  const hellos = [];
  staff.on('websocket', (ws) => ws.on('framesent', (f) => {
    try { const m = JSON.parse(f.payload); if (m.type === 'hello') hellos.push(m); } catch { /* not json */ }
  }));
  await signIn(staff);

  const patient = (await newPage()).page;
  await patient.goto(server.url);
  await openWidget(patient);
  await patientSays(patient, 'I want to speak to someone about my bill');
  const item = queueItem(staff, 'about my bill');
  await item.waitFor();
  await item.getByRole('button').click();
  const transcript = staff.locator('#transcript');
  await transcript.locator('.ev--patient').filter({ hasText: 'about my bill' }).waitFor();
  await staff.getByRole('button', { name: 'Take over' }).click();
  await item.filter({ hasText: 'Taken by you' }).waitFor();

  // the connection drops; the patient writes while the console is away
  await sockets.at(-1).close();
  await staff.locator('#conn[data-state="reconnecting"]').waitFor();
  await patientSays(patient, 'are you still there?');
  await staff.locator('#conn[data-state="online"]').waitFor();
  await transcript.locator('.ev--patient').filter({ hasText: 'are you still there?' }).waitFor();

  const resume = hellos.at(-1);
  assert.equal(hellos.length, 2);
  assert.equal(typeof resume.since, 'number', 'resumed with since');
  const sids = await transcript.locator('.ev[data-id]').evaluateAll((rows) => rows.map((r) => r.dataset.id));
  assert.equal(new Set(sids).size, sids.length, 'no event shown twice');
  assert.equal(await transcript.locator('.ev--patient').filter({ hasText: 'are you still there?' }).count(), 1);

  // still the owner after the reconnect: a reply goes through
  const box = staff.getByRole('textbox', { name: 'Reply to the patient' });
  await box.fill('Yes, one moment please.');
  await box.press('Enter');
  await patient.locator('.fd-row--staff').filter({ hasText: 'one moment please' }).waitFor();
  await staff.getByRole('button', { name: 'Resolve' }).click();
  await item.waitFor({ state: 'detached' });
  await patient.locator('.fd-row[data-role="system"][data-type="resolved"]').waitFor();
});

// ---------------------------------------------------------------- two staff, one chat
test('two staff: the second to take a chat is told who has it; presence and transfer', async () => {
  const { page: maria } = await newPage();
  const { page: ben } = await newPage();
  await signIn(maria, 'maria');
  await signIn(ben, 'ben');
  // each sees the other online; going away is shown to the other
  await maria.locator('#team-list').filter({ hasText: 'Ben' }).waitFor();
  await ben.getByLabel('Away').check();
  await maria.locator('#team-list .team-member').filter({ hasText: 'Ben' }).filter({ hasText: 'Away' }).waitFor();
  await ben.getByLabel('Online').check();
  await maria.locator('#team-list .team-member').filter({ hasText: 'Ben' }).filter({ hasText: 'Online' }).waitFor();

  const patient = (await newPage()).page;
  await patient.goto(server.url);
  await openWidget(patient);
  await patientSays(patient, 'please connect me with the front desk staff');
  for (const p of [maria, ben]) {
    await queueItem(p, 'connect me with the front desk').getByRole('button').click();
    await p.getByRole('button', { name: 'Take over' }).waitFor();
  }
  // both press Take over; Maria's arrives first
  await maria.getByRole('button', { name: 'Take over' }).click();
  await queueItem(ben, 'connect me with the front desk').filter({ hasText: 'Taken by Maria' }).waitFor();
  // Ben's view already hides the button; a stale click (sent anyway) is refused with the owner's name
  await ben.evaluate(() => { const b = document.getElementById('act-claim'); b.hidden = false; b.click(); });
  await ben.locator('#desk-notice').filter({ hasText: 'Taken by Maria' }).waitFor();
  assert.equal(await ben.locator('#desk-notice').getAttribute('role'), 'status');

  // Maria transfers it to Ben
  await maria.getByLabel('Transfer to').selectOption('ben');
  await maria.getByRole('button', { name: 'Transfer', exact: true }).click();
  await queueItem(ben, 'connect me with the front desk').filter({ hasText: 'Taken by you' }).waitFor();
  await ben.getByRole('textbox', { name: 'Reply to the patient' }).waitFor();
  await patient.locator('.fd-queue').filter({ hasText: 'Ben' }).waitFor();
  await ben.getByRole('button', { name: 'Resolve' }).click();
  await patient.locator('.fd-row[data-role="system"][data-type="resolved"]').waitFor();
});

// ---------------------------------------------------------------- nobody online: leave a message
test('nobody online: the patient leaves a message; it is a ticket in the queue', async () => {
  // a server of its own, with no one signed in
  const lone = await startServer(['--pretend-time', String(OPEN_TIME)]);
  try {
    await addUser(lone.db, 'maria', 'staff', PW, 'Maria');
    const { page: patient } = await newPage();
    await patient.goto(lone.url);
    await openWidget(patient);
    await patientSays(patient, 'can I talk to a person about my test results');
    const form = patient.getByRole('form', { name: 'Leave a message' });
    await form.waitFor();
    await patient.locator('.fd-queue').filter({ hasText: 'No one from the front desk is online right now.' }).waitFor();
    assert.equal(await form.getByLabel('Message').inputValue(), 'can I talk to a person about my test results');
    // required fields are checked before anything is sent
    await form.getByRole('button', { name: 'Send message' }).click();
    assert.equal(await form.getByLabel('Your name').getAttribute('aria-invalid'), 'true');
    await form.getByLabel('Your name').fill('Ana Lopez');
    await form.getByLabel('Phone or email').fill('555-010-9999');
    await form.getByRole('button', { name: 'Send message' }).click();
    await patient.getByText("Thanks, we'll get back to you by phone or email during opening hours.").first().waitFor();
    assert.equal(await patient.locator('.fd-leave-form').count(), 0, 'the form is replaced by the confirmation');
    // after a reload: the message left is shown once, with the confirmation, and no form again
    await patient.reload();
    if (!(await patient.getByRole('dialog').isVisible())) await openWidget(patient);
    await patient.locator('.fd-queue').filter({ hasText: "Thanks, we'll get back to you" }).waitFor();
    await patient.locator('.fd-row[data-type="ticket"]').waitFor();
    assert.equal(await patient.locator('.fd-leave-form').count(), 0);
    const ids = await patient.locator('.fd-row[data-id]').evaluateAll((rows) => rows.map((r) => r.dataset.id));
    assert.equal(new Set(ids).size, ids.length);

    // staff see it under "Messages left", with the name, contact and message
    const { page: staff } = await newPage();
    await staff.goto(lone.origin + '/login');
    await staff.getByLabel('Name').fill('maria');
    await staff.getByLabel('Password').fill(PW);
    await staff.getByRole('button', { name: 'Sign in' }).click();
    const ticket = staff.locator('#ticket-list .q-item').filter({ hasText: 'Ana Lopez' });
    await ticket.waitFor();
    assert.match(await ticket.textContent(), /Message left \(ticket\)/);
    assert.match(await ticket.textContent(), /555-010-9999/);
    assert.match(await ticket.textContent(), /test results/);
  } finally {
    await lone.stop();
  }
});

// ---------------------------------------------------------------- a link to one chat (as the webhooks send)
test('a link to /staff#CONVERSATION goes through sign-in and opens that chat', async () => {
  const [pat, welcome] = await openConversation(server);
  try {
    const { reply } = await pat.ask('can i talk to a human about a form');
    assert.equal(reply.type, 'handoff');
    const { page } = await newPage();
    await page.goto(`${server.origin}/staff#${welcome.conversation}`);
    await page.waitForURL(/\/login\?next=/);
    await page.getByLabel('Name').fill('ben');
    await page.getByLabel('Password').fill(PW);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${server.origin}/staff#${welcome.conversation}`);
    await page.locator('#transcript .ev--patient').filter({ hasText: 'about a form' }).waitFor();
    await page.locator('#queue-list .q-item.is-selected').filter({ hasText: 'about a form' }).waitFor();
    await page.getByRole('button', { name: 'Resolve' }).click();
    await page.locator('#queue-list .q-item').filter({ hasText: 'about a form' }).waitFor({ state: 'detached' });
  } finally {
    await pat.close();
  }
});

// ---------------------------------------------------------------- keyboard only
test('keyboard only: sign in, open a chat from the queue, take it over, reply', async () => {
  const { page: staff } = await newPage();
  await staff.goto(server.origin + '/login');
  await staff.keyboard.type('maria');            // the name field has the focus
  await staff.keyboard.press('Tab');
  await staff.keyboard.type(PW);
  await staff.keyboard.press('Enter');
  await staff.waitForURL(/\/staff/);
  await staff.locator('#conn[data-state="online"]').waitFor();

  const patient = (await newPage()).page;
  await patient.goto(server.url);
  await openWidget(patient);
  await patientSays(patient, 'talk to staff please about parking');
  const item = queueItem(staff, 'about parking');
  await item.waitFor();

  const active = () => staff.evaluate(() => {
    const a = document.activeElement;
    return { id: a.id, conv: a.dataset ? a.dataset.conversation || '' : '', text: a.textContent.trim().slice(0, 400) };
  });
  // Tab from the top of the page to the queue item
  let found = false;
  for (let i = 0; i < 40 && !found; i++) {
    await staff.keyboard.press('Tab');
    found = /about parking/.test((await active()).text);
  }
  assert.ok(found, 'the queue item is reachable with Tab');
  const outline = await staff.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none', 'visible focus on the queue item');
  await staff.keyboard.press('Enter');
  await staff.locator('#transcript .ev--patient').filter({ hasText: 'about parking' }).waitFor();
  assert.equal((await active()).id, 'convo-title', 'focus moves to the open chat');

  // Tab to "Take over", Enter: focus lands in the reply box
  found = false;
  for (let i = 0; i < 10 && !found; i++) {
    await staff.keyboard.press('Tab');
    found = (await active()).id === 'act-claim';
  }
  assert.ok(found, 'Take over is reachable with Tab');
  await staff.keyboard.press('Enter');
  await staff.waitForFunction(() => document.activeElement && document.activeElement.id === 'composer-text');
  await staff.keyboard.type('Parking is free behind the building.');
  await staff.keyboard.press('Enter');
  await patient.locator('.fd-row--staff').filter({ hasText: 'Parking is free' }).waitFor();
  // resolving with the keyboard leaves the focus somewhere sensible
  await staff.getByRole('button', { name: 'Resolve' }).focus();
  await staff.keyboard.press('Enter');
  await item.waitFor({ state: 'detached' });
  assert.equal((await active()).id, 'convo-title');
});

// ---------------------------------------------------------------- tablet width, CSP (last: covers every page above)
test('console works at a 768px tablet width; no CSP violations or page errors anywhere', async () => {
  const { page } = await newPage({ viewport: { width: 768, height: 1024 } });
  await signIn(page);
  for (const sel of ['#queue-pane', '#convo-pane', '#logout']) {
    assert.ok(await page.locator(sel).isVisible(), `${sel} visible at 768px`);
  }
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling at 768px (${overflow}px)`);
  assert.deepEqual(chrome.problems, []);
});
