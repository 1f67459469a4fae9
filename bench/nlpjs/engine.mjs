// NLP.js peer of frontdesk's answer engine (bench only; the product is the C server).
//
// createEngine(kbPath, { threshold }) reads a frontdesk knowledge-base JSONL file, trains one
// NLP.js NLU model in which every entry is an intent (its question and every alternate are the
// utterances, in the entry's `lang`, default 'en'), and returns
//
//   { answer(text) -> Promise<{ id, score, ms, top, matches }>, train_ms, threshold, languages,
//     entries, warnings }
//
//   id     the entry id NLP.js answers with, or null when NLP.js says None (frontdesk: handoff)
//   score  NLP.js's score for its best intent, before the threshold is applied (NLP.js itself
//          reports score 1 for a None it made from a low score; that is not useful here)
//   ms     wall time of this one nlp.process() call, in milliseconds (fractional)
//   top    the best intent even when it is below the threshold (null when NLP.js has none: no
//          known word, or a tie at the top); used for precision at 1
//   matches up to 10 { id, score }, NLP.js's ranking with score > 0 (empty when top is null)
//
// answer() is async because NLP.js's process() is. `entries` maps id -> the KB entry (for its
// answer text); `warnings` holds what NLP.js would have printed. `useNoneFeature` (see below) is
// an extra option, off by default.
//
// Package: @nlpjs/nlp 4.x (the maintained v4 modular packages: @nlpjs/core, @nlpjs/nlp,
// @nlpjs/lang-en, @nlpjs/lang-es; node-nlp is the v3-compatible wrapper over the same Nlp class
// plus every language and the Microsoft recognizers, which this does not need).
//
// What is NLP.js's own behaviour, unchanged:
// - the classifier: NeuralNlu (one-layer perceptron per intent over stemmed bag of words, default
//   iterations / learning rate / error thresholds), stemmer, stop words and tokenizer of
//   @nlpjs/lang-en / lang-es, the exact-stem dictionary shortcut (useStemDict, on by default),
//   the "intent needs at least one of its words" filter, and the tie-at-the-top -> None rule;
// - the threshold: Nlp.process() turns any best score below `settings.threshold` into the
//   intent 'None'. Its default is NLP.js's own, 0.5 (Nlp.registerDefault() in @nlpjs/nlp
//   src/nlp.js, `threshold: 0.5`), used unless `threshold` is given here;
// - useNoneFeature is left at NLP.js's default (off in Nlp / NlpManager); pass
//   { useNoneFeature: true } to try NLP.js's optional "unknown words push towards None" feature.
//
// What is changed, and why:
// - nlu.log false: NLP.js prints one "Epoch N loss ..." line per training epoch by default;
// - a silent logger: NLP.js warns on the console for utterances made only of stop words; those
//   warnings are collected in `warnings` instead;
// - autoSave/autoLoad false: NLP.js would otherwise write ./model.nlp after training and read it
//   before (that would make reruns load a stale model instead of training);
// - calculateSentiment false: process() would otherwise run a sentiment analyser on every
//   question, which frontdesk does not do and which nothing here reads.
//
// Training is deterministic: NeuralNetwork starts every weight at 0 and trains in corpus order
// (no random initialisation, no shuffling), and the corpus order is the file order.
//
// Importing this module has no side effects beyond loading the NLP.js packages.

import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { containerBootstrap } from '@nlpjs/core';
import { Nlp } from '@nlpjs/nlp';
import { LangEn } from '@nlpjs/lang-en';
import { LangEs } from '@nlpjs/lang-es';

const LANG_PLUGINS = { en: LangEn, es: LangEs };
const NONE = 'None';

function parseKb(text, kbPath) {
	const entries = [];
	const lines = text.split('\n');
	for (let i = 0; i < lines.length; i++) {
		const line = lines[i].trim();
		if (!line) continue;
		let e;
		try {
			e = JSON.parse(line);
		} catch (err) {
			throw new Error(`${kbPath}:${i + 1}: not JSON: ${err.message}`);
		}
		if (!e || typeof e.id !== 'string' || !e.id || typeof e.question !== 'string') {
			throw new Error(`${kbPath}:${i + 1}: need at least "id" and "question" strings`);
		}
		if (e.id === NONE) {
			throw new Error(`${kbPath}:${i + 1}: id "None" is NLP.js's no-intent name`);
		}
		const lang = e.lang || 'en';
		if (!LANG_PLUGINS[lang]) {
			throw new Error(`${kbPath}:${i + 1}: lang "${lang}" (only en and es)`);
		}
		entries.push({ ...e, lang, alternates: Array.isArray(e.alternates) ? e.alternates : [] });
	}
	return entries;
}

export async function createEngine(kbPath, { threshold, useNoneFeature } = {}) {
	const entries = parseKb(await readFile(kbPath, 'utf8'), kbPath);
	if (!entries.length) throw new Error(`${kbPath}: no entries`);

	const languages = [...new Set(entries.map((e) => e.lang))];
	const warnings = [];
	const container = containerBootstrap();
	container.register(
		'logger',
		{
			name: 'logger',
			debug() {},
			info() {},
			log() {},
			trace() {},
			warn: (...args) => warnings.push(args.join(' ')),
			error: (...args) => warnings.push(args.join(' ')),
			fatal: (...args) => warnings.push(args.join(' ')),
		},
		true,
	);
	for (const lang of languages) container.use(LANG_PLUGINS[lang]);

	const settings = {
		languages,
		autoSave: false,
		autoLoad: false,
		calculateSentiment: false,
		nlu: { log: false },
	};
	if (threshold !== undefined && threshold !== null) {
		if (!(typeof threshold === 'number' && threshold >= 0 && threshold <= 1)) {
			throw new Error(`threshold must be a number in [0, 1], got ${threshold}`);
		}
		settings.threshold = threshold;
	}
	if (useNoneFeature) settings.nlu.useNoneFeature = true;
	const nlp = new Nlp(settings, container);

	const byId = new Map();
	for (const e of entries) {
		byId.set(e.id, e);
		const seen = new Set();
		for (const u of [e.question, ...e.alternates]) {
			if (typeof u !== 'string' || !u.trim() || seen.has(u)) continue;
			seen.add(u);
			nlp.addDocument(e.lang, u, e.id);
		}
	}

	const t0 = performance.now();
	await nlp.train();
	const train_ms = Math.round(performance.now() - t0);

	async function answer(text) {
		const s = performance.now();
		const out = await nlp.process(String(text ?? ''));
		const ms = performance.now() - s;
		const best = out.classifications && out.classifications[0];
		const second = out.classifications && out.classifications[1];
		let top = null;
		let score = 0;
		if (best && best.intent !== NONE && best.score > 0 && !(second && second.score === best.score)) {
			top = best.intent;
			score = best.score;
		}
		const id = out.intent && out.intent !== NONE ? out.intent : null;
		const matches = [];
		if (top) {
			for (const c of out.classifications) {
				if (matches.length === 10) break;
				if (c.intent !== NONE && c.score > 0) matches.push({ id: c.intent, score: c.score });
			}
		}
		return { id, score, ms, top, matches };
	}

	return {
		answer,
		train_ms,
		threshold: nlp.settings.threshold,
		languages,
		entries: byId,
		warnings,
	};
}
