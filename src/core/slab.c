/* Slabs: chunks of SLAB_CHUNK bytes, mapped at an address that is a
 * multiple of their size, so that a record finds its chunk by masking its
 * own address and carries no header.  A chunk starts with its bookkeeping
 * and keeps its free records in a list threaded through them. */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "core/slab.h"

#define SLAB_CHUNK (64u * 1024u)

typedef struct slab_chunk {
	list_node node; /* in partial while it has a free record */
	void     *free; /* first free record; each holds the next */
	char     *fresh; /* records from here on were never handed out */
	unsigned  used;
} slab_chunk;

static slab_chunk *
chunk_of(void *rec)
{
	return ((slab_chunk *) ((uintptr_t) rec & ~(uintptr_t) (SLAB_CHUNK - 1)));
}

/* Maps twice the size and gives back what lies outside the aligned
 * middle. */
static slab_chunk *
chunk_map(void)
{
	size_t    len = 2 * SLAB_CHUNK;
	char     *p   = mmap(NULL, len, PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t start;

	if (p == MAP_FAILED) {
		return (NULL);
	}
	start = ((uintptr_t) p + SLAB_CHUNK - 1) & ~(uintptr_t) (SLAB_CHUNK - 1);
	if (start > (uintptr_t) p) {
		(void) munmap(p, start - (uintptr_t) p);
	}
	if ((uintptr_t) p + len > start + SLAB_CHUNK) {
		(void) munmap((void *) (start + SLAB_CHUNK),
		    (uintptr_t) p + len - (start + SLAB_CHUNK));
	}
	return ((slab_chunk *) start);
}

static void
chunk_init(slab *s, slab_chunk *c)
{
	size_t head = (sizeof(*c) + s->size - 1) / s->size * s->size;

	c->node.next = c->node.prev = NULL;
	c->free  = NULL;
	c->fresh = (char *) c + head;
	c->used  = 0;
}

void *
slab_alloc(slab *s)
{
	slab_chunk *c;
	void       *rec;

	pthread_mutex_lock(&s->mtx);
	if (list_empty(&s->partial)) {
		if ((c = s->spare) != NULL) {
			s->spare = NULL;
		} else if ((c = chunk_map()) == NULL) {
			pthread_mutex_unlock(&s->mtx);
			return (NULL);
		}
		chunk_init(s, c);
		list_append(&s->partial, &c->node);
	}
	c = LIST_ENTRY(s->partial.next, slab_chunk, node);
	if ((rec = c->free) != NULL) {
		c->free = *(void **) rec;
	} else {
		rec = c->fresh;
		c->fresh += s->size;
	}
	c->used++;
	if (c->free == NULL && c->fresh + s->size > (char *) c + SLAB_CHUNK) {
		list_remove(&c->node); /* full */
	}
	pthread_mutex_unlock(&s->mtx);
	memset(rec, 0, s->size);
	return (rec);
}

void
slab_free(slab *s, void *rec)
{
	slab_chunk *c = chunk_of(rec);

	pthread_mutex_lock(&s->mtx);
	*(void **) rec = c->free;
	c->free        = rec;
	if (!list_linked(&c->node)) {
		list_append(&s->partial, &c->node); /* was full */
	}
	if (--c->used == 0) {
		list_remove(&c->node);
		if (s->spare == NULL) {
			s->spare = c;
		} else {
			(void) munmap(c, SLAB_CHUNK);
		}
	}
	pthread_mutex_unlock(&s->mtx);
}
