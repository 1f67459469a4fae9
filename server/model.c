/* model: see model.h. Written here rather than taken from a library because
 * it is 150 lines, trains in about a second on a clinic's knowledge base,
 * and Debian's ML libraries (liblinear, libsvm) would give one-vs-rest
 * margins, not probabilities over all entries.
 *
 * A small multilayer perceptron: sparse input -> ReLU hidden layer ->
 * softmax over the entries, trained by plain SGD on cross-entropy. The
 * hidden layer lets words combine ("credit" + "improve" is not "credit" +
 * "score"), which a linear model cannot; on clinc150 it lifted top-1 from
 * 0.918 to 0.927 (docs/quality.md). */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define H 128               /* hidden units */
#define LEARNING_RATE 0.2f  /* decays linearly to a tenth over training */

struct model {
	int n_feat, n_classes;
	float *w1;   /* n_feat x H: a row per input feature */
	float *b1;   /* H */
	float *w2;   /* H x n_classes */
	float *b2;   /* n_classes */
};

void model_free(model *m)
{
	if (!m)
		return;
	free(m->w1);
	free(m->b1);
	free(m->w2);
	free(m->b2);
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

/* y += a * x. restrict (they never overlap) lets the compiler use SIMD:
 * this is most of a question's classifier time. */
static void axpy(float *restrict y, float a, const float *restrict x, int n)
{
	for (int i = 0; i < n; i++)
		y[i] += a * x[i];
}

/* Hidden activations h[H] and output logits z[n_classes]. */
static void forward(const model *m, const int *feat, const float *val, int n, float *h, float *z)
{
	memcpy(h, m->b1, H * sizeof *h);
	for (int k = 0; k < n; k++) {
		const float *row;
		if (feat[k] < 0 || feat[k] >= m->n_feat)
			continue;
		row = m->w1 + (size_t)feat[k] * H;
		axpy(h, val[k], row, H);
	}
	for (int j = 0; j < H; j++)
		if (h[j] < 0)
			h[j] = 0;
	memcpy(z, m->b2, (size_t)m->n_classes * sizeof *z);
	for (int j = 0; j < H; j++)
		if (h[j] != 0)
			axpy(z, h[j], m->w2 + (size_t)j * (size_t)m->n_classes, m->n_classes);
}

int model_predict(const model *m, const int *feat, const float *val, int n, float *prob)
{
	float h[H];
	int best = 0;
	forward(m, feat, val, n, h, prob);
	softmax(prob, m->n_classes);
	for (int c = 1; c < m->n_classes; c++)
		if (prob[c] > prob[best])
			best = c;
	return best;
}

/* A 64-bit LCG: deterministic initialisation and shuffling. */
static uint64_t next_rand(uint64_t *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return *state >> 33;
}

static float uniform(uint64_t *state, float scale)
{
	return ((float)(next_rand(state) & 0xFFFFFF) / (float)0x1000000 - 0.5f) * 2.0f * scale;
}

model *model_train(const model_example *ex, size_t n_ex, int n_feat, int n_classes,
		   int epochs, unsigned seed)
{
	model *m = calloc(1, sizeof *m);
	size_t *order = NULL;
	float *z = NULL, h[H], dh[H];
	uint64_t rng = (uint64_t)seed * 2654435761ULL + 1;
	size_t steps = 0, total = n_ex * (size_t)epochs;

	if (!m)
		return NULL;
	m->n_feat = n_feat;
	m->n_classes = n_classes;
	m->w1 = malloc((size_t)n_feat * H * sizeof *m->w1);
	m->b1 = calloc(H, sizeof *m->b1);
	m->w2 = malloc((size_t)H * (size_t)n_classes * sizeof *m->w2);
	m->b2 = calloc((size_t)n_classes, sizeof *m->b2);
	order = malloc((n_ex + 1) * sizeof *order);
	z = malloc((size_t)n_classes * sizeof *z);
	if (!m->w1 || !m->b1 || !m->w2 || !m->b2 || !order || !z) {
		model_free(m);
		m = NULL;
		goto out;
	}
	for (size_t i = 0; i < (size_t)n_feat * H; i++)
		m->w1[i] = uniform(&rng, 0.1f);
	for (size_t i = 0; i < (size_t)H * (size_t)n_classes; i++)
		m->w2[i] = uniform(&rng, sqrtf(6.0f / (float)(H + n_classes)));
	for (size_t i = 0; i < n_ex; i++)
		order[i] = i;

	for (int e = 0; e < epochs; e++) {
		for (size_t i = n_ex; i > 1; i--) { /* Fisher-Yates */
			size_t j = (size_t)next_rand(&rng) % i, t = order[i - 1];
			order[i - 1] = order[j];
			order[j] = t;
		}
		for (size_t i = 0; i < n_ex; i++, steps++) {
			const model_example *x = &ex[order[i]];
			float lr = LEARNING_RATE * (1.0f - 0.9f * (float)steps / (float)total);
			forward(m, x->feat, x->val, x->n, h, z);
			softmax(z, n_classes);
			z[x->label] -= 1.0f; /* d(cross-entropy)/d(logits) */
			for (int j = 0; j < H; j++) {
				float *row = m->w2 + (size_t)j * (size_t)n_classes;
				float back = 0;
				if (h[j] == 0) {
					dh[j] = 0;
					continue;
				}
				for (int c = 0; c < n_classes; c++) {
					back += row[c] * z[c];
					row[c] -= lr * h[j] * z[c];
				}
				dh[j] = back;
			}
			for (int c = 0; c < n_classes; c++)
				m->b2[c] -= lr * z[c];
			for (int j = 0; j < H; j++)
				m->b1[j] -= lr * dh[j];
			for (int k = 0; k < x->n; k++) {
				float *row;
				if (x->feat[k] < 0 || x->feat[k] >= n_feat)
					continue;
				row = m->w1 + (size_t)x->feat[k] * H;
				for (int j = 0; j < H; j++)
					row[j] -= lr * x->val[k] * dh[j];
			}
		}
	}
out:
	free(order);
	free(z);
	return m;
}
