#include <math.h>
#include <string.h>

#include "harness.h"
#include "model.h"

/* Three classes that need the hidden layer: class 2 is "feature 0 AND
 * feature 1", which no single feature gives away. */
void test_model(void)
{
	static const int f0[] = { 0 }, f1[] = { 1 }, f01[] = { 0, 1 }, f2[] = { 2 };
	static const float v1[] = { 1.0f }, v2[] = { 0.7071f, 0.7071f };
	model_example ex[] = {
		{ f0, v1, 1, 0 }, { f1, v1, 1, 1 }, { f01, v2, 2, 2 }, { f2, v1, 1, 0 },
	};
	float prob[3], prob2[3];
	model *m, *again;

	CASE_BEGIN("model: learns a combination of features, deterministically");
	m = model_train(ex, 4, 3, 3, 200, 7);
	again = model_train(ex, 4, 3, 3, 200, 7);
	CHECK(m && again);
	if (m && again) {
		CHECK(model_predict(m, f0, v1, 1, prob) == 0);
		CHECK(model_predict(m, f1, v1, 1, prob) == 1);
		CHECK(model_predict(m, f01, v2, 2, prob) == 2);
		CHECK(fabsf(prob[0] + prob[1] + prob[2] - 1.0f) < 1e-4f);
		model_predict(again, f01, v2, 2, prob2);
		CHECK(memcmp(prob, prob2, sizeof prob) == 0);
		/* unknown features are ignored, never read out of bounds */
		static const int bad[] = { -1, 99 };
		CHECK(model_predict(m, bad, v2, 2, prob) >= 0);
	}
	model_free(m);
	model_free(again);
	CASE_END();
}
