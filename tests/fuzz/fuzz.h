/* fuzz: what the libFuzzer targets in tests/fuzz/ share (issue 7).
 *
 * One fixture per process, built once in LLVMFuzzerInitialize: an in-memory
 * store with the clinic's knowledge base (kb/, or its first 12 entries) and
 * opening hours, the engine on a fixed wall clock, and for the targets that
 * need them the staff side: accounts, sessions, a desk whose sink drops
 * every frame, and a few patient conversations in each desk state.
 *
 * Inputs do not leak into each other: each input runs inside one outer store
 * transaction (store_begin nests by count) that is rolled back at the end, so
 * every input starts from the same database and a crash reproduces from its
 * file alone.
 *
 * Frames in an input are separated by '\n' (a JSON frame needs no raw
 * newline) and may name the fixture's objects with placeholders, which are
 * replaced before the frame is handed over (the fuzzer cannot guess random
 * ids):
 *   @C0@..@C5@  a conversation id (FUZZ_CONV_*)
 *   @T0@..@T5@  that conversation's patient token
 *   @S0@ @S1@   a session token of the staff / admin account
 *   @X0@ @X1@   that session's CSRF token */
#ifndef FD_FUZZ_H
#define FD_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "chat.h"
#include "desk.h"
#include "engine.h"
#include "store.h"

/* Wall clocks (unix seconds) for the engine's opening hours. */
#define FUZZ_WALL_OPEN   1795536900   /* Tue 2026-11-24 10:15 in Chicago: open */
#define FUZZ_WALL_CLOSED 1795500900   /* Tue 2026-11-24 00:15 in Chicago: closed */

enum {
	FUZZ_CONV_BOT = 0,      /* answered by the bot */
	FUZZ_CONV_WAITING,      /* asked for a person */
	FUZZ_CONV_OWNED,        /* claimed by the staff account */
	FUZZ_CONV_TICKET,       /* a message left */
	FUZZ_CONV_RESOLVED,     /* claimed, then resolved */
	FUZZ_CONV_EMERGENCY,    /* an emergency, waiting */
	FUZZ_N_CONV
};

enum { FUZZ_STAFF = 0, FUZZ_ADMIN = 1 };

typedef struct fuzz_fixture {
	store *st;
	engine *eng;
	/* the staff side: NULL unless opened with staff = 1 */
	auth *au;
	desk *dk;
	chat_ctx chat;                               /* st, eng, dk, default messages, fuzz clock */
	auth_user user[2];                           /* "maria" (staff), "ana" (admin) */
	char conv[FUZZ_N_CONV][STORE_CONV_ID_LEN + 1];
	char token[FUZZ_N_CONV][STORE_TOKEN_LEN + 1];
	char session[2][AUTH_TOKEN_LEN + 1];         /* a logged-in session of user[i] */
	char csrf[2][65];
} fuzz_fixture;

/* Builds f (exits the process on failure: a fuzzer without its fixture
 * tests nothing). what: FUZZ_STAFF_SIDE also opens accounts, sessions, the
 * desk and the conversations; FUZZ_SMALL_KB loads only the first entries of
 * kb/ (hours first), for targets that rebuild the engine often. */
#define FUZZ_STAFF_SIDE 1u
#define FUZZ_SMALL_KB 2u

void fuzz_fixture_open(fuzz_fixture *f, unsigned what);

/* The engine's wall clock (FUZZ_WALL_*), and the monotonic clock of
 * f->chat.now_us: it returns the last value plus step_us on every call,
 * restarting from a fixed value on each fuzz_mono_reset. */
void fuzz_set_wall(int64_t unix_seconds);
int64_t fuzz_wall(void);
void fuzz_mono_reset(int64_t step_us);
int64_t fuzz_mono_us(void);

/* The outer transaction of one input. fuzz_tx_keep, before each frame,
 * starts it again if a failure inside the code under test rolled it back. */
void fuzz_tx_begin(fuzz_fixture *f);
void fuzz_tx_keep(fuzz_fixture *f);
void fuzz_tx_end(fuzz_fixture *f);

/* Cuts the next frame (up to '\n' or the end) off the input (*data, *size); 0 when none
 * is left. *frame points into the input. */
int fuzz_next_frame(const uint8_t **data, size_t *size, const uint8_t **frame, size_t *len);

/* A malloc'd copy of in[0..len) with the placeholders replaced, *out_len
 * bytes long; with nul, one more byte holds a NUL (for C strings). Without
 * it the buffer ends exactly at the frame's end, so ASan catches a read past
 * len. The caller frees. */
char *fuzz_expand(const fuzz_fixture *f, const uint8_t *in, size_t len, int nul, size_t *out_len);

/* A protocol session: {"type":"hello"} first unless skip_hello, then every
 * frame of the input, each expanded (without a NUL) and given to fn, which
 * must not keep it. */
void fuzz_feed_frames(const fuzz_fixture *f, const uint8_t *data, size_t size, int skip_hello,
		      void (*fn)(void *ctx, const char *frame, size_t len), void *ctx);

/* Reports a broken contract of the code under test and aborts (a finding). */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* A desk sink that drops everything. */
extern const desk_sink fuzz_null_sink;

/* libFuzzer's entry points. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
