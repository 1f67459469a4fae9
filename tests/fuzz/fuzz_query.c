/* fuzz_query: engine_decide on arbitrary bytes: triage, language detection,
 * text folding and stemming (text.c), typo correction against the knowledge
 * base's words, the FTS5 query builder (fts_query in engine.c) and the
 * ranking, over the clinic's knowledge base (kb/).
 *
 * Input: the patient's text, as is (no framing; the engine takes any bytes).
 *
 * Checked besides the sanitizers: the decision is well formed (engine.h). */
#include <math.h>
#include <string.h>

#include "fuzz.h"

static fuzz_fixture fx;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_fixture_open(&fx, 0);
	return 0;
}

static int unit(double x)
{
	return !isnan(x) && x >= 0.0 && x <= 1.0;
}

static void check(const engine_decision *d)
{
	if (d->kind != ENGINE_ANSWER && d->kind != ENGINE_HANDOFF && d->kind != ENGINE_EMERGENCY)
		fuzz_fail("engine: kind %d", (int)d->kind);
	if ((d->kind == ENGINE_ANSWER) != (d->entry != NULL))
		fuzz_fail("engine: kind %s with entry %p", engine_kind_name(d->kind), (void *)d->entry);
	if (d->lang != TEXT_LANG_EN && d->lang != TEXT_LANG_ES)
		fuzz_fail("engine: lang %d", (int)d->lang);
	if (!unit(d->confidence))
		fuzz_fail("engine: confidence %g", d->confidence);
	if (d->n_matches > ENGINE_TOP_K)
		fuzz_fail("engine: %zu matches", d->n_matches);
	for (size_t i = 0; i < d->n_matches; i++) {
		if (!d->matches[i].entry || !unit(d->matches[i].score))
			fuzz_fail("engine: match %zu: entry %p score %g", i,
				  (void *)d->matches[i].entry, d->matches[i].score);
		/* the order is re-ranked (engine.h), not by score alone, but no
		 * match scores above the confidence, the best score */
		if (d->kind != ENGINE_EMERGENCY && d->matches[i].score > d->confidence + 1e-9)
			fuzz_fail("engine: match %zu scores %g over the confidence %g", i,
				  d->matches[i].score, d->confidence);
	}
	/* a knowledge-base answer's own entry clears the threshold itself */
	if (d->kind == ENGINE_ANSWER && !d->text[0] &&
	    (d->n_matches == 0 || d->matches[0].score < engine_threshold(fx.eng)))
		fuzz_fail("engine: answered by a match under the threshold");
	if (!memchr(d->text, '\0', sizeof d->text))
		fuzz_fail("engine: text not terminated");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	engine_decision d;
	char err[256];

	/* libFuzzer's buffer is exactly size bytes: a read past it is caught. */
	engine_decide(fx.eng, (const char *)data, size, -1, &d, err, sizeof err);
	check(&d);
	return 0;
}
