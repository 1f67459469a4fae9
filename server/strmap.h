/* strmap: an open-addressing hash map from strings to ints (FNV-1a, linear
 * probing). Keys are copied into the map's own storage; nothing is removed
 * one by one, so it suits vocabularies and id sets built once and read many
 * times. Not thread-safe. */
#ifndef FD_STRMAP_H
#define FD_STRMAP_H

#include <stddef.h>

typedef struct strmap strmap;

/* New empty map; NULL on out of memory. */
strmap *strmap_new(void);
void strmap_free(strmap *m);

/* Sets key -> value (overwriting). Returns 0, or -1 on out of memory. */
int strmap_put(strmap *m, const char *key, int value);

/* Returns the value of key, or def when absent. */
int strmap_get(const strmap *m, const char *key, int def);

/* Number of keys. */
size_t strmap_size(const strmap *m);

/* Calls fn for every key (borrowed, valid while the map lives). */
void strmap_foreach(const strmap *m, void (*fn)(const char *key, int value, void *ud), void *ud);

#endif
