/* model: a small neural classifier (one hidden layer, softmax output) over
 * sparse features, trained in-process by SGD. The engine trains one on the knowledge base's
 * phrasings at build time so the many phrasings of an entry vote together
 * and words that tell entries apart weigh more than words they share.
 * Deterministic: the same examples and seed give the same weights. Pure
 * arithmetic, no I/O. */
#ifndef FD_MODEL_H
#define FD_MODEL_H

#include <stddef.h>
#include <stdint.h>

typedef struct model model;

/* One training example: n features (index < n_feat, value) and its class. */
typedef struct model_example {
	const int *feat;
	const float *val;
	int n;
	int label;
} model_example;

/* Trains on ex (borrowed). Returns a new model (model_free) or NULL on out
 * of memory. */
model *model_train(const model_example *ex, size_t n_ex, int n_feat, int n_classes,
		   int epochs, unsigned seed);
void model_free(model *m);

/* Class probabilities for one sparse input into prob[n_classes] (caller's);
 * features outside the model are ignored. Returns the most likely class. */
int model_predict(const model *m, const int *feat, const float *val, int n, float *prob);

#endif
