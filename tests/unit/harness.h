/* A minimal test harness: a case is a block of CHECKs between CASE_BEGIN and
 * CASE_END; the run prints "ok"/"not ok" per case and a final count.
 * Written by hand because it is 40 lines and the output must end with the
 * suite's own "N passed, N failed" line. */
#ifndef FD_HARNESS_H
#define FD_HARNESS_H

#include <stdio.h>

#include <jansson.h>

extern int harness_passed, harness_failed, harness_case_failed;
extern const char *harness_case;

#define CASE_BEGIN(name) do { harness_case = (name); harness_case_failed = 0; } while (0)
#define CASE_END() do { \
	if (harness_case_failed) { harness_failed++; printf("not ok - %s\n", harness_case); } \
	else { harness_passed++; } } while (0)
#define CHECK(cond) do { if (!(cond)) { harness_case_failed = 1; \
	fprintf(stderr, "  %s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__, harness_case, #cond); } } while (0)
#define CHECKF(cond, ...) do { if (!(cond)) { harness_case_failed = 1; \
	fprintf(stderr, "  %s:%d: %s: ", __FILE__, __LINE__, harness_case); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

/* The frames one call of a chat or desk handler emits, parsed (duplicate keys
 * refused: a NULL). frames_collect is the handlers' emit callback (user: a
 * frames); frames_clear releases them. */
typedef struct frames {
	json_t *v[16];
	size_t n;
} frames;
void frames_collect(void *user, const char *frame, size_t len);
void frames_clear(frames *f);
/* The type of frame i, "" if there is none. */
const char *frames_type(const frames *f, size_t i);

void test_text(void);
void test_kbfile(void);
void test_triage(void);
void test_engine(void);
void test_chat(void);
void test_hours(void);
void test_model(void);
void test_auth(void);
void test_notify(void);
void test_desk(void);
void test_api(void);
void test_redact(void);
void test_retention(void);
void test_batch(void);

#endif
