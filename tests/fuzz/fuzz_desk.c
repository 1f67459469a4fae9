/* fuzz_desk: the staff console protocol, desk_staff_handle
 * (docs/staff-protocol.md): claim, reply, note, transfer, hand back,
 * resolve, presence, open, over the fixture's conversations in every desk
 * state.
 *
 * Input: one control byte, then frames separated by '\n' (placeholders of
 * fuzz.h, e.g. {"type":"claim","conversation":"@C1@"}). Control bits:
 *   1  the console is the admin's, else the staff account's
 *   2  no automatic hello
 *   4  the clinic is closed (engine wall clock)
 *   8  a second console (the admin's) is online too
 * The seeds use '0'..'7' (0x30..0x37).
 *
 * The desk's rate limiter reads the real monotonic clock (not injectable):
 * the harness refills it before every frame, so the limiter never hides a
 * frame and an input behaves the same however fast it runs.
 *
 * FUZZ_VERBOSE=1 in the environment prints the frames both ways (the
 * console's own replies; broadcasts go to a sink that drops them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void print_emit(void *user, const char *frame, size_t len)
{
	(void)user;
	if (verbose)
		fprintf(stderr, "  < %.*s\n", (int)len, frame);
}

static void one_frame(void *ctx, const char *frame, size_t len)
{
	desk_staff *s = ctx;
	if (verbose)
		fprintf(stderr, "> %.*s\n", (int)len, frame);
	fuzz_tx_keep(&fx);
	s->refilled_us = 0;   /* a full bucket (see above) */
	desk_staff_handle(fx.dk, s, frame, len, print_emit, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	desk_staff console, other;
	unsigned ctl;

	if (size < 1)
		return 0;
	ctl = data[0];
	data++, size--;
	fuzz_set_wall(ctl & 4 ? FUZZ_WALL_CLOSED : FUZZ_WALL_OPEN);
	memset(&console, 0, sizeof console);
	memset(&other, 0, sizeof other);

	fuzz_tx_begin(&fx);
	desk_staff_join(fx.dk, &console, &fx.user[ctl & 1 ? FUZZ_ADMIN : FUZZ_STAFF]);
	if (ctl & 8)
		desk_staff_join(fx.dk, &other, &fx.user[FUZZ_ADMIN]);
	fuzz_feed_frames(&fx, data, size, ctl & 2, one_frame, &console);
	if (ctl & 8)
		desk_staff_leave(fx.dk, &other);
	desk_staff_leave(fx.dk, &console);
	fuzz_tx_end(&fx);
	return 0;
}
