// Browser test of the patient chat widget (web/widget.js) against a real frontdesk server,
// driven by Debian's chromium through playwright-core.
//
//   node --test tests/browser/
//
// FRONTDESK_BIN picks another server binary (see tests/lib/server.mjs); CHROMIUM the browser.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { launchBrowser, TIMEOUT } from '../lib/browser.mjs';
import { startServer } from '../lib/server.mjs';


let server;
let chrome; // launchBrowser(): newPage() and the problems every page met (checked last)

before(async () => {
  server = await startServer();
  chrome = await launchBrowser();
});

after(async () => {
  if (chrome) await chrome.close();
  if (server) await server.stop();
});

const newPage = (options) => chrome.newPage(options);

// The widget lives in an open shadow root; Playwright's role/CSS locators pierce it.
const launcher = (page, name = 'Chat with us') => page.getByRole('button', { name });
const dialog = (page) => page.getByRole('dialog');
const messageBox = (page, name = 'Your message') => page.getByRole('textbox', { name });
const eventRows = (page) => page.locator('.fd-row[data-id]');

async function openWidget(page, name) {
  await launcher(page, name).click();
  await dialog(page).waitFor({ state: 'visible' });
}

async function ask(page, text, name) {
  const before = await page.locator('.fd-row[data-reply-to]').count();
  const box = messageBox(page, name);
  await box.fill(text);
  await box.press('Enter');
  // the reply to this question is the next bot row with a reply_to
  const reply = page.locator('.fd-row[data-reply-to]').nth(before);
  await reply.waitFor({ state: 'visible' });
  return reply;
}

// What is in the log, as "id|role|type|text" lines.
async function snapshot(page) {
  return eventRows(page).evaluateAll((rows) => rows.map((r) =>
    [r.dataset.id, r.dataset.role, r.dataset.type, r.querySelector('.fd-text')?.textContent ?? ''].join('|')));
}

// The element that really has focus, looking through shadow roots.
async function focused(page) {
  return page.evaluate(() => {
    let a = document.activeElement;
    while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
    if (!a) return null;
    return { tag: a.tagName.toLowerCase(), cls: a.getAttribute('class') || '', id: a.id || '' };
  });
}

// ---------------------------------------------------------------- a, b, g: one patient's session
let main; // { context, page } shared by a, b, g: the same browser profile across a reload

test('a: opening hours question gets a knowledge-base answer about hours', async () => {
  main = await newPage();
  const { page } = main;
  await page.goto(server.url);
  await openWidget(page);
  const box = messageBox(page);
  assert.equal(await box.evaluate((el) => el === el.getRootNode().activeElement), true, 'input focused on open');

  const reply = await ask(page, 'what are your opening hours');
  assert.equal(await reply.getAttribute('data-type'), 'answer');
  assert.match(await reply.getAttribute('data-entry') ?? '', /^hours/);
  const text = await reply.locator('.fd-text').textContent();
  assert.match(text, /\b(hours?|open|closed|a\.?m\.?|p\.?m\.?|monday|weekdays?)\b/i, `answer mentions hours: ${text}`);

  // the patient bubble was acknowledged (got its event id) and is not pending any more
  const mine = page.locator('.fd-row--patient').filter({ hasText: 'what are your opening hours' });
  assert.equal(await mine.count(), 1);
  assert.match(await mine.getAttribute('data-id') ?? '', /^\d+$/);
  assert.equal(await mine.getAttribute('data-state'), 'sent');
  // the typing indicator went away with the answer
  await page.locator('.fd-typing').waitFor({ state: 'hidden' });
});

test('b: after a reload the conversation is shown again, nothing twice', async () => {
  const { page } = main;
  const before = await snapshot(page);
  assert.ok(before.length >= 2, 'question and answer in the log');

  await page.reload();
  if (!(await dialog(page).isVisible())) await openWidget(page);
  await page.waitForFunction((n) => {
    const root = document.querySelector('#frontdesk-widget')?.shadowRoot;
    return root && root.querySelectorAll('.fd-row[data-id]').length >= n;
  }, before.length, { timeout: TIMEOUT });
  // give any late duplicate a chance to show up
  await page.waitForTimeout(300);
  const afterReload = await snapshot(page);
  assert.deepEqual(afterReload, before);
  const ids = afterReload.map((l) => l.split('|')[0]);
  assert.equal(new Set(ids).size, ids.length, 'no event shown twice');
  assert.equal(await page.locator('.fd-row--patient').filter({ hasText: 'what are your opening hours' }).count(), 1);
  assert.equal(await page.locator('.fd-row--greeting').count(), 1, 'one greeting');
});

test('g: thumbs up sets aria-pressed and is stored', async () => {
  const { page } = main;
  const answer = page.locator('.fd-row[data-type="answer"]').last();
  const up = answer.getByRole('button', { name: 'This helped' });
  const down = answer.getByRole('button', { name: 'This did not help' });
  assert.equal(await up.getAttribute('aria-pressed'), 'false');
  await up.click();
  assert.equal(await up.getAttribute('aria-pressed'), 'true');
  assert.equal(await down.getAttribute('aria-pressed'), 'false');
  await answer.locator('.fd-thanks').waitFor({ state: 'visible' }); // feedback_ok came back

  // the server remembers it: after a reload the history says helpful=true
  await page.reload();
  if (!(await dialog(page).isVisible())) await openWidget(page);
  const again = page.locator('.fd-row[data-type="answer"]').last();
  await again.waitFor();
  assert.equal(await again.getByRole('button', { name: 'This helped' }).getAttribute('aria-pressed'), 'true');
});

// ---------------------------------------------------------------- c, d: handoff and emergency
test('c: an off-topic question is handed off to the front desk', async () => {
  const { page } = await newPage();
  await page.goto(server.url);
  await openWidget(page);
  const reply = await ask(page, "what's the capital of france");
  assert.equal(await reply.getAttribute('data-type'), 'handoff');
  assert.ok(((await reply.locator('.fd-text').textContent()) ?? '').trim().length > 0, 'handoff text shown');
  assert.equal(await reply.getAttribute('role'), null, 'a handoff is not an alert');
  // suggestions, if any, are buttons
  const sugg = reply.locator('.fd-suggestion');
  for (let i = 0; i < await sugg.count(); i++) {
    assert.equal(await sugg.nth(i).evaluate((el) => el.tagName), 'BUTTON');
  }
});

test('d: an emergency shows an alert with 911', async () => {
  const { page } = await newPage();
  await page.goto(server.url);
  await openWidget(page);
  const reply = await ask(page, 'I have crushing chest pain');
  assert.equal(await reply.getAttribute('data-type'), 'emergency');
  const alert = page.getByRole('alert').filter({ hasText: '911' });
  await alert.waitFor({ state: 'visible' });
  assert.ok(await alert.locator('a[href="tel:911"]').count() >= 1, 'tel:911 link');
  assert.equal(await reply.locator('.fd-feedback').count(), 0, 'no thumbs on an emergency');
});

// ---------------------------------------------------------------- f: keyboard
test('f: keyboard: Tab to the launcher, Enter opens, Escape closes and returns focus', async () => {
  const { page } = await newPage();
  await page.goto(server.url);
  await launcher(page).waitFor({ state: 'visible' });
  let found = false;
  for (let i = 0; i < 80 && !found; i++) {
    await page.keyboard.press('Tab');
    found = (await focused(page))?.cls.includes('fd-launcher');
  }
  assert.ok(found, 'the launcher is reachable with Tab');
  // a visible focus indicator
  const outline = await launcher(page).evaluate((el) => getComputedStyle(el).outlineStyle);
  assert.notEqual(outline, 'none', 'visible focus style on the launcher');

  await page.keyboard.press('Enter');
  await dialog(page).waitFor({ state: 'visible' });
  assert.equal((await focused(page))?.id, 'fd-input', 'focus moved into the input');

  // Tab reaches the Send button and the close button is reachable too
  await page.keyboard.press('Tab');
  assert.match((await focused(page))?.cls ?? '', /fd-send/);
  await page.keyboard.press('Shift+Tab');

  await page.keyboard.press('Escape');
  await dialog(page).waitFor({ state: 'hidden' });
  assert.match((await focused(page))?.cls ?? '', /fd-launcher/, 'focus back on the launcher');
  assert.equal(await launcher(page).getAttribute('aria-expanded'), 'false');
});

// ---------------------------------------------------------------- reconnect
test('reconnect: a dropped socket shows Reconnecting…, resumes with since, queues and sends', async () => {
  const { page } = await newPage();
  const sockets = [];
  let refuseNext = false;
  await page.routeWebSocket(/\/ws$/, (ws) => {
    if (refuseNext) { refuseNext = false; ws.close(); return; }
    ws.connectToServer();
    sockets.push(ws);
  });
  const hellos = [];
  page.on('websocket', (ws) => ws.on('framesent', (f) => {
    try { const m = JSON.parse(f.payload); if (m.type === 'hello') hellos.push(m); } catch { /* not json */ }
  }));

  await page.goto(server.url);
  await openWidget(page);
  await ask(page, 'what are your opening hours');
  const lastId = Math.max(...(await eventRows(page).evaluateAll((r) => r.map((x) => Number(x.dataset.id)))));
  const before = await snapshot(page);

  refuseNext = true;            // the first reconnect attempt fails, the next one works
  await sockets.at(-1).close();
  const status = page.locator('.fd-status');
  await status.waitFor({ state: 'visible' });
  assert.match(await status.textContent(), /Reconnecting/);

  // typed while disconnected: shown as waiting, sent after the reconnect
  const box = messageBox(page);
  await box.fill('what are your opening hours on saturday');
  await box.press('Enter');
  const queued = page.locator('.fd-row--patient').filter({ hasText: 'on saturday' });
  assert.notEqual(await queued.getAttribute('data-state'), 'sent');

  await status.waitFor({ state: 'hidden', timeout: TIMEOUT });
  await page.locator('.fd-row[data-reply-to]').nth(1).waitFor();
  assert.equal(await queued.getAttribute('data-state'), 'sent');

  const resume = hellos.at(-1);
  assert.equal(typeof resume.token, 'string');
  assert.equal(resume.since, lastId, 'resumed with since = last event id seen');
  const afterAll = await snapshot(page);
  assert.deepEqual(afterAll.slice(0, before.length), before, 'nothing shown twice');
  const ids = afterAll.map((l) => l.split('|')[0]);
  assert.equal(new Set(ids).size, ids.length);
});

// ---------------------------------------------------------------- embedding on another origin
test('embed: the one-tag embed works from another origin, with Spanish labels on a Spanish page', async () => {
  // a "clinic site" on localhost:<port>, different origin from the chat server on 127.0.0.1
  const site = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="es-US"><head><meta charset="utf-8"><title>Clínica</title>
      <meta name="application-name" content="Clínica del Río"></head>
      <body><h1>Clínica del Río</h1><a href="#">Inicio</a>
      <script src="${chatOrigin}/widget.js" async></script></body></html>`);
  });
  let chatOrigin = '';
  await new Promise((r) => site.listen(0, '127.0.0.1', r));
  const siteOrigin = `http://localhost:${site.address().port}`;
  const chat = await startServer(['--allow-origin', siteOrigin]);
  chatOrigin = chat.origin;
  try {
    const { page } = await newPage();
    const hellos = [];
    page.on('websocket', (ws) => {
      assert.equal(ws.url(), `ws://127.0.0.1:${chat.port}/ws`);
      ws.on('framesent', (f) => { const m = JSON.parse(f.payload); if (m.type === 'hello') hellos.push(m); });
    });
    await page.goto(siteOrigin + '/');
    await openWidget(page, 'Escríbanos');
    assert.equal(await dialog(page).getAttribute('aria-label'), 'Chat con Clínica del Río');
    const reply = await ask(page, 'what are your opening hours', 'Su mensaje');
    assert.match(await reply.getAttribute('data-entry') ?? '', /^hours/);
    assert.equal(hellos[0].lang, 'es');
    // the stylesheet came from the chat server: the panel is positioned by it
    assert.equal(await dialog(page).evaluate((el) => getComputedStyle(el).position), 'fixed');
  } finally {
    await chat.stop();
    await new Promise((r) => site.close(r));
  }
});

// ---------------------------------------------------------------- e: CSP (runs last: covers every page above)
test('e: no CSP violations and no page errors', async () => {
  const { page } = await newPage();
  const res = await page.goto(server.url);
  const csp = res.headers()['content-security-policy'] ?? '';
  assert.match(csp, /script-src 'self'/, 'the server sends the strict CSP');
  await openWidget(page);
  // the widget stylesheet loaded under the CSP (it is what makes the panel fixed-position)
  assert.equal(await dialog(page).evaluate((el) => getComputedStyle(el).position), 'fixed');
  await ask(page, 'what are your opening hours');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  assert.deepEqual(chrome.problems, []);
});
