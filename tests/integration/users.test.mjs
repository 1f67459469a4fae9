// Staff and admin accounts from the command line: `frontdesk user ...` on a
// fresh database. Passwords come on stdin, never as arguments, and never show.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bin, root } from '../lib/server.mjs';
import { addUser } from '../lib/users.mjs';

const dir = mkdtempSync(path.join(tmpdir(), 'frontdesk-users-'));
const db = path.join(dir, 'sub', 'users.db');   // the parent directory is created too
const user = (args, input) =>
  spawnSync(bin, ['user', ...args], { encoding: 'utf8', cwd: root, input: input ?? '' });
const list = () => {
  const r = user(['list', '--db', db]);
  assert.equal(r.status, 0, r.stderr);
  const [head, ...rows] = r.stdout.trim().split('\n');
  return { head, text: r.stdout, rows: rows.map((l) => l.trim().split(/\s{2,}/)) };
};
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('add takes the password from stdin and list shows the account, never its hash', async () => {
  const r = user(['add', 'maria', '--role', 'admin', '--display', 'María López', '--db', db],
                 'a long enough secret\n');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /added admin maria/);
  await addUser(db, 'tom', 'staff', 'another good one', 'Tom');
  const l = list();
  assert.match(l.head, /NAME\s+DISPLAY\s+ROLE\s+STATUS\s+CREATED/);
  const today = new Date().toISOString().slice(0, 10);
  assert.deepEqual(l.rows, [
    ['maria', 'María López', 'admin', 'enabled', today],
    ['tom', 'Tom', 'staff', 'enabled', today],
  ]);
  assert.doesNotMatch(l.text, /\$argon2|a long enough secret/);
  const file = readFileSync(db);
  assert.ok(!file.includes('a long enough secret'), 'the password is not in the database file');
  assert.ok(file.includes('$argon2id$v=19$'), 'an argon2id hash is');
});

test('a taken name is refused with exit 1 and changes nothing', () => {
  const r = user(['add', 'maria', '--role', 'staff', '--db', db], 'yet another password\n');
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim(), 'frontdesk: user maria exists');
  assert.equal(list().rows.find((row) => row[0] === 'maria')[2], 'admin');
});

test('weak passwords, bad names and missing passwords are refused with exit 1', () => {
  const cases = [
    [['add', 'ana', '--role', 'staff'], 'short\n', /password must be at least 10 characters/],
    [['add', 'ana', '--role', 'staff'], '123456789\n', /at least 10 characters/],
    [['add', 'ana', '--role', 'staff'], '', /no password/],
    [['add', 'Ana', '--role', 'staff'], 'long enough password\n', /a-z 0-9/],
    [['add', 'ana', '--role', 'staff', '--display', 'two\tlines'], 'long enough password\n', /display name/],
  ];
  for (const [args, input, message] of cases) {
    const r = user([...args, '--db', db], input);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
  assert.equal(list().rows.length, 2);
});

test('a password given as an argument is a usage error, and nothing is added', () => {
  const r = user(['add', 'ana', 'hunter2hunter2', '--role', 'staff', '--db', db], 'long enough password\n');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /password is never an argument/);
  assert.equal(user(['password', 'tom', 'hunter2hunter2', '--db', db]).status, 2);
  assert.equal(list().rows.length, 2);
});

test('other usage errors exit 2', () => {
  for (const args of [[], ['frobnicate'], ['add', 'ana'], ['add', 'ana', '--role', 'root'],
                      ['add', '--role', 'staff'], ['list', 'extra'], ['disable'], ['add', 'ana', '--role'],
                      ['list', '--bogus']]) {
    const r = user([...args, '--db', db], 'long enough password\n');
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
  }
});

test('disable and enable an account', () => {
  let r = user(['disable', 'tom', '--db', db]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /tom disabled/);
  assert.equal(list().rows.find((row) => row[0] === 'tom')[3], 'disabled');
  r = user(['enable', 'tom', '--db', db]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(list().rows.find((row) => row[0] === 'tom')[3], 'enabled');
  r = user(['disable', 'nobody', '--db', db]);
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim(), 'frontdesk: no user nobody');
});

test('disabling the last admin warns', () => {
  const r = user(['disable', 'maria', '--db', db]);
  assert.equal(r.status, 0);
  assert.match(r.stderr, /no enabled admin/);
  assert.equal(user(['enable', 'maria', '--db', db]).status, 0);
});

test('password sets a new one from stdin; the rules apply', () => {
  let r = user(['password', 'tom', '--db', db], 'tom has a new password\r\n');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /password of tom changed/);
  r = user(['password', 'tom', '--db', db], 'tiny\n');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /at least 10 characters/);
  r = user(['password', 'nobody', '--db', db], 'long enough password\n');
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim(), 'frontdesk: no user nobody');
});

test('commands other than add do not create a database', () => {
  const missing = path.join(dir, 'missing.db');
  const r = user(['list', '--db', missing]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no database at/);
});

test('addUser rejects on failure', async () => {
  await assert.rejects(addUser(db, 'maria', 'staff', 'whatever password'), /exists/);
});
