/* Fixed-size records carved from chunks of memory mapped apart from the
 * malloc heap: for records that many objects hold for long (a parked
 * connection's), where a malloc each would cost a header and rounding,
 * and would pin heap pages between short-lived allocations. */
#ifndef NGHTTPW_CORE_SLAB_H
#define NGHTTPW_CORE_SLAB_H

#include <pthread.h>
#include <stddef.h>

#include "core/list.h"

typedef struct slab {
	pthread_mutex_t mtx;
	size_t          size;    /* of a record, rounded to a pointer's */
	list_node       partial; /* chunks with a free record */
	void           *spare;   /* one empty chunk kept against churn */
} slab;

#define SLAB_INITIALIZER(s, record_size)                                   \
	{                                                                  \
		.mtx = PTHREAD_MUTEX_INITIALIZER,                          \
		.size = ((record_size) + sizeof(void *) - 1) &             \
		    ~(sizeof(void *) - 1),                                 \
		.partial = { &(s).partial, &(s).partial },                 \
	}

/* A zeroed record, or NULL when out of memory. */
void *slab_alloc(slab *);

/* Gives a record of this slab back. */
void slab_free(slab *, void *);

#endif
