// Takes the screenshots in docs/img/ of a handoff seen from both sides: the patient's
// widget and the staff console. Not a test; run it after `make all` when the pages change:
//   node scripts/screenshots.mjs
import { chromium } from 'playwright-core';
import path from 'node:path';
import { startServer, root } from '../tests/lib/server.mjs';
import { addUser } from '../tests/lib/users.mjs';
import { OPEN_TIME } from '../tests/lib/staff.mjs';

const PW = 'correct horse battery staple';
const out = (name) => path.join(root, 'docs/img', name);
const server = await startServer(['--pretend-time', String(OPEN_TIME)]);
await addUser(server.db, 'maria', 'staff', PW, 'Maria');
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-sync', '--disable-component-update'],
});
try {
  const staffCtx = await browser.newContext({ viewport: { width: 1280, height: 760 } });
  const staff = await staffCtx.newPage();
  await staff.goto(server.origin + '/login');
  await staff.getByLabel('Name').fill('maria');
  await staff.getByLabel('Password').fill(PW);
  await staff.getByRole('button', { name: 'Sign in' }).click();
  await staff.waitForURL(/\/staff/);
  await staff.locator('#conn[data-state="online"]').waitFor();

  const patCtx = await browser.newContext({ viewport: { width: 420, height: 760 } });
  const patient = await patCtx.newPage();
  await patient.goto(server.url);
  await patient.getByRole('button', { name: 'Chat with us' }).click();
  const say = async (text) => {
    await patient.getByRole('textbox', { name: 'Your message' }).fill(text);
    await patient.keyboard.press('Enter');
  };
  await say('Hi, I got a bill for my last visit and I think it is wrong. Can I talk to someone?');
  await patient.locator('.fd-row[data-type="handoff"]').waitFor();
  const item = staff.locator('#queue-list .q-item').first();
  await item.waitFor();
  await staff.screenshot({ path: out('staff-queue.png') });
  await item.getByRole('button').click();
  await staff.getByRole('button', { name: 'Take over' }).click();
  await staff.locator('#transcript .ev--system[data-type="claimed"]').waitFor();
  await staff.getByRole('textbox', { name: 'Reply to the patient' }).fill('Hi, this is Maria from billing. I can help: what is the date on the bill?');
  await staff.keyboard.press('Enter');
  await patient.locator('.fd-row[data-role="staff"]').waitFor();
  await say('It says November 3rd.');
  await staff.locator('#transcript .ev--patient').filter({ hasText: 'November 3rd' }).waitFor();
  await staff.screenshot({ path: out('staff-console.png') });
  await patient.screenshot({ path: out('patient-widget.png') });
  console.log('wrote docs/img/staff-queue.png, staff-console.png, patient-widget.png');
} finally {
  await browser.close();
  await server.stop();
}
