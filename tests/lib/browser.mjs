// Debian's chromium through playwright-core, for the browser tests: one launch with the flags the
// project uses everywhere, fresh contexts (each its own profile: cookies, localStorage), and every
// page watched for what a person must never meet, collected in `problems` for a last test to check:
// Content Security Policy violations, uncaught page errors and, when `strict`, console errors
// (other than the 4xx answers a page expects and chromium logs as "Failed to load resource") and
// unexpected dialogs.
//
// CHROMIUM picks another browser binary.
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const TIMEOUT = 15000;

export async function launchBrowser({ strict = false } = {}) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-sync', '--disable-component-update'],
  });
  const contexts = [];
  const problems = [];

  // A fresh profile at the given viewport (or other context options), its page watched.
  async function newPage(options = {}) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
    contexts.push(context);
    await context.exposeBinding('__fdReportViolation', ({ page }, v) => {
      problems.push(`securitypolicyviolation on ${page.url()}: ${v}`);
    });
    await context.addInitScript(() => {
      window.addEventListener('securitypolicyviolation', (e) => window.__fdReportViolation(
        `${e.effectiveDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`), true);
    });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    page.on('console', (m) => {
      const text = m.text();
      if (/Content Security Policy/i.test(text)) problems.push(`console on ${page.url()}: ${text}`);
      else if (strict && m.type() === 'error' &&
               !/Failed to load resource: the server responded with a status of 4\d\d/.test(text)) {
        problems.push(`console error on ${page.url()}: ${text}`);
      }
    });
    page.on('pageerror', (e) => problems.push(`pageerror on ${page.url()}: ${e.message}`));
    if (strict) {
      page.on('dialog', (d) => { problems.push(`unexpected ${d.type()} dialog: ${d.message()}`); d.dismiss(); });
    }
    return { context, page };
  }

  async function close() {
    for (const c of contexts) await c.close().catch(() => {});
    await browser.close().catch(() => {});
  }

  return { newPage, problems, close };
}
