// Starts a real frontdesk server on a free port with a fresh SQLite file, for the
// integration and browser tests. FRONTDESK_BIN picks the binary (the sanitizer
// build runs the same tests against build-asan/frontdesk).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const bin = process.env.FRONTDESK_BIN || path.join(root, 'build/frontdesk');

// FRONTDESK_SLOW=N says the server runs about N times slower than usual: tests/run-long.sh sets
// it for the server under valgrind. Only the bounds a test waits within for the server (start-up,
// a reply, a close, a log line) are multiplied by it, never what a test asserts or the pauses
// that wait for the server's wall clock (a rate limit refilling, a session expiring).
export const SLOW = Math.max(1, Number(process.env.FRONTDESK_SLOW) || 1);
export function slow(ms) { return ms * SLOW; }
// How long a server may take to print "listening" (FRONTDESK_START_TIMEOUT_MS overrides).
export const startTimeoutMs = Number(process.env.FRONTDESK_START_TIMEOUT_MS) || slow(20000);

// Returns { url, port, origin, db, dir, proc, stop(), stderr() }.
// extraArgs are appended to `frontdesk serve`.
export async function startServer(extraArgs = [], { keepDir } = {}) {
  const dir = keepDir || mkdtempSync(path.join(tmpdir(), 'frontdesk-test-'));
  const db = path.join(dir, 'test.db');
  const args = ['serve', '--listen', '127.0.0.1:0', '--db', db,
                '--web', path.join(root, 'web'), '--kb-dir', path.join(root, 'kb'), ...extraArgs];
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '', scheme = 'http';
  proc.stderr.on('data', (d) => { err += d; });
  const port = await new Promise((resolve, reject) => {
    // a server that did not start is killed: left running, it would hold the test run open
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error('server did not start:\n' + err)); }, startTimeoutMs);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (https?):\/\/127\.0\.0\.1:(\d+)\//);
      if (m) { clearTimeout(timer); scheme = m[1]; resolve(Number(m[2])); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}:\n${err}`)); });
  });
  const origin = `${scheme}://127.0.0.1:${port}`;
  return {
    url: origin + '/', port, origin, db, dir, proc,
    stderr: () => err,
    async stop({ keepFiles = false } = {}) {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', (code, sig) => r({ code, sig })));
        proc.kill('SIGTERM');
        const res = await exited;
        if (!keepFiles && !keepDir) rmSync(dir, { recursive: true, force: true });
        return res;
      }
      if (!keepFiles && !keepDir) rmSync(dir, { recursive: true, force: true });
      return { code: proc.exitCode, sig: proc.signalCode };
    },
  };
}
