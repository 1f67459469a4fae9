// The command line a clinic's admin uses: kb import / export, ask, eval.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bin, root } from '../lib/server.mjs';

const dir = mkdtempSync(path.join(tmpdir(), 'frontdesk-cli-'));
const db = path.join(dir, 'cli.db');
const run = (...args) => spawnSync(bin, args, { encoding: 'utf8', cwd: root });
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('kb import loads the default knowledge base, export gives it back', () => {
  const r = run('kb', 'import', '--db', db, 'kb/clinic.jsonl', 'kb/clinic-es.jsonl');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /imported 112 entries/);
  const out = run('kb', 'export', '--db', db);
  assert.equal(out.status, 0);
  const lines = out.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 112);
  const hours = lines.find((e) => e.id === 'hours-weekday');
  assert.ok(hours.alternates.length >= 3 && hours.answer.length > 0 && hours.lang === 'en');
});

test('a bad line is reported as FILE:LINE and nothing is imported', () => {
  const bad = path.join(dir, 'bad.jsonl');
  writeFileSync(bad, [
    JSON.stringify({ id: 'new-entry', question: 'Do you sell gift cards?', answer: 'No.' }),
    JSON.stringify({ id: 'hours-weekday', question: 'changed', answer: 'changed' }),
    '{"id": "broken", "question": ',
    JSON.stringify({ id: 'no-answer', question: 'q' }),
  ].join('\n') + '\n');
  const r = run('kb', 'import', '--db', db, bad);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`${bad.replace(/[.]/g, '\\.')}:3: invalid JSON`));
  assert.match(r.stderr, /:4: missing "answer"/);
  assert.match(r.stderr, /nothing imported/);
  const lines = run('kb', 'export', '--db', db).stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 112, 'no entry was added');
  assert.notEqual(lines.find((e) => e.id === 'hours-weekday').answer, 'changed', 'no entry was changed');
});

test('import is an upsert by id', () => {
  const up = path.join(dir, 'up.jsonl');
  writeFileSync(up, JSON.stringify({ id: 'parking', question: 'Where do I park?', alternates: ['parking'],
    answer: 'Park in the new garage on 2nd Street.', category: 'locations' }) + '\n');
  assert.equal(run('kb', 'import', '--db', db, up).status, 0);
  const lines = run('kb', 'export', '--db', db).stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 112);
  assert.equal(lines.find((e) => e.id === 'parking').answer, 'Park in the new garage on 2nd Street.');
});

test('ask prints the decision as JSON: answer, handoff, emergency', () => {
  const ask = (q) => JSON.parse(run('ask', '--db', db, q).stdout);
  const a = ask('where can I park my car?');
  assert.equal(a.type, 'answer');
  assert.equal(a.entry, 'parking');
  assert.ok(a.confidence > 0 && a.confidence <= 1);
  assert.equal(a.text, 'Park in the new garage on 2nd Street.', 'the upserted answer is used');
  const h = ask('what is the capital of france');
  assert.equal(h.type, 'handoff');
  assert.equal(h.reason, 'low_confidence');
  const e = ask('my husband collapsed and is not breathing');
  assert.equal(e.type, 'emergency');
  assert.match(e.text, /911/);
});

test('eval prints a table and a last line of JSON with the measures', () => {
  const queries = path.join(dir, 'q.jsonl');
  writeFileSync(queries, [
    { q: 'when do you open in the morning', expect: 'hours-weekday' },
    { q: 'how much is a flu shot', expect: 'price-flu-shot' },
    { q: 'who won the world cup', expect: null },
  ].map((x) => JSON.stringify(x)).join('\n') + '\n');
  const r = run('eval', '--kb', 'kb/clinic.jsonl', '--queries', queries);
  assert.equal(r.status, 0, r.stderr);
  const last = JSON.parse(r.stdout.trim().split('\n').pop());
  for (const k of ['queries', 'p_at_1', 'mrr_at_10', 'in_scope_accuracy', 'oos_recall', 'handoff_rate', 'p50_us', 'p99_us'])
    assert.ok(k in last, k);
  assert.equal(last.queries, 3);
  assert.equal(last.oos_recall, 1);
  assert.match(r.stdout, /in-scope accuracy/);
});
