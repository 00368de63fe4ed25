/* Header fields a server adds to every response it writes (such as
 * Strict-Transport-Security): set once, read by every response under the
 * server's handler lock. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_msg.h"
#include "http/http_server_conn.h"

struct server_header {
	struct server_header *next;
	char                 *value;
	char                  name[];
};

static void
header_free(server_header *h)
{
	free(h->value);
	free(h);
}

int
nghttpw_http_server_set_header(
    nghttpw_http_server *s, const char *name, const char *value)
{
	server_header  *h = NULL;
	server_header **pp;
	size_t          len;

	if (s == NULL || name == NULL ||
	    !nhw_http_is_token(name, len = strlen(name)) ||
	    (value != NULL && !nhw_http_is_value(value, strlen(value)))) {
		return (NGHTTPW_EINVAL);
	}
	if (value != NULL) {
		if ((h = calloc(1, sizeof(*h) + len + 1)) == NULL ||
		    (h->value = strdup(value)) == NULL) {
			free(h);
			return (NGHTTPW_ENOMEM);
		}
		memcpy(h->name, name, len + 1);
	}
	pthread_rwlock_wrlock(&s->hlock);
	for (pp = &s->headers; *pp != NULL; pp = &(*pp)->next) {
		if (strcasecmp((*pp)->name, name) == 0) {
			server_header *old = *pp;
			*pp                = old->next;
			header_free(old);
			break;
		}
	}
	if (h != NULL) {
		for (; *pp != NULL; pp = &(*pp)->next) {
		}
		*pp = h;
	}
	atomic_store(&s->headers_on, s->headers != NULL);
	pthread_rwlock_unlock(&s->hlock);
	return (0);
}

void
http_server_headers_apply(nghttpw_http_server *s, nghttpw_http_res *res)
{
	if (!atomic_load(&s->headers_on)) {
		return;
	}
	pthread_rwlock_rdlock(&s->hlock);
	for (server_header *h = s->headers; h != NULL; h = h->next) {
		/* The handler's own field wins. */
		if (nghttpw_http_res_get_header(res, h->name) == NULL) {
			(void) nghttpw_http_res_set_header(res, h->name, h->value);
		}
	}
	pthread_rwlock_unlock(&s->hlock);
}

void
http_server_headers_free(nghttpw_http_server *s)
{
	server_header *h;

	while ((h = s->headers) != NULL) {
		s->headers = h->next;
		header_free(h);
	}
}
