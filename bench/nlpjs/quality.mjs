#!/usr/bin/env node
// Answer quality of the NLP.js peer, measured like `frontdesk eval`.
//
//   node bench/nlpjs/quality.mjs --kb FILE --queries FILE [--threshold X] [--none-feature] [--verbose]
//
// queries: JSONL, {"q": "...", "expect": entry id | null} (null = out of scope: right when handed
// off). Every query goes through the engine one at a time (awaited, nothing concurrent). Prints a
// table and, as its last line, one JSON object:
// {"engine":"nlpjs","queries","in_scope","out_of_scope","threshold","p_at_1","mrr_at_10",
//  "in_scope_accuracy","oos_recall","handoff_rate","p50_us","p99_us","train_ms"}
// with the same definitions as server/eval.c: p_at_1 = in-scope queries whose top intent (even
// below the threshold) is the expected id; in_scope_accuracy = in-scope queries answered (not
// None) with the expected id; oos_recall = out-of-scope queries handed off (None); handoff_rate =
// all queries handed off; latency = one answer() call, p50 = sorted[n/2], p99 = sorted[n*99/100].

import { readFile } from 'node:fs/promises';
import { createEngine } from './engine.mjs';

function usage(msg) {
	if (msg) process.stderr.write(`quality: ${msg}\n`);
	process.stderr.write(
		'usage: node bench/nlpjs/quality.mjs --kb FILE --queries FILE [--threshold X] [--none-feature] [--verbose]\n',
	);
	process.exit(2);
}

function parseArgs(argv) {
	const a = { verbose: false, noneFeature: false };
	for (let i = 0; i < argv.length; i++) {
		const k = argv[i];
		const val = () => (i + 1 < argv.length ? argv[++i] : usage(`${k} needs a value`));
		if (k === '--kb') a.kb = val();
		else if (k === '--queries') a.queries = val();
		else if (k === '--threshold') a.threshold = Number(val());
		else if (k === '--none-feature') a.noneFeature = true;
		else if (k === '--verbose') a.verbose = true;
		else if (k === '-h' || k === '--help') usage();
		else usage(`unknown argument ${k}`);
	}
	if (!a.kb || !a.queries) usage('--kb and --queries are required');
	if (a.threshold !== undefined && !(a.threshold >= 0 && a.threshold <= 1)) usage('--threshold in [0, 1]');
	return a;
}

async function readQueries(path) {
	const out = [];
	const lines = (await readFile(path, 'utf8')).split('\n');
	for (let i = 0; i < lines.length; i++) {
		if (!lines[i].trim()) continue;
		let o;
		try {
			o = JSON.parse(lines[i]);
		} catch {
			o = null;
		}
		if (!o || typeof o.q !== 'string' || !(o.expect === null || typeof o.expect === 'string')) {
			throw new Error(`${path}:${i + 1}: need {"q": string, "expect": id or null}`);
		}
		out.push(o);
	}
	return out;
}

const pad = (s, n) => String(s).padEnd(n);
const num = (x, n = 8) => String(x).padStart(n);
const f4 = (x) => x.toFixed(4);

async function main() {
	const args = parseArgs(process.argv.slice(2));
	const queries = await readQueries(args.queries);
	const engine = await createEngine(args.kb, {
		threshold: args.threshold,
		useNoneFeature: args.noneFeature,
	});

	let nIn = 0, nOos = 0, top1 = 0, mrr = 0, inOk = 0, inWrong = 0, inHandoff = 0, oosOk = 0, handoffs = 0;
	const lat = [];
	const misses = [];
	for (const { q, expect } of queries) {
		const r = await engine.answer(q);
		lat.push(r.ms * 1000);
		if (r.id === null) handoffs++;
		if (expect !== null) {
			nIn++;
			if (r.top === expect) top1++;
			const rank = r.matches.findIndex((m) => m.id === expect);
			if (rank >= 0) mrr += 1 / (rank + 1);
			if (r.id === expect) inOk++;
			else if (r.id !== null) inWrong++;
			else inHandoff++;
		} else {
			nOos++;
			if (r.id === null) oosOk++;
		}
		const ok = expect !== null ? r.id === expect : r.id === null;
		if (args.verbose && !ok) misses.push({ r, expect, q });
	}
	lat.sort((a, b) => a - b);
	const n = lat.length;
	const p50 = n ? Math.round(lat[Math.floor(n / 2)]) : 0;
	const p99 = n ? Math.round(lat[Math.min(Math.floor((n * 99) / 100), n - 1)]) : 0;
	const res = {
		engine: 'nlpjs',
		queries: n,
		in_scope: nIn,
		out_of_scope: nOos,
		threshold: engine.threshold,
		p_at_1: nIn ? top1 / nIn : 0,
		mrr_at_10: nIn ? mrr / nIn : 0,
		in_scope_accuracy: nIn ? inOk / nIn : 0,
		oos_recall: nOos ? oosOk / nOos : 0,
		handoff_rate: n ? handoffs / n : 0,
		p50_us: p50,
		p99_us: p99,
		train_ms: engine.train_ms,
	};

	const out = [];
	if (args.verbose) {
		out.push(`${pad('result', 8)} ${pad('expected', 28)} ${pad('got', 28)} ${'score'.padStart(6)}  question`);
		for (const { r, expect, q } of misses) {
			out.push(
				`${pad(r.id === null ? 'handoff' : 'wrong', 8)} ${pad((expect ?? '(out of scope)').slice(0, 28), 28)} ` +
					`${pad((r.top ?? '-').slice(0, 28), 28)} ${r.score.toFixed(3).padStart(6)}  ${q.slice(0, 80)}`,
			);
		}
	}
	const row = (label, v) => out.push(`  ${pad(label, 34)} ${num(v)}`);
	out.push('');
	out.push(`nlpjs eval: ${args.kb} (${engine.entries.size} entries, ${engine.languages.join('+')}) x ${args.queries}`);
	row('queries', n);
	row('in scope', nIn);
	row('out of scope', nOos);
	row('threshold (NLP.js score)', f4(res.threshold));
	row('train time (ms)', res.train_ms);
	row('precision at 1 (top intent right)', f4(res.p_at_1));
	row('MRR at 10', f4(res.mrr_at_10));
	row('in-scope accuracy (answered right)', f4(res.in_scope_accuracy));
	row('  in scope, answered wrong', inWrong);
	row('  in scope, handed off', inHandoff);
	row('out-of-scope recall (handed off)', f4(res.oos_recall));
	row('handoff rate', f4(res.handoff_rate));
	row('latency p50 (us)', p50);
	row('latency p99 (us)', p99);
	if (engine.warnings.length) row('NLP.js warnings (not printed)', engine.warnings.length);
	const round4 = (k, v) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(4)) : v);
	out.push(JSON.stringify(res, round4));
	process.stdout.write(out.join('\n') + '\n');
}

main().catch((err) => {
	process.stderr.write(`quality: ${err && err.message ? err.message : err}\n`);
	process.exit(1);
});
