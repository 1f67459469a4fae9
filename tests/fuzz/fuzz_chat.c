/* fuzz_chat: the patient protocol handler, chat_handle (docs/protocol.md).
 *
 * Input: one control byte, then frames separated by '\n' (placeholders of
 * fuzz.h allowed, e.g. {"type":"hello","token":"@T1@"}). Control bits:
 *   1  the clinic is closed (engine wall clock), else open
 *   2  a staff console is online during the input
 *   4  no automatic hello: the frames start on a fresh session
 *   8  frozen monotonic clock (the rate limiter and the typing limit bite);
 *      otherwise it advances 10 s per call, so the limiter never hides a frame
 * The seeds use the ASCII digits '0'..'7' (0x30..0x37) for readability.
 *
 * FUZZ_VERBOSE=1 in the environment prints the frames both ways.
 *
 * Checked besides the sanitizers: chat.h's contract that every frame but a
 * "typing" one is answered by at least one frame. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"

static fuzz_fixture fx;
static int verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_fixture_open(&fx, FUZZ_STAFF_SIDE | FUZZ_SMALL_KB);
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	return 0;
}

static void count_emit(void *user, const char *frame, size_t len)
{
	if (verbose)
		fprintf(stderr, "  < %.*s\n", (int)len, frame);
	(*(size_t *)user)++;
}

/* 1 if frame is a JSON object of type "typing" (the one that may go unanswered). */
static int is_typing(const char *frame, size_t len)
{
	json_t *j = json_loadb(frame, len, JSON_REJECT_DUPLICATES, NULL);
	const char *type = json_string_value(json_object_get(j, "type"));
	int typing = type && strcmp(type, "typing") == 0;
	json_decref(j);
	return typing;
}

static void one_frame(void *ctx, const char *frame, size_t len)
{
	chat_session *s = ctx;
	size_t emitted = 0;
	if (verbose)
		fprintf(stderr, "> %.*s\n", (int)len, frame);
	fuzz_tx_keep(&fx);
	chat_handle(&fx.chat, s, frame, len, count_emit, &emitted);
	if (emitted == 0 && !is_typing(frame, len))
		fuzz_fail("chat_handle answered a non-typing frame with no frame (%zu bytes)", len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	chat_session s;
	desk_staff console;
	unsigned ctl;

	if (size < 1)
		return 0;
	ctl = data[0];
	data++, size--;
	fuzz_set_wall(ctl & 1 ? FUZZ_WALL_CLOSED : FUZZ_WALL_OPEN);
	fuzz_mono_reset(ctl & 8 ? 0 : 10 * 1000000);
	memset(&s, 0, sizeof s);
	memset(&console, 0, sizeof console);

	fuzz_tx_begin(&fx);
	if (ctl & 2)
		desk_staff_join(fx.dk, &console, &fx.user[FUZZ_STAFF]);
	fuzz_feed_frames(&fx, data, size, ctl & 4, one_frame, &s);
	if (ctl & 2)
		desk_staff_leave(fx.dk, &console);
	fuzz_tx_end(&fx);
	return 0;
}
