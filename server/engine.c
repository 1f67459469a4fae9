/* engine: see engine.h. */
#include "engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "hours.h"
#include "model.h"
#include "strmap.h"
#include "triage.h"
#include "util.h"

#define MAX_QUERY_TERMS (TEXT_MAX_WORDS * 2)
#define MAX_FEATS (TEXT_MAX_WORDS * 12)  /* classifier features of one text */
#define FTS_TERMS 6           /* rarest terms sent to FTS5: ranking cost grows with matches */
#define FTS_ANCHORS 3         /* terms tried as anchors when all are common */
#define FTS_ANCHOR_DF 10000   /* beside an anchor, terms in more entries are left out */
#define FTS_LIMIT 40          /* entries retrieved */
#define FTS_ROW_BUDGET 1000   /* entries FTS5 may rank for one question, before anchors */
#define ANSWER_WEIGHT 0.8     /* matching an answer counts less than a phrasing */
#define MODEL_EPOCHS 30
#define MODEL_MIN_EPOCHS 5
#define MODEL_MIN_SEEN 20     /* epochs x phrasings per entry, or no classifier */
#define MODEL_BUDGET 6e7      /* phrasings x entries x epochs: about 3 s of training */
#define MODEL_SHARE 0.5       /* score = probability^share * similarity^(1-share) */
#define RERANK_TOP 10         /* the best few by score are put in order again, by */
#define RERANK_PROB 0.7       /* RERANK_PROB x ln(probability) */
#define RERANK_BM25 5.0       /* + RERANK_BM25 x entry BM25 / the best of the few */
#define BM25_K1 1.2
#define BM25_B 0.75

/* The read-only index; swapped whole on reload. */
typedef struct ix {
	kb_list kb;                 /* owns the entry strings */
	engine_entry *entries;
	size_t n_entries;
	strmap *by_id;
	strmap *vocab;              /* term or "a b" bigram -> term id */
	double *idf;
	size_t n_terms, cap_terms;
	double unknown_idf;
	/* phrasings, contiguous per entry */
	size_t n_phrases, cap_phrases;
	int *ph_entry;
	size_t *ph_off;             /* into terms[]; ph_off[i+1] ends phrase i */
	double *ph_norm;
	double *ph_weight;
	int *terms;
	size_t n_pterms, cap_pterms;
	size_t *ent_first, *ent_count;
	double *ent_len;            /* per entry: terms over all its phrasings (BM25) */
	double avg_ent_len;
	/* typo correction: folded word -> term id, and its one-deletion variants */
	strmap *surface;
	strmap *deletes;            /* variant -> index into words[] */
	char **words;
	size_t n_words, cap_words;
	char **fts_rows;            /* the unigram terms of each phrasing, for FTS5 */
	/* the classifier over phrasings; NULL for very large knowledge bases */
	model *lr;
	uint64_t lr_key;            /* a hash of everything lr was trained on */
	int lr_reuse;               /* lr is the previous index's: engine_reload moves it over */
	strmap *fvocab;             /* classifier feature -> id */
	double *fidf;
	size_t cap_feat;
	int n_feat;
} ix;

struct engine {
	store *st;
	text_analyzer *ta;
	ix *ix;
	hours_config *hours;        /* NULL when the store has none */
	int64_t (*now_unix)(void);
	double threshold;
	unsigned trainings;         /* classifiers trained since open (engine_trainings) */
	sqlite3_stmt *fts;          /* every match with its bm25 (fts_run keeps the best) */
	sqlite3_stmt *fts_all;      /* every match, unranked: when there are few */
};

static int64_t real_clock(void)
{
	return util_now_us() / 1000000;
}

const hours_config *engine_hours(const engine *e)
{
	return e->hours;
}

int64_t engine_now(const engine *e)
{
	return e->now_unix();
}

void engine_set_clock(engine *e, int64_t (*now_unix)(void))
{
	e->now_unix = now_unix ? now_unix : real_clock;
}

/* Loads the "hours" config from the store's meta table, if any. */
static int load_hours(engine *e, hours_config **out, char *err, size_t errsz)
{
	char *buf = malloc(65536);
	json_t *j;
	json_error_t jerr;
	int rc = 0;
	*out = NULL;
	if (!buf) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if (store_meta_get(e->st, "hours", buf, 65536) == 0 && buf[0]) {
		char why[256];
		j = json_loads(buf, JSON_REJECT_DUPLICATES, &jerr);
		*out = j ? hours_config_parse(j, why, sizeof why) : NULL;
		if (!*out) {
			snprintf(err, errsz, "opening hours: %s", j ? why : jerr.text);
			rc = -1;
		}
		json_decref(j);
	}
	free(buf);
	return rc;
}

const char *engine_kind_name(engine_kind k)
{
	switch (k) {
	case ENGINE_ANSWER: return "answer";
	case ENGINE_HANDOFF: return "handoff";
	case ENGINE_EMERGENCY: return "emergency";
	}
	return "handoff";
}

const char *engine_reason_name(engine_reason r)
{
	switch (r) {
	case ENGINE_REASON_NONE: return "none";
	case ENGINE_REASON_LOW_CONFIDENCE: return "low_confidence";
	case ENGINE_REASON_ASKED_FOR_PERSON: return "asked_for_person";
	case ENGINE_REASON_EMERGENCY: return "emergency";
	case ENGINE_REASON_REVIEW_DUE: return "review_due";
	}
	return "none";
}

static void ix_free(ix *x)
{
	if (!x)
		return;
	kb_list_free(&x->kb);
	free(x->entries);
	strmap_free(x->by_id);
	strmap_free(x->vocab);
	free(x->idf);
	free(x->ph_entry);
	free(x->ph_off);
	free(x->ph_norm);
	free(x->ph_weight);
	free(x->terms);
	free(x->ent_first);
	free(x->ent_count);
	free(x->ent_len);
	strmap_free(x->surface);
	strmap_free(x->deletes);
	for (size_t i = 0; i < x->n_words; i++)
		free(x->words[i]);
	free(x->words);
	for (size_t i = 0; x->fts_rows && i < x->n_phrases; i++)
		free(x->fts_rows[i]);
	free(x->fts_rows);
	model_free(x->lr);
	strmap_free(x->fvocab);
	free(x->fidf);
	free(x);
}

/* Grows *arr (of elem bytes) so that need elements fit. */
static int reserve(void **arr, size_t *cap, size_t need, size_t elem)
{
	void *p;
	size_t ncap;
	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 256;
	while (ncap < need)
		ncap *= 2;
	if (!(p = realloc(*arr, ncap * elem)))
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* Sorts and dedupes ids in place; returns the new count. */
static size_t sort_unique(int *ids, size_t n)
{
	size_t m = 0;
	qsort(ids, n, sizeof *ids, cmp_int);
	for (size_t i = 0; i < n; i++)
		if (m == 0 || ids[m - 1] != ids[i])
			ids[m++] = ids[i];
	return m;
}

/* Term id for s, adding it to the vocabulary when add is set; -1 if absent. */
static int term_id(ix *x, const char *s, int add)
{
	int id = strmap_get(x->vocab, s, -1);
	if (id >= 0 || !add)
		return id;
	if (reserve((void **)&x->idf, &x->cap_terms, x->n_terms + 1, sizeof *x->idf) < 0)
		return -2;
	id = (int)x->n_terms++;
	x->idf[id] = 0; /* document frequency until finish_idf */
	if (strmap_put(x->vocab, s, id) < 0)
		return -2;
	return id;
}

/* Collects the term ids (unigrams, then bigrams of neighbours) of analysed
 * text into ids[]; unknown terms get -1 - position when add is 0. */
static size_t collect_terms(ix *x, const text_terms *tt, const char *const *terms, int add, int *ids)
{
	size_t n = 0;
	char bigram[2 * TEXT_MAX_WORD + 2];
	for (size_t i = 0; i < tt->n; i++) {
		int id = term_id(x, terms[i], add);
		ids[n++] = id >= 0 ? id : -1 - (int)i;
	}
	for (size_t i = 0; i + 1 < tt->n && n < MAX_QUERY_TERMS; i++) {
		int id;
		snprintf(bigram, sizeof bigram, "%s %s", terms[i], terms[i + 1]);
		id = term_id(x, bigram, add);
		ids[n++] = id >= 0 ? id : -1000 - (int)i;
	}
	return n;
}

static int add_surface(ix *x, const char *word, int id)
{
	size_t wl = strlen(word);
	char variant[TEXT_MAX_WORD + 1];
	if (strmap_get(x->surface, word, -1) >= 0)
		return 0;
	if (strmap_put(x->surface, word, id) < 0)
		return -1;
	if (wl < 4)
		return 0;
	if (reserve((void **)&x->words, &x->cap_words, x->n_words + 1, sizeof *x->words) < 0 ||
	    !(x->words[x->n_words] = strdup(word)))
		return -1;
	x->n_words++;
	/* The word itself and each one-letter deletion point back to it
	 * (symmetric-delete spelling correction: one lookup per variant). */
	for (size_t k = 0; k <= wl; k++) {
		if (k == wl) {
			memcpy(variant, word, wl + 1);
		} else {
			memcpy(variant, word, k);
			memcpy(variant + k, word + k + 1, wl - k);
		}
		if (strmap_get(x->deletes, variant, -1) < 0 &&
		    strmap_put(x->deletes, variant, (int)x->n_words - 1) < 0)
			return -1;
	}
	return 0;
}

static int add_phrase(ix *x, text_analyzer *ta, int entry, const char *textin, text_lang lang,
		      double weight, int *seen_entry)
{
	text_terms tt;
	int ids[MAX_QUERY_TERMS];
	size_t n, rowlen = 0;
	double norm = 0;
	char *row;

	text_analyze(ta, textin, strlen(textin), (int)lang, &tt);
	n = collect_terms(x, &tt, tt.term, 1, ids);
	for (size_t i = 0; i < n; i++)
		if (ids[i] < 0)
			return -1;
	n = sort_unique(ids, n);
	if (reserve((void **)&x->terms, &x->cap_pterms, x->n_pterms + n, sizeof *x->terms) < 0)
		return -1;
	if (reserve((void **)&x->ph_entry, &x->cap_phrases, x->n_phrases + 2, sizeof *x->ph_entry) < 0)
		return -1;
	/* the parallel arrays share cap_phrases: grow them to the same size */
	{
		size_t cap = x->cap_phrases;
		void *a = realloc(x->ph_off, (cap + 1) * sizeof *x->ph_off);
		if (!a)
			return -1;
		x->ph_off = a;
		if (!(a = realloc(x->ph_norm, cap * sizeof *x->ph_norm)))
			return -1;
		x->ph_norm = a;
		if (!(a = realloc(x->ph_weight, cap * sizeof *x->ph_weight)))
			return -1;
		x->ph_weight = a;
		if (!(a = realloc(x->fts_rows, cap * sizeof *x->fts_rows)))
			return -1;
		x->fts_rows = a;
	}
	x->ph_off[x->n_phrases] = x->n_pterms;
	memcpy(x->terms + x->n_pterms, ids, n * sizeof *ids);
	x->n_pterms += n;
	x->ph_off[x->n_phrases + 1] = x->n_pterms;
	x->ph_entry[x->n_phrases] = entry;
	x->ph_norm[x->n_phrases] = norm; /* computed once IDF is known */
	x->ph_weight[x->n_phrases] = weight;
	for (size_t i = 0; i < tt.n; i++)
		rowlen += strlen(tt.term[i]) + 1;
	if (!(row = malloc(rowlen + 1)))
		return -1;
	row[0] = '\0';
	for (size_t i = 0, used = 0; i < tt.n; i++) {
		size_t l = strlen(tt.term[i]);
		memcpy(row + used, tt.term[i], l);
		row[used + l] = i + 1 < tt.n ? ' ' : '\0';
		used += l + 1;
	}
	if (tt.n == 0)
		row[0] = '\0';
	x->fts_rows[x->n_phrases] = row;
	x->n_phrases++;
	/* document frequency counts entries, not phrasings */
	for (size_t i = 0; i < n; i++) {
		if (seen_entry[ids[i]] != entry) {
			seen_entry[ids[i]] = entry;
			x->idf[ids[i]] += 1;
		}
	}
	if (weight >= 1.0)
		for (size_t i = 0; i < tt.n; i++)
			if (add_surface(x, tt.word[i], strmap_get(x->vocab, tt.term[i], -1)) < 0)
				return -1;
	return 0;
}

/* The classifier feature id of key, added when add is set: -1 unknown,
 * -2 out of memory. */
static int feature_id(ix *x, const char *key, int add)
{
	int id = strmap_get(x->fvocab, key, -1);
	if (id >= 0 || !add)
		return id;
	if (reserve((void **)&x->fidf, &x->cap_feat, (size_t)x->n_feat + 1, sizeof *x->fidf) < 0 ||
	    strmap_put(x->fvocab, key, x->n_feat) < 0)
		return -2;
	x->fidf[x->n_feat] = 0;
	return x->n_feat++;
}

/* Classifier features of analysed text (stop words kept): stems and the
 * bigrams of neighbours, as ids in x->fvocab (added when add is set; unknown
 * ones skipped otherwise). Returns the number of distinct ids in f. */
static size_t model_features(ix *x, const text_terms *tt, const char *const *terms, int add,
			     int *f)
{
	char bigram[2 * TEXT_MAX_WORD + 2];
	size_t n = 0;
	for (size_t i = 0; i < tt->n && n < MAX_FEATS; i++) {
		for (int b = 0; b < 2; b++) {
			const char *key = terms[i];
			int id;
			if (b) {
				if (i + 1 >= tt->n)
					break;
				size_t l1 = strlen(terms[i]), l2 = strlen(terms[i + 1]);
				/* memcpy, not snprintf: this runs for every word of
				 * every question */
				if (l1 + l2 + 2 > sizeof bigram)
					break;
				memcpy(bigram, terms[i], l1);
				bigram[l1] = ' ';
				memcpy(bigram + l1 + 1, terms[i + 1], l2 + 1);
				key = bigram;
			}
			id = feature_id(x, key, add);
			if (id == -2)
				return 0;
			if (id >= 0 && n < MAX_FEATS)
				f[n++] = id;
		}
	}
	/* Character trigrams of each word, with boundaries ("<ap", "app", ...):
	 * they carry a misspelt or inflected word most of the way to its entry. */
	for (size_t i = 0; i < tt->n && n < MAX_FEATS; i++) {
		char padded[TEXT_MAX_WORD + 3], key[5] = "#";
		size_t wl = strlen(tt->word[i]);
		if (wl > TEXT_MAX_WORD)
			wl = TEXT_MAX_WORD;
		padded[0] = '<';
		memcpy(padded + 1, tt->word[i], wl);
		padded[wl + 1] = '>';
		for (size_t k = 0; k + 3 <= wl + 2 && n < MAX_FEATS; k++) {
			int id;
			memcpy(key + 1, padded + k, 3);
			key[4] = '\0';
			id = feature_id(x, key, add);
			if (id == -2)
				return 0;
			if (id >= 0)
				f[n++] = id;
		}
	}
	return sort_unique(f, n);
}

/* Unit-length IDF weights for features f[0..n). */
static void model_values(const ix *x, const int *f, size_t n, float *v)
{
	double norm = 0;
	for (size_t k = 0; k < n; k++)
		norm += x->fidf[f[k]] * x->fidf[f[k]];
	norm = norm > 0 ? sqrt(norm) : 1;
	for (size_t k = 0; k < n; k++)
		v[k] = (float)(x->fidf[f[k]] / norm);
}

/* Trains the classifier: one example per phrasing (question and
 * alternates, not answers), weighted exactly as a question is at query
 * time. */
/* FNV-1a over n bytes, continuing from h. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

/* Trains the classifier, or marks it to take prev's (lr_reuse) when prev was
 * trained on exactly the same examples (training is deterministic, so it would come out the
 * same): publishing a new answer, a review date or a category changes no
 * phrasing, and retraining would block the event loop for nothing (about
 * 0.3 s for the default clinic, a minute under valgrind). prev may be NULL. */
static int train_model(ix *x, text_analyzer *ta, ix *prev)
{
	model_example *ex = NULL;
	int *feats = NULL, *seen = NULL;
	float *vals = NULL;
	size_t n_ex = 0, used = 0, cap = 0, n_phr = 0;
	int rc = -1, epochs;

	for (size_t i = 0; i < x->kb.n; i++)
		n_phr += 1 + x->kb.v[i].n_alternates;
	/* Training costs phrasings x entries per epoch: fewer epochs for a big
	 * knowledge base, and no classifier below MODEL_MIN_EPOCHS (similarity
	 * alone), so loading never takes more than a few seconds. */
	epochs = MODEL_EPOCHS;
	if ((double)n_phr * (double)x->n_entries * MODEL_EPOCHS > MODEL_BUDGET)
		epochs = (int)(MODEL_BUDGET / ((double)n_phr * (double)x->n_entries));
	/* An entry must be seen often enough to be learnt: 5 epochs over 3,000
	 * entries of one phrasing each leave every probability near 1/3,000,
	 * and the score (a geometric mean with it) would hand off even an
	 * entry's own question. */
	if (epochs < MODEL_MIN_EPOCHS ||
	    (double)epochs * (double)n_phr < MODEL_MIN_SEEN * (double)x->n_entries)
		return 0;
	if (!(x->fvocab = strmap_new()))
		return -1;
	if (!(ex = calloc(n_phr + 1, sizeof *ex)))
		goto out;
	for (size_t i = 0; i < x->kb.n; i++) {
		const kb_entry *k = &x->kb.v[i];
		for (size_t a = 0; a <= k->n_alternates; a++) {
			const char *t = a == 0 ? k->question : k->alternates[a - 1];
			text_terms tt;
			int f[MAX_FEATS];
			size_t n;
			text_analyze_all(ta, t, strlen(t), (int)x->entries[i].lang, &tt);
			n = model_features(x, &tt, tt.term, 1, f);
			if (n == 0)
				continue;
			if (reserve((void **)&feats, &cap, used + n, sizeof *feats) < 0)
				goto out;
			memcpy(feats + used, f, n * sizeof *f);
			ex[n_ex].n = (int)n;
			ex[n_ex].label = (int)i;
			ex[n_ex].feat = (const int *)(uintptr_t)used; /* offset until feats settles */
			n_ex++;
			used += n;
		}
	}
	/* IDF over entries. */
	if (!(seen = malloc(((size_t)x->n_feat + 1) * sizeof *seen)) ||
	    !(vals = malloc((used + 1) * sizeof *vals)))
		goto out;
	for (int f = 0; f < x->n_feat; f++)
		seen[f] = -1;
	for (size_t e = 0; e < n_ex; e++) {
		const int *f = feats + (uintptr_t)ex[e].feat;
		for (int k = 0; k < ex[e].n; k++) {
			if (seen[f[k]] != ex[e].label) {
				seen[f[k]] = ex[e].label;
				x->fidf[f[k]] += 1;
			}
		}
	}
	for (int f = 0; f < x->n_feat; f++)
		x->fidf[f] = log(1.0 + (double)x->n_entries / x->fidf[f]);
	for (size_t e = 0; e < n_ex; e++) {
		size_t off = (uintptr_t)ex[e].feat;
		ex[e].feat = feats + off;
		ex[e].val = vals + off;
		model_values(x, ex[e].feat, (size_t)ex[e].n, vals + off);
	}
	/* The training input, whole: sizes, then every example's label and
	 * feature ids (the values follow from them: IDF over the same ids). */
	{
		size_t dims[4] = { n_ex, used, (size_t)x->n_feat, x->n_entries };
		x->lr_key = fnv(1469598103934665603ULL, dims, sizeof dims);
		x->lr_key = fnv(x->lr_key, &epochs, sizeof epochs);
		for (size_t e = 0; e < n_ex; e++) {
			x->lr_key = fnv(x->lr_key, &ex[e].label, sizeof ex[e].label);
			x->lr_key = fnv(x->lr_key, ex[e].feat, (size_t)ex[e].n * sizeof *ex[e].feat);
		}
	}
	if (prev && prev->lr && prev->lr_key == x->lr_key) {
		x->lr_reuse = 1;   /* taken over once the new index is sure to be used */
		rc = 0;
		goto out;
	}
	x->lr = model_train(ex, n_ex, x->n_feat, (int)x->n_entries, epochs, 1);
	rc = x->lr ? 0 : -1;
out:
	free(ex);
	free(feats);
	free(vals);
	free(seen);
	return rc;
}

static ix *ix_build(store *st, text_analyzer *ta, ix *prev, char *err, size_t errsz)
{
	ix *x = calloc(1, sizeof *x);
	int *seen = NULL;
	size_t seen_cap = 0, seen_init = 0;

	if (!x || !(x->by_id = strmap_new()) || !(x->vocab = strmap_new()) ||
	    !(x->surface = strmap_new()) || !(x->deletes = strmap_new()))
		goto oom;
	if (store_kb_load(st, &x->kb, err, errsz) < 0)
		goto fail;
	x->n_entries = x->kb.n;
	x->entries = calloc(x->n_entries + 1, sizeof *x->entries);
	x->ent_first = calloc(x->n_entries + 1, sizeof *x->ent_first);
	x->ent_count = calloc(x->n_entries + 1, sizeof *x->ent_count);
	if (!x->entries || !x->ent_first || !x->ent_count)
		goto oom;
	for (size_t i = 0; i < x->n_entries; i++) {
		const kb_entry *k = &x->kb.v[i];
		text_lang lang = strcmp(k->lang, "es") == 0 ? TEXT_LANG_ES : TEXT_LANG_EN;
		x->entries[i] = (engine_entry){ k->id, k->question, k->answer, k->category, lang };
		if (strmap_put(x->by_id, k->id, (int)i) < 0)
			goto oom;
		x->ent_first[i] = x->n_phrases;
		for (size_t a = 0; a <= k->n_alternates + 1; a++) {
			const char *t = a == 0 ? k->question :
					a <= k->n_alternates ? k->alternates[a - 1] : k->answer;
			/* seen[] must cover every term id that may be added; only
			 * the newly grown part needs marking (not the whole tail on
			 * every phrasing: that was quadratic on 100k entries) */
			if (reserve((void **)&seen, &seen_cap, x->n_terms + MAX_QUERY_TERMS + 1, sizeof *seen) < 0)
				goto oom;
			for (; seen_init < seen_cap; seen_init++)
				seen[seen_init] = -1;
			if (add_phrase(x, ta, (int)i, t, lang,
				       a <= k->n_alternates ? 1.0 : ANSWER_WEIGHT, seen) < 0)
				goto oom;
		}
		x->ent_count[i] = x->n_phrases - x->ent_first[i];
	}
	/* IDF over entries, and each phrasing's vector norm. */
	for (size_t t = 0; t < x->n_terms; t++)
		x->idf[t] = log(1.0 + (double)x->n_entries / x->idf[t]);
	x->unknown_idf = log(1.0 + (double)x->n_entries);
	for (size_t p = 0; p < x->n_phrases; p++) {
		double norm = 0;
		for (size_t k = x->ph_off[p]; k < x->ph_off[p + 1]; k++)
			norm += x->idf[x->terms[k]] * x->idf[x->terms[k]];
		x->ph_norm[p] = sqrt(norm);
	}
	/* Each entry's length for BM25: its phrasings' terms (answer included),
	 * as FTS5's row for it. */
	if (!(x->ent_len = calloc(x->n_entries + 1, sizeof *x->ent_len)))
		goto oom;
	for (size_t i = 0; i < x->n_entries; i++) {
		size_t p0 = x->ent_first[i], p1 = p0 + x->ent_count[i];
		x->ent_len[i] = (double)(x->ph_off[p1] - x->ph_off[p0]);
		x->avg_ent_len += x->ent_len[i];
	}
	if (x->n_entries)
		x->avg_ent_len /= (double)x->n_entries;
	if (x->avg_ent_len <= 0)
		x->avg_ent_len = 1;
	if (x->n_entries >= 2 && train_model(x, ta, prev) < 0)
		goto oom;
	free(seen);
	return x;
oom:
	snprintf(err, errsz, "out of memory building the index");
fail:
	free(seen);
	ix_free(x);
	return NULL;
}

/* Writes entry_fts from the index unless it was built from this kb version. */
static int sync_fts(engine *e, ix *x, char *err, size_t errsz)
{
	sqlite3 *db = store_db(e->st);
	sqlite3_stmt *ins = NULL;
	char kbv[32], ftsv[32], *row = NULL;
	size_t cap = 0;
	int rc = -1;

	store_meta_get(e->st, "kb_version", kbv, sizeof kbv);
	store_meta_get(e->st, "fts_entry_version", ftsv, sizeof ftsv);
	if (kbv[0] && strcmp(kbv, ftsv) == 0)
		return 0;
	if (store_begin(e->st, err, errsz) < 0)
		return -1;
	if (sqlite3_exec(db, "DELETE FROM entry_fts", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO entry_fts(rowid, terms) VALUES(?1, ?2)", -1,
			       &ins, NULL) != SQLITE_OK) {
		snprintf(err, errsz, "fts: %s", sqlite3_errmsg(db));
		goto out;
	}
	for (size_t i = 0; i < x->n_entries; i++) {
		size_t used = 0;
		for (size_t p = x->ent_first[i]; p < x->ent_first[i] + x->ent_count[i]; p++) {
			size_t l = strlen(x->fts_rows[p]);
			if (reserve((void **)&row, &cap, used + l + 2, 1) < 0) {
				snprintf(err, errsz, "out of memory");
				goto out;
			}
			memcpy(row + used, x->fts_rows[p], l);
			used += l;
			row[used++] = ' ';
		}
		if (reserve((void **)&row, &cap, used + 1, 1) < 0) {
			snprintf(err, errsz, "out of memory");
			goto out;
		}
		row[used] = '\0';
		sqlite3_bind_int64(ins, 1, (sqlite3_int64)i + 1);
		sqlite3_bind_text(ins, 2, row, -1, SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE) {
			snprintf(err, errsz, "fts insert: %s", sqlite3_errmsg(db));
			goto out;
		}
		sqlite3_reset(ins);
	}
	if (store_meta_set(e->st, "fts_entry_version", kbv, err, errsz) < 0)
		goto out;
	rc = store_commit(e->st, err, errsz);
out:
	free(row);
	sqlite3_finalize(ins);
	if (rc < 0)
		store_rollback(e->st);
	return rc;
}

/* The clinic's synonyms from the store's meta "synonyms" ({"from":"to"...})
 * onto the analyzer, before the index is built with it. */
static void load_synonyms(engine *e)
{
	char *buf = malloc(65536);
	json_t *j = NULL;
	const char *from[ENGINE_MAX_SYNONYMS], *to[ENGINE_MAX_SYNONYMS];
	size_t n = 0;
	const char *k;
	json_t *v;
	if (buf && store_meta_get(e->st, "synonyms", buf, 65536) == 0 && buf[0])
		j = json_loads(buf, 0, NULL);
	json_object_foreach(j, k, v)
		if (json_is_string(v) && n < ENGINE_MAX_SYNONYMS) {
			from[n] = k;
			to[n++] = json_string_value(v);
		}
	if (text_set_synonyms(e->ta, from, to, n) < 0)
		util_log("error", "engine: synonyms not applied (out of memory)");
	json_decref(j);
	free(buf);
}

int engine_reload(engine *e, char *err, size_t errsz)
{
	hours_config *h;
	ix *x;
	if (load_hours(e, &h, err, errsz) < 0)
		return -1;
	load_synonyms(e);
	if (!(x = ix_build(e->st, e->ta, e->ix, err, errsz))) {
		hours_config_free(h);
		return -1;
	}
	if (sync_fts(e, x, err, errsz) < 0) {
		ix_free(x);
		hours_config_free(h);
		return -1;
	}
	if (x->lr_reuse) {
		x->lr = e->ix->lr;
		e->ix->lr = NULL;
	} else if (x->lr) {
		e->trainings++;
	}
	ix_free(e->ix);
	e->ix = x;
	hours_config_free(e->hours);
	e->hours = h;
	return 0;
}

int engine_open(store *st, engine **out, char *err, size_t errsz)
{
	engine *e = calloc(1, sizeof *e);
	*out = NULL;
	if (!e || !(e->ta = text_analyzer_new())) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	e->st = st;
	e->threshold = ENGINE_DEFAULT_THRESHOLD;
	e->now_unix = real_clock;
	if (engine_reload(e, err, errsz) < 0)
		goto fail;
	if (sqlite3_prepare_v3(store_db(st),
			       "SELECT rowid, bm25(entry_fts) FROM entry_fts WHERE entry_fts MATCH ?1",
			       -1, SQLITE_PREPARE_PERSISTENT,
			       &e->fts, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(store_db(st),
			       "SELECT rowid FROM entry_fts WHERE entry_fts MATCH ?1 LIMIT ?2", -1,
			       SQLITE_PREPARE_PERSISTENT, &e->fts_all, NULL) != SQLITE_OK) {
		snprintf(err, errsz, "fts: %s", sqlite3_errmsg(store_db(st)));
		goto fail;
	}
	*out = e;
	return 0;
fail:
	engine_free(e);
	return -1;
}

void engine_free(engine *e)
{
	if (!e)
		return;
	sqlite3_finalize(e->fts);
	sqlite3_finalize(e->fts_all);
	ix_free(e->ix);
	hours_config_free(e->hours);
	text_analyzer_free(e->ta);
	free(e);
}

void engine_set_threshold(engine *e, double threshold)
{
	e->threshold = threshold < 0 ? 0 : threshold > 1 ? 1 : threshold;
}

double engine_threshold(const engine *e)
{
	return e->threshold;
}

unsigned engine_trainings(const engine *e)
{
	return e->trainings;
}

size_t engine_entry_count(const engine *e)
{
	return e->ix->n_entries;
}

const engine_entry *engine_find(const engine *e, const char *id)
{
	int i = strmap_get(e->ix->by_id, id, -1);
	return i >= 0 ? &e->ix->entries[i] : NULL;
}

/* The knowledge base's word one typo away from w, or NULL. */
static const char *correct_word(const ix *x, const char *w)
{
	size_t wl = strlen(w);
	char variant[TEXT_MAX_WORD + 1];
	if (wl < 4 || wl > TEXT_MAX_WORD)
		return NULL;
	for (size_t k = 0; k <= wl; k++) {
		int idx;
		if (k == wl) {
			memcpy(variant, w, wl + 1);
		} else {
			memcpy(variant, w, k);
			memcpy(variant + k, w + k + 1, wl - k);
		}
		idx = strmap_get(x->deletes, variant, -1);
		if (idx >= 0 && text_edit1(w, wl, x->words[idx], strlen(x->words[idx])))
			return x->words[idx];
		/* a deletion in the knowledge base's word: look up w itself
		 * among the variants (done by k == wl), and w's variants above */
	}
	return NULL;
}

/* The same entry in the patient's language, by the id convention "X" and
 * "X-es" (kbfile.h); the entry itself when it has no twin. */
static const engine_entry *language_twin(const engine *e, const engine_entry *ent, text_lang lang)
{
	char id[KB_MAX_ID + 4];
	size_t l = strlen(ent->id);
	const engine_entry *twin;
	if (ent->lang == lang)
		return ent;
	if (lang == TEXT_LANG_ES)
		snprintf(id, sizeof id, "%s-es", ent->id);
	else if (l > 3 && strcmp(ent->id + l - 3, "-es") == 0)
		snprintf(id, sizeof id, "%.*s", (int)(l - 3), ent->id);
	else
		return ent;
	twin = engine_find(e, id);
	return twin ? twin : ent;
}

/* "Are you open now / on Saturday / on Christmas?": when the question asks
 * about a time and one of the best three entries is one the hours config
 * covers, answer from the structured hours at the actual time. A confident
 * answer from another entry ("flu shots on saturday?") stands. */
static void answer_hours(engine *e, const char *text, size_t len, engine_decision *out)
{
	char buf[TEXT_MAX_WORDS * (TEXT_MAX_WORD + 1)];
	const char *words[TEXT_MAX_WORDS];
	const engine_entry *ent = NULL;
	hours_query q;
	size_t n;

	if (!e->hours)
		return;
	n = text_words(text, len, buf, sizeof buf, words, TEXT_MAX_WORDS);
	if (!hours_parse_question(words, n, &q))
		return;
	for (size_t i = 0; i < out->n_matches && i < 3 && !ent; i++)
		if (hours_config_covers(e->hours, out->matches[i].entry->id))
			ent = out->matches[i].entry;
	if (!ent || (out->kind == ENGINE_ANSWER && !hours_config_covers(e->hours, out->entry->id)))
		return;
	if (hours_answer(e->hours, &q, e->now_unix(), out->lang == TEXT_LANG_ES, out->text,
			 sizeof out->text) < 0) {
		out->text[0] = '\0';
		return;
	}
	out->kind = ENGINE_ANSWER;
	out->reason = ENGINE_REASON_NONE;
	out->entry = language_twin(e, ent, out->lang);
	if (out->confidence < e->threshold)
		out->confidence = e->threshold;
}

/* The question's terms FTS5 is asked for: its known unigrams, rarest first,
 * at most FTS_TERMS, each with the number of entries it is in (df,
 * recovered from idf = ln(1 + N/df)). */
typedef struct fts_plan {
	size_t n;
	const char *term[FTS_TERMS];
	double df[FTS_TERMS];
} fts_plan;

static void fts_plan_make(const ix *x, const char *const *terms, size_t n, fts_plan *plan)
{
	struct { int id; const char *term; } pick[TEXT_MAX_WORDS];
	size_t np = 0;

	for (size_t t = 0; t < n; t++) {
		int id = strmap_get(x->vocab, terms[t], -1), dup = 0;
		for (size_t k = 0; k < np && !dup; k++)
			dup = pick[k].id == id;
		if (id >= 0 && !dup) {
			pick[np].id = id;
			pick[np++].term = terms[t];
		}
	}
	for (size_t a = 1; a < np; a++) /* insertion sort, rarest first */
		for (size_t b = a; b > 0 && x->idf[pick[b].id] > x->idf[pick[b - 1].id]; b--) {
			int id = pick[b].id;
			const char *term = pick[b].term;
			pick[b] = pick[b - 1];
			pick[b - 1].id = id;
			pick[b - 1].term = term;
		}
	plan->n = np < FTS_TERMS ? np : FTS_TERMS;
	for (size_t k = 0; k < plan->n; k++) {
		plan->term[k] = pick[k].term;
		plan->df[k] = (double)x->n_entries / (exp(x->idf[pick[k].id]) - 1.0);
	}
}

/* The MATCH expression of the plan's first k terms into match, each quoted
 * (patient text never becomes FTS5 syntax), joined by OR or AND. */
static void fts_match(const fts_plan *plan, size_t k, int all, char *match, size_t size)
{
	size_t used = 0;
	match[0] = '\0';
	for (size_t i = 0; i < k && used < size; i++)
		used += (size_t)snprintf(match + used, size - used, "%s\"%s\"",
					 i == 0 ? "" : all ? " AND " : " OR ", plan->term[i]);
}

typedef struct cand {
	int entry;
	double score;
	double prob;    /* the classifier's probability (0 without one) */
	double bm25;    /* the entry's BM25 for the question (all its phrasings as one text) */
	double rerank;
} cand;

/* Orders n candidates by rerank, best first; stable (insertion sort: n is
 * at most RERANK_TOP). */
static void rerank_sort(cand *c, size_t n)
{
	for (size_t a = 1; a < n; a++)
		for (size_t b = a; b > 0 && c[b].rerank > c[b - 1].rerank; b--) {
			cand t = c[b];
			c[b] = c[b - 1];
			c[b - 1] = t;
		}
}

static int cmp_cand(const void *a, const void *b)
{
	double x = ((const cand *)a)->score, y = ((const cand *)b)->score;
	if (x != y)
		return x < y ? 1 : -1;
	return ((const cand *)a)->entry - ((const cand *)b)->entry;
}

static void cands_clear(cand *cands, size_t *ncand, int *cand_of_entry)
{
	for (size_t c = 0; c < *ncand; c++)
		cand_of_entry[cands[c].entry] = -1;
	*ncand = 0;
}

static void cand_add(const ix *x, sqlite3_int64 row, cand *cands, size_t *ncand,
		     int *cand_of_entry)
{
	int ent;
	if (row < 1 || (size_t)row > x->n_entries)
		return;
	ent = (int)row - 1;
	if (cand_of_entry[ent] < 0) {
		cand_of_entry[ent] = (int)*ncand;
		cands[(*ncand)++] = (cand){ .entry = ent };
	}
}

/* Up to limit (at most FTS_LIMIT + 1) entries of one MATCH join the
 * candidates: the best by bm25 when ranked, else the first. Ranked, the
 * top few are kept here rather than by FTS5's ORDER BY rank, which
 * prepares and runs an SQL statement of its own on every query (a sixth
 * of a question's instructions on the default clinic). Returns SQLITE_DONE
 * or SQLite's error code. */
static int fts_run(const engine *e, int ranked, const char *match, int limit, cand *cands,
		   size_t *ncand, int *cand_of_entry)
{
	sqlite3_stmt *stmt = ranked ? e->fts : e->fts_all;
	struct { sqlite3_int64 row; double rank; } best[FTS_LIMIT + 1];
	int nbest = 0, step;

	if (limit > FTS_LIMIT + 1)
		limit = FTS_LIMIT + 1;
	sqlite3_bind_text(stmt, 1, match, -1, SQLITE_STATIC);
	if (!ranked)
		sqlite3_bind_int(stmt, 2, limit);
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		sqlite3_int64 row = sqlite3_column_int64(stmt, 0);
		double rank;
		int i;
		if (!ranked) {
			cand_add(e->ix, row, cands, ncand, cand_of_entry);
			if (*ncand >= (size_t)limit)
				break;
			continue;
		}
		rank = sqlite3_column_double(stmt, 1); /* bm25: lower is better */
		if (nbest < limit)
			nbest++;
		else if (rank >= best[nbest - 1].rank)
			continue;
		for (i = nbest - 1; i > 0 && best[i - 1].rank > rank; i--)
			best[i] = best[i - 1];
		best[i].row = row;
		best[i].rank = rank;
	}
	sqlite3_reset(stmt);
	if (step != SQLITE_DONE && step != SQLITE_ROW)
		return step;
	for (int i = 0; i < nbest && *ncand < (size_t)limit; i++)
		cand_add(e->ix, best[i].row, cands, ncand, cand_of_entry);
	return SQLITE_DONE;
}

/* "t_a" AND ("t_1" OR ... every other term): the entries with term a and
 * at least one more, which bm25 ranks by how many more. */
static void fts_anchored(const fts_plan *plan, size_t a, char *match, size_t size)
{
	size_t used = (size_t)snprintf(match, size, "\"%s\" AND (", plan->term[a]);
	for (size_t i = 0, k = 0; i < plan->n && used < size; i++)
		if (i != a && (k == 0 || plan->df[i] <= FTS_ANCHOR_DF))
			used += (size_t)snprintf(match + used, size - used, "%s\"%s\"",
						 k++ ? " OR " : "", plan->term[i]);
	if (used < size)
		snprintf(match + used, size - used, ")");
}

/* FTS5's candidates for the plan, at most FTS_LIMIT. FTS5 ranks every entry a
 * query matches (bm25, linear: about 1 ms per 1,000 entries, 40 ms for "what"
 * on 100,000), so what it is asked depends on how common the terms are, and
 * a question's cost grows with the log of the knowledge base's size, not
 * with its size (docs/performance.md, scenario 4):
 * - terms that match FTS_ROW_BUDGET entries in all: all of them, OR'ed (on
 *   a few hundred entries, every question). When they can match no more
 *   than FTS_LIMIT, unranked: they are all kept anyway, and reading them
 *   skips bm25's per-row work;
 * - else each of the (up to FTS_ANCHORS) rarest terms that is within the
 *   budget anchors a query of the entries that have it and at least one
 *   other term ("dermatology" AND (newborn OR home OR visit)), bm25 ranking
 *   them by how many; their best share the FTS_LIMIT places. On generated
 *   knowledge bases of 10,000 and 100,000 entries this finds the right entry
 *   more often than ranking everything did (p@1 0.68 -> 0.72);
 * - else (every term common: "what time is sunset today") the first
 *   FTS_LIMIT entries with all of the terms, unranked (ranking them was
 *   the slowest question on 100,000 entries), then all but the most
 *   common, down to two;
 * - and when no entry has two of them, any FTS_LIMIT entries with the
 *   rarest, unranked: no word of the question tells entries apart.
 * Returns SQLITE_DONE or SQLite's error code. */
static int fts_candidates(const engine *e, const fts_plan *plan, cand *cands, size_t *ncand,
			  int *cand_of_entry)
{
	char match[FTS_TERMS * (TEXT_MAX_WORD + 8) + 1];
	double rows = 0;
	size_t k;
	int rc;

	for (k = 0; k < plan->n; k++)
		rows += plan->df[k];
	if (rows <= FTS_ROW_BUDGET) {
		fts_match(plan, plan->n, 0, match, sizeof match);
		if (rows <= FTS_LIMIT) {
			rc = fts_run(e, 0, match, FTS_LIMIT + 1, cands, ncand, cand_of_entry);
			if (rc != SQLITE_DONE || *ncand <= FTS_LIMIT)
				return rc;
			cands_clear(cands, ncand, cand_of_entry); /* more after all */
		}
		return fts_run(e, 1, match, FTS_LIMIT, cands, ncand, cand_of_entry);
	}
	for (k = 0; k < plan->n && k < FTS_ANCHORS && plan->df[k] <= FTS_ROW_BUDGET; k++)
		;
	if (plan->n > 1 && k > 0) {
		int each = FTS_LIMIT / (int)k;
		for (size_t a = 0; a < k; a++) {
			fts_anchored(plan, a, match, sizeof match);
			rc = fts_run(e, 1, match, (int)*ncand + each, cands, ncand,
				     cand_of_entry);
			if (rc != SQLITE_DONE)
				return rc;
		}
		if (*ncand > 0)
			return SQLITE_DONE;
	}
	for (k = plan->n; k >= 2; k--) {
		fts_match(plan, k, 1, match, sizeof match);
		rc = fts_run(e, 0, match, FTS_LIMIT, cands, ncand, cand_of_entry);
		if (rc != SQLITE_DONE || *ncand > 0)
			return rc;
	}
	fts_match(plan, 1, 0, match, sizeof match);
	return fts_run(e, 0, match, FTS_LIMIT, cands, ncand, cand_of_entry);
}

/* For triage: a word the knowledge base itself uses is spelled right. */
static int known_word(const char *word, void *ctx)
{
	const ix *x = ctx;
	return x->surface && strmap_get(x->surface, word, -1) >= 0;
}

static void fill_triage(engine_decision *out, triage_kind t, text_lang lang, const char *pattern)
{
	out->kind = t == TRIAGE_EMERGENCY ? ENGINE_EMERGENCY : ENGINE_HANDOFF;
	out->reason = t == TRIAGE_EMERGENCY ? ENGINE_REASON_EMERGENCY : ENGINE_REASON_ASKED_FOR_PERSON;
	out->confidence = 1.0;
	out->lang = lang;
	out->triage_pattern = pattern;
}

int engine_decide(engine *e, const char *text, size_t len, int lang_hint,
		  engine_decision *out, char *err, size_t errsz)
{
	const ix *x = e->ix;
	text_terms tt;
	const char *terms[TEXT_MAX_WORDS];
	int qids[MAX_QUERY_TERMS];
	double qnorm = 0, unknown = 0, coverage;
	size_t nq, nknown = 0;
	fts_plan plan;
	const char *pattern = NULL;
	triage_kind tk;
	cand *cands = NULL;
	size_t ncand = 0;
	int rc = 0;
	int *cand_of_entry = NULL;
	float *prob = NULL;

	memset(out, 0, sizeof *out);
	out->kind = ENGINE_HANDOFF;
	out->reason = ENGINE_REASON_LOW_CONFIDENCE;
	text_analyze(e->ta, text, len, lang_hint, &tt);
	out->lang = tt.lang;

	tk = triage_check(text, len, known_word, (void *)x, &pattern);
	if (tk != TRIAGE_NONE) {
		fill_triage(out, tk, tt.lang, pattern);
		return 0;
	}
	if (tt.n == 0 || x->n_entries == 0)
		return 0;

	/* Correct words the knowledge base does not know. */
	char fixed[TEXT_MAX_WORDS][TEXT_MAX_WORD + 1];
	for (size_t i = 0; i < tt.n; i++) {
		terms[i] = tt.term[i];
		if (strmap_get(x->vocab, tt.term[i], -1) >= 0)
			continue;
		const char *w = correct_word(x, tt.word[i]);
		if (w) {
			/* the corrected word's own analysed term */
			text_terms one;
			text_analyze(e->ta, w, strlen(w), (int)tt.lang, &one);
			if (one.n == 1) {
				snprintf(fixed[i], sizeof fixed[i], "%s", one.term[0]);
				terms[i] = fixed[i];
			}
		}
	}
	nq = collect_terms((ix *)x, &tt, terms, 0, qids);
	/* unknown ids are negative and distinct per position: dedupe known ones */
	nq = sort_unique(qids, nq);
	for (size_t i = 0; i < nq; i++) {
		double w;
		if (qids[i] >= 0) {
			w = x->idf[qids[i]];
			nknown++;
		} else {
			w = qids[i] <= -1000 ? 0 : x->unknown_idf; /* unknown bigrams add nothing */
			unknown += w * w;
		}
		qnorm += w * w;
	}
	/* How much of the question the knowledge base knows at all: words it has
	 * never seen ("knee", "click") make any match less certain. */
	coverage = qnorm > 0 ? sqrt((qnorm - unknown) / qnorm) : 0;
	qnorm = sqrt(qnorm);
	if (nknown == 0)
		return 0;

	fts_plan_make(x, terms, tt.n, &plan);
	if (plan.n == 0)
		return 0;

	cand_of_entry = malloc(x->n_entries * sizeof *cand_of_entry);
	cands = malloc((FTS_LIMIT + 4) * sizeof *cands);
	if (!cand_of_entry || !cands) {
		snprintf(err, errsz, "out of memory");
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < x->n_entries; i++)
		cand_of_entry[i] = -1;
	if (fts_candidates(e, &plan, cands, &ncand, cand_of_entry) != SQLITE_DONE) {
		snprintf(err, errsz, "search: %s", sqlite3_errmsg(store_db(e->st)));
		rc = -1;
		goto out;
	}

	/* The classifier's view, over all entries; its best few join the
	 * candidates even when FTS5 ranked them low. */
	if (x->lr) {
		int mf[MAX_FEATS];
		float mv[MAX_FEATS];
		const char *fterms[TEXT_MAX_WORDS];
		char ffixed[TEXT_MAX_WORDS][TEXT_MAX_WORD + 1];
		text_terms all;
		size_t nf;
		prob = malloc(x->n_entries * sizeof *prob);
		if (!prob) {
			snprintf(err, errsz, "out of memory");
			rc = -1;
			goto out;
		}
		text_analyze_all(e->ta, text, len, (int)tt.lang, &all);
		for (size_t i = 0; i < all.n; i++) {
			const char *w;
			text_terms one;
			fterms[i] = all.term[i];
			if (strmap_get(x->fvocab, all.term[i], -1) >= 0 ||
			    !(w = correct_word(x, all.word[i])))
				continue;
			text_analyze_all(e->ta, w, strlen(w), (int)tt.lang, &one);
			if (one.n == 1) {
				snprintf(ffixed[i], sizeof ffixed[i], "%s", one.term[0]);
				fterms[i] = ffixed[i];
			}
		}
		nf = model_features((ix *)x, &all, fterms, 0, mf);
		model_values(x, mf, nf, mv);
		model_predict(x->lr, mf, mv, (int)nf, prob);
		for (int k = 0; k < 3; k++) {
			size_t best = 0;
			for (size_t i = 1; i < x->n_entries; i++)
				if (prob[i] > prob[best] && (cand_of_entry[i] < 0 || k == 0))
					best = i;
			if (cand_of_entry[best] < 0 && ncand <= FTS_LIMIT) {
				cand_of_entry[best] = (int)ncand;
				cands[ncand++] = (cand){ .entry = (int)best };
			}
		}
	}

	/* Score every phrasing of each candidate entry. */
	for (size_t c = 0; c < ncand; c++) {
		int ent = cands[c].entry;
		double best = 0, bm25 = 0;
		unsigned char tf[MAX_QUERY_TERMS];
		memset(tf, 0, nq);
		for (size_t p = x->ent_first[ent]; p < x->ent_first[ent] + x->ent_count[ent]; p++) {
			size_t a = 0, b = x->ph_off[p], bend = x->ph_off[p + 1];
			double dot = 0, sim;
			if (x->ph_norm[p] <= 0)
				continue;
			while (a < nq && b < bend) {
				if (qids[a] < x->terms[b]) {
					a++;
				} else if (qids[a] > x->terms[b]) {
					b++;
				} else {
					double w = x->idf[qids[a]];
					dot += w * w;
					if (tf[a] < 255)
						tf[a]++;
					a++;
					b++;
				}
			}
			sim = x->ph_weight[p] * dot / (qnorm * x->ph_norm[p]);
			if (sim > best)
				best = sim;
		}
		if (best > 1)
			best = 1;
		/* BM25 of the entry as one text, a term counted once per phrasing
		 * that has it: how many of an entry's phrasings share the
		 * question's words, which the best phrasing alone does not tell. */
		for (size_t a = 0; a < nq; a++)
			if (tf[a])
				bm25 += x->idf[qids[a]] * tf[a] * (BM25_K1 + 1) /
					(tf[a] + BM25_K1 * (1 - BM25_B + BM25_B * x->ent_len[ent] / x->avg_ent_len));
		cands[c].bm25 = bm25;
		cands[c].prob = prob ? prob[ent] : 0;
		/* Geometric mean: the classifier must be sure AND the words must
		 * really be there; either alone is not enough. */
		cands[c].score = (prob ? pow(prob[ent], MODEL_SHARE) * pow(best, 1 - MODEL_SHARE) : best)
				 * coverage;
	}
	qsort(cands, ncand, sizeof *cands, cmp_cand);
	/* The confidence is the best score: how sure the engine is that one of
	 * the entries answers. Which one, among the best few: the classifier's
	 * probability with the entries' BM25 (relative to the best of the few),
	 * which puts first the entry more of whose phrasings share the
	 * question's words when two entries are near alike (quebec-covid p@1
	 * 0.834 -> 0.846, docs/quality.md; re-ordering all ten, 0.852, also
	 * answered with entries under the threshold). */
	if (ncand > 0)
		out->confidence = cands[0].score;
	if (prob && ncand > 1) {
		size_t k = ncand < RERANK_TOP ? ncand : RERANK_TOP, sure = 0;
		double top_bm25 = 0;
		for (size_t c = 0; c < k; c++)
			if (cands[c].bm25 > top_bm25)
				top_bm25 = cands[c].bm25;
		for (size_t c = 0; c < k; c++)
			cands[c].rerank = RERANK_PROB * log(cands[c].prob > 1e-6 ? cands[c].prob : 1e-6) +
					  (top_bm25 > 0 ? RERANK_BM25 * cands[c].bm25 / top_bm25 : 0);
		/* An answer is given only by an entry whose own score clears the
		 * threshold: those (a prefix, sorted by score) are ordered among
		 * themselves, the rest among themselves (suggestions). */
		while (sure < k && cands[sure].score >= e->threshold)
			sure++;
		rerank_sort(cands, sure);
		rerank_sort(cands + sure, k - sure);
	}
	for (size_t c = 0; c < ncand && c < ENGINE_TOP_K; c++) {
		out->matches[c].entry = &x->entries[cands[c].entry];
		out->matches[c].score = cands[c].score;
		out->n_matches++;
	}
	if (out->n_matches > 0) {
		if (out->confidence >= e->threshold) {
			out->kind = ENGINE_ANSWER;
			out->reason = ENGINE_REASON_NONE;
			out->entry = language_twin(e, out->matches[0].entry, out->lang);
		}
	}
	answer_hours(e, text, len, out);
out:
	free(prob);
	free(cands);
	free(cand_of_entry);
	return rc;
}
