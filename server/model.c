/* model: see model.h. Written here rather than taken from a library because
 * it is 100 lines and Debian's ML libraries (liblinear, libsvm) would give
 * one-vs-rest margins, not calibrated probabilities over all entries. */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef MODEL_LR
#define MODEL_LR 5.0f
#endif

struct model {
	int n_feat, n_classes;
	float *w;      /* n_feat x n_classes, row per feature */
	float *bias;   /* n_classes */
};

void model_free(model *m)
{
	if (!m)
		return;
	free(m->w);
	free(m->bias);
	free(m);
}

static void softmax(float *z, int n)
{
	float mx = z[0], sum = 0;
	for (int i = 1; i < n; i++)
		if (z[i] > mx)
			mx = z[i];
	for (int i = 0; i < n; i++) {
		z[i] = expf(z[i] - mx);
		sum += z[i];
	}
	for (int i = 0; i < n; i++)
		z[i] /= sum;
}

static void logits(const model *m, const int *feat, const float *val, int n, float *z)
{
	memcpy(z, m->bias, (size_t)m->n_classes * sizeof *z);
	for (int k = 0; k < n; k++) {
		const float *row;
		if (feat[k] < 0 || feat[k] >= m->n_feat)
			continue;
		row = m->w + (size_t)feat[k] * (size_t)m->n_classes;
		for (int c = 0; c < m->n_classes; c++)
			z[c] += val[k] * row[c];
	}
}

int model_predict(const model *m, const int *feat, const float *val, int n, float *prob)
{
	int best = 0;
	logits(m, feat, val, n, prob);
	softmax(prob, m->n_classes);
	for (int c = 1; c < m->n_classes; c++)
		if (prob[c] > prob[best])
			best = c;
	return best;
}

model *model_train(const model_example *ex, size_t n_ex, int n_feat, int n_classes,
		   int epochs, unsigned seed)
{
	model *m = calloc(1, sizeof *m);
	size_t *order = NULL;
	float *z = NULL;
	unsigned long long rng = seed * 6364136223846793005ULL + 1442695040888963407ULL;
	size_t steps = 0, total = n_ex * (size_t)epochs;

	if (!m)
		return NULL;
	m->n_feat = n_feat;
	m->n_classes = n_classes;
	m->w = calloc((size_t)n_feat * (size_t)n_classes, sizeof *m->w);
	m->bias = calloc((size_t)n_classes, sizeof *m->bias);
	order = malloc(n_ex * sizeof *order);
	z = malloc((size_t)n_classes * sizeof *z);
	if (!m->w || !m->bias || !order || !z) {
		model_free(m);
		m = NULL;
		goto out;
	}
	for (size_t i = 0; i < n_ex; i++)
		order[i] = i;
	for (int e = 0; e < epochs; e++) {
		/* Fisher-Yates with a fixed LCG: deterministic training. */
		for (size_t i = n_ex; i > 1; i--) {
			size_t j;
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			j = (size_t)(rng >> 33) % i;
			size_t t = order[i - 1];
			order[i - 1] = order[j];
			order[j] = t;
		}
		for (size_t i = 0; i < n_ex; i++, steps++) {
			const model_example *x = &ex[order[i]];
			float lr = MODEL_LR * (1.0f - 0.9f * (float)steps / (float)total);
			logits(m, x->feat, x->val, x->n, z);
			softmax(z, n_classes);
			z[x->label] -= 1.0f; /* gradient of cross-entropy w.r.t. logits */
			for (int c = 0; c < n_classes; c++)
				m->bias[c] -= lr * 0.1f * z[c];
			for (int k = 0; k < x->n; k++) {
				float *row;
				if (x->feat[k] < 0 || x->feat[k] >= n_feat)
					continue;
				row = m->w + (size_t)x->feat[k] * (size_t)n_classes;
				for (int c = 0; c < n_classes; c++)
					row[c] -= lr * x->val[k] * z[c];
			}
		}
	}
out:
	free(order);
	free(z);
	return m;
}
