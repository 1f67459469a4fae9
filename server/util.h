/* util: small shared helpers (random tokens, hashing, clocks, logging).
 * No module state beyond the log level; safe to call from any module. */
#ifndef FD_UTIL_H
#define FD_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Fills buf with n bytes from the kernel CSPRNG. Returns 0, or -1 if the
 * kernel could not supply them (the caller must then refuse to go on). */
int util_random(void *buf, size_t n);

/* Writes 2*n lowercase hex digits and a NUL into out (size >= 2*n+1). */
void util_hex(const unsigned char *in, size_t n, char *out);

/* Writes the hex SHA-256 of data into out (size >= 65). */
void util_sha256_hex(const void *data, size_t len, char out[65]);

/* Wall clock in microseconds since the epoch / monotonic microseconds. */
int64_t util_now_us(void);
int64_t util_mono_us(void);

/* Formats a UTC ISO-8601 time (seconds precision) into out (size >= 21). */
void util_iso8601(int64_t unix_seconds, char out[21]);

/* Characters (code points) in s[0..len), which must be valid UTF-8: limits
 * are in characters, so "4000 characters" holds for Spanish too. */
size_t util_utf8_chars(const char *s, size_t len);

/* A token bucket: takes one token if there is one (0 if not), after
 * refilling per_sec tokens a second since *refilled_us, up to burst. A
 * bucket with *refilled_us == 0 starts full. Times are monotonic µs. */
int util_bucket_take(double *tokens, int64_t *refilled_us, int64_t now_us, double burst,
		     double per_sec);

/* 1 if s[0..len) is valid UTF-8 (no overlongs, no surrogates), else 0. */
int util_utf8_valid(const char *s, size_t len);

/* Log one line to stderr with a timestamp and level. Never pass patient
 * text here: log ids, codes and counts only. */
void util_log(const char *level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define LOG_INFO(...) util_log("info", __VA_ARGS__)
#define LOG_WARN(...) util_log("warn", __VA_ARGS__)
#define LOG_ERR(...)  util_log("error", __VA_ARGS__)

#endif
