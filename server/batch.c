/* batch: see batch.h. */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

typedef struct held {
	struct held *next;
	void *owner;
	size_t len;
	char frame[];
} held;

typedef struct counted {
	void *owner;
	size_t messages;
} counted;

struct batch {
	store *st;
	int open;
	held *head, *tail;
	counted who[BATCH_MAX_MESSAGES];   /* owners with messages in this batch */
	size_t n_who;
	size_t messages;
};

batch *batch_new(store *st)
{
	batch *b = calloc(1, sizeof *b);
	if (b)
		b->st = st;
	return b;
}

static void drop_all(batch *b)
{
	while (b->head) {
		held *h = b->head;
		b->head = h->next;
		free(h);
	}
	b->tail = NULL;
	b->n_who = 0;
	b->messages = 0;
}

void batch_free(batch *b)
{
	if (!b)
		return;
	if (b->open)
		store_rollback(b->st);
	drop_all(b);
	free(b);
}

int batch_begin(batch *b)
{
	char err[256];
	if (b->open)
		return 1;
	/* Only an outermost transaction can be a batch: inside someone else's,
	 * the commit would not be ours to make. */
	if (store_in_tx(b->st) || store_begin(b->st, err, sizeof err) < 0)
		return 0;
	b->open = 1;
	return 1;
}

int batch_is_open(const batch *b)
{
	return b->open;
}

int batch_full(const batch *b)
{
	return b->open && b->messages >= BATCH_MAX_MESSAGES;
}

void batch_count(batch *b, void *owner)
{
	size_t i;
	if (!b->open)
		return;
	for (i = 0; i < b->n_who && b->who[i].owner != owner; i++)
		;
	if (i == b->n_who) {
		if (b->n_who == BATCH_MAX_MESSAGES)
			return; /* cannot happen: the caller ends a full batch first */
		b->who[b->n_who].owner = owner;
		b->who[b->n_who++].messages = 0;
	}
	b->who[i].messages++;
	b->messages++;
}

int batch_hold(batch *b, void *owner, const char *frame, size_t len)
{
	held *h = malloc(sizeof *h + len);
	if (!h)
		return -1;
	h->next = NULL;
	h->owner = owner;
	h->len = len;
	memcpy(h->frame, frame, len);
	if (b->tail)
		b->tail->next = h;
	else
		b->head = h;
	b->tail = h;
	return 0;
}

void batch_forget(batch *b, void *owner)
{
	held **pp = &b->head;
	b->tail = NULL;
	while (*pp) {
		held *h = *pp;
		if (h->owner == owner) {
			*pp = h->next;
			free(h);
		} else {
			b->tail = h;
			pp = &h->next;
		}
	}
	for (size_t i = 0; i < b->n_who; i++)
		if (b->who[i].owner == owner) {
			b->messages -= b->who[i].messages;
			b->who[i] = b->who[--b->n_who];
			break;
		}
}

int batch_end(batch *b, batch_deliver_fn deliver, const char *fail_frame, char *err,
	      size_t errsz)
{
	int rc;
	if (!b->open)
		return 0;
	b->open = 0;
	if (store_commit(b->st, err, errsz) < 0) {
		size_t len = strlen(fail_frame);
		for (size_t i = 0; i < b->n_who; i++)
			for (size_t m = 0; m < b->who[i].messages; m++)
				deliver(b->who[i].owner, fail_frame, len);
		drop_all(b);
		return -1;
	}
	rc = (int)b->messages;
	/* deliver may not call back into the batch (it is closed now) */
	for (held *h = b->head; h; h = h->next)
		deliver(h->owner, h->frame, h->len);
	drop_all(b);
	return rc;
}
