/*
 * The open-file cache of the file and directory handlers (in the manner
 * of nginx's open_file_cache): what a request path resolved to, kept
 * with the file's status, validators and media type, and either the file
 * held open or, for a small file, its bytes, so that a hit costs no system
 * call until the entry is due to be checked again.
 *
 * An entry is checked again at most every `revalidate` ms, with one
 * fstatat(2) on the held directory: a file whose device, inode, size,
 * modification or change time, or mode differ, or that is gone, drops the
 * entry and the request is resolved afresh.  Entries are reference
 * counted: the cache holds one reference while an entry is listed, and
 * each response whose body it lends holds one, so that dropping or
 * evicting an entry never pulls a body from under a connection.
 *
 * The table is a hash of chains with a least-recently-used list through
 * all entries, under one mutex per handler; the bytes are read and the
 * files checked outside it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http/http_date.h"
#include "http/http_file.h"

struct http_file_entry {
	http_file_link          link;        /* LRU list (first: see lru_entry) */
	atomic_uint             refs;
	http_file_entry        *hnext;       /* hash chain */
	bool                    listed;      /* in the table (mutex) */
	nghttpw_time            checked;     /* last found unchanged (mutex) */
	nghttpw_time            used;        /* last asked for (mutex) */
	uint32_t                hash;
	size_t                  cost;        /* bytes counted against the limit */
	http_file_rep           rep;
	int                     dirfd;       /* where path and absent are */
	char                   *key;
	size_t                  klen;
	char                   *path;        /* the file, for fstatat */
	char                   *absent;      /* must stay missing, or NULL */
};

#define BUCKETS_MIN 64

static http_file_entry *
lru_entry(http_file_link *l)
{
	return (http_file_entry *) (void *) l;
}

static void
lru_remove(http_file_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
}

static void
lru_push_front(http_file_cache *c, http_file_link *l)
{
	l->next           = c->lru.next;
	l->prev           = &c->lru;
	c->lru.next->prev = l;
	c->lru.next       = l;
}

static uint32_t
hash_key(const char *s, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < n; i++) {
		h = (h ^ (unsigned char) s[i]) * 16777619u;
	}
	return h;
}

/* ------------------------------------------------------- entries */

static void
entry_free(http_file_entry *e)
{
	if (e->rep.fd >= 0) {
		close(e->rep.fd);
	}
	free(e->rep.bytes);
	free(e->key);
	free(e->path);
	free(e->absent);
	free(e);
}

void
http_file_entry_release(void *arg)
{
	http_file_entry *e = arg;

	if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) {
		entry_free(e);
	}
}

const http_file_rep *
http_file_entry_rep(const http_file_entry *e)
{
	return &e->rep;
}

/* Whether the file is still the one the entry describes. */
static bool
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size && a->st_mode == b->st_mode &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* One look at the file system: is the entry still right?  (Its path may
 * now lead through links elsewhere: the device and inode would differ
 * then, unless it is the very same file.) */
static bool
entry_holds(const http_file_entry *e)
{
	struct stat st;

	if (fstatat(e->dirfd, e->path, &st, 0) != 0 || !same_file(&st, &e->rep.st)) {
		return false;
	}
	/* index.htm was chosen because index.html was missing. */
	return e->absent == NULL ||
	    (fstatat(e->dirfd, e->absent, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
	        errno == ENOENT);
}

/* ------------------------------------------------------- the table */

int
http_file_cache_init(http_file_cache *c)
{
	memset(c, 0, sizeof(*c));
	c->revalidate  = HTTP_FILE_CACHE_REVALIDATE;
	c->max_entries = HTTP_FILE_CACHE_ENTRIES;
	c->max_bytes   = HTTP_FILE_CACHE_BYTES;
	c->small_max   = HTTP_FILE_CACHE_SMALL;
	c->inactive    = HTTP_FILE_CACHE_INACTIVE;
	c->lru.next = c->lru.prev = &c->lru;
	if ((c->buckets = calloc(BUCKETS_MIN, sizeof(*c->buckets))) == NULL) {
		return NGHTTPW_ENOMEM;
	}
	c->nbuckets = BUCKETS_MIN;
	if (pthread_mutex_init(&c->mtx, NULL) != 0) {
		free(c->buckets);
		return NGHTTPW_ENOMEM;
	}
	return 0;
}

static void
unlink_locked(http_file_cache *c, http_file_entry *e)
{
	http_file_entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];

	while (*pp != e) {
		pp = &(*pp)->hnext;
	}
	*pp       = e->hnext;
	e->listed = false;
	lru_remove(&e->link);
	c->nentries--;
	c->nbytes -= e->cost;
}

/* Unlinks every entry; returns them chained through hnext, for the
 * caller to release outside the mutex. */
static http_file_entry *
take_all_locked(http_file_cache *c)
{
	http_file_entry *list = NULL, *e;

	while (c->lru.next != &c->lru) {
		e = lru_entry(c->lru.next);
		unlink_locked(c, e);
		e->hnext = list;
		list     = e;
	}
	return list;
}

static void
release_chain(http_file_entry *list)
{
	while (list != NULL) {
		http_file_entry *next = list->hnext;
		http_file_entry_release(list);
		list = next;
	}
}

/* Unlinks the entries not asked for in c->inactive ms, from the least
 * recently used end, onto *list: a file deleted or replaced is not held
 * open (its space kept) for ever by an entry nobody asks for. */
static void
sweep_locked(http_file_cache *c, nghttpw_time now, http_file_entry **list)
{
	while (c->lru.prev != &c->lru) {
		http_file_entry *e = lru_entry(c->lru.prev);
		if (e->used + (nghttpw_time) c->inactive > now) {
			break;
		}
		unlink_locked(c, e);
		e->hnext = *list;
		*list    = e;
	}
}

void
http_file_cache_fini(http_file_cache *c)
{
	release_chain(take_all_locked(c));
	free(c->buckets);
	pthread_mutex_destroy(&c->mtx);
}

void
http_file_cache_configure(http_file_cache *c, nghttpw_duration revalidate,
    size_t max_entries, size_t max_bytes, size_t small_max)
{
	http_file_entry *list;

	pthread_mutex_lock(&c->mtx);
	list           = take_all_locked(c);
	c->revalidate  = revalidate;
	c->max_entries = max_entries;
	c->max_bytes   = max_bytes;
	c->small_max   = small_max;
	pthread_mutex_unlock(&c->mtx);
	release_chain(list);
}

void
http_file_cache_clear(http_file_cache *c)
{
	http_file_entry *list;

	pthread_mutex_lock(&c->mtx);
	list = take_all_locked(c);
	pthread_mutex_unlock(&c->mtx);
	release_chain(list);
}

bool
http_file_cache_on(http_file_cache *c)
{
	/* Read without the lock: settings change only while the handler is
	 * not registered (nghttpw_http_handler_set_file_cache). */
	return c->revalidate > 0 && c->max_entries > 0;
}

void
http_file_cache_set_inactive(http_file_cache *c, nghttpw_duration inactive)
{
	pthread_mutex_lock(&c->mtx);
	c->inactive = inactive;
	pthread_mutex_unlock(&c->mtx);
}

void
http_file_cache_usage(http_file_cache *c, size_t *entries, size_t *bytes)
{
	pthread_mutex_lock(&c->mtx);
	*entries = c->nentries;
	*bytes   = c->nbytes;
	pthread_mutex_unlock(&c->mtx);
}

http_file_entry *
http_file_cache_get(http_file_cache *c, const char *key, size_t klen, int dirfd)
{
	uint32_t         h = hash_key(key, klen);
	http_file_entry *e = NULL, *idle = NULL;
	nghttpw_time     now;
	bool             check;

	if (!http_file_cache_on(c)) {
		return NULL;
	}
	now = nghttpw_clock();
	pthread_mutex_lock(&c->mtx);
	e = c->buckets[h & (c->nbuckets - 1)];
	while (e != NULL && (e->hash != h || e->klen != klen ||
	                        memcmp(e->key, key, klen) != 0)) {
		e = e->hnext;
	}
	if (e != NULL) {
		/* Most recently used first. */
		lru_remove(&e->link);
		lru_push_front(c, &e->link);
		e->used = now;
		atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
		check = now >= e->checked + (nghttpw_time) c->revalidate;
	}
	sweep_locked(c, now, &idle);
	pthread_mutex_unlock(&c->mtx);
	release_chain(idle);
	if (e == NULL) {
		return NULL;
	}
	if (!check && e->dirfd == dirfd) {
		return e;
	}
	/* Due: every thread that finds it due checks for itself, so that
	 * none serves it unchecked past its time.  An entry of a directory
	 * since replaced is dropped. */
	if (e->dirfd == dirfd && entry_holds(e)) {
		pthread_mutex_lock(&c->mtx);
		if (now > e->checked) {
			e->checked = now;
		}
		pthread_mutex_unlock(&c->mtx);
		return e;
	}
	pthread_mutex_lock(&c->mtx);
	if (e->listed) {
		unlink_locked(c, e);
		atomic_fetch_sub_explicit(&e->refs, 1, memory_order_relaxed);
	}
	pthread_mutex_unlock(&c->mtx);
	http_file_entry_release(e);
	return NULL;
}

/* Twice the buckets when the chains grow past two on average. */
static void
grow_locked(http_file_cache *c)
{
	size_t            n = c->nbuckets * 2;
	http_file_entry **b;

	if (c->nentries < c->nbuckets * 2) {
		return;
	}
	if ((b = calloc(n, sizeof(*b))) == NULL) {
		return; /* longer chains, still correct */
	}
	for (size_t i = 0; i < c->nbuckets; i++) {
		http_file_entry *e = c->buckets[i], *next;
		for (; e != NULL; e = next) {
			next             = e->hnext;
			e->hnext         = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(c->buckets);
	c->buckets  = b;
	c->nbuckets = n;
}

/* The bytes of a small file, read whole and checked to be those of the
 * status taken before (a file being written is not kept).  NULL when not. */
static void *
read_small(int fd, const struct stat *st)
{
	size_t      size = (size_t) st->st_size, got = 0;
	struct stat after;
	char       *buf  = malloc(size > 0 ? size : 1);
	ssize_t     n;

	if (buf == NULL) {
		return NULL;
	}
	while (got < size &&
	    (n = pread(fd, buf + got, size - got, (off_t) got)) > 0) {
		got += (size_t) n;
	}
	if (got != size || fstat(fd, &after) != 0 || !same_file(&after, st)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Formats the fields of a cached file that do not change, once, for
 * every answer from it to borrow (a media type too long to fit leaves
 * them to be set per answer). */
static void
prefab_init(http_file_rep *rep)
{
	static const char *const names[] = { "Last-Modified", "ETag",
		"Content-Type", "Accept-Ranges" };
	nhw_http_prefab *p = &rep->prefab;
	int              n = snprintf(rep->fields, sizeof(rep->fields),
	                 "%s: %s\r\n%s: %s\r\n%s: %s\r\n%s: bytes\r\n", names[0],
	                 rep->lm_text, names[1], rep->etag, names[2], rep->type, names[3]);

	if (n <= 0 || (size_t) n >= sizeof(rep->fields)) {
		p->n = 0;
		return;
	}
	p->lines     = rep->fields;
	p->len       = (size_t) n;
	p->values[0] = rep->lm_text;
	p->values[1] = rep->etag;
	p->values[2] = rep->type;
	p->values[3] = "bytes";
	for (size_t i = 0; i < 4; i++) {
		p->names[i] = names[i];
	}
	p->n = 4;
}

http_file_entry *
http_file_cache_put(http_file_cache *c, const char *key, size_t klen,
    int dirfd, const char *path, const char *absent, int fd,
    const struct stat *st, const char *type, nghttpw_time opened)
{
	http_file_entry *e, *old, *list = NULL;
	time_t           lm;

	if (!http_file_cache_on(c) || !S_ISREG(st->st_mode) ||
	    (e = calloc(1, sizeof(*e))) == NULL) {
		return NULL;
	}
	e->rep.fd = -1;
	if ((e->key = strndup(key, klen)) == NULL ||
	    (e->path = strdup(path)) == NULL ||
	    (absent != NULL && (e->absent = strdup(absent)) == NULL)) {
		entry_free(e);
		return NULL;
	}
	e->klen  = klen;
	e->hash  = hash_key(key, klen);
	e->dirfd = dirfd;
	e->rep.st   = *st;
	e->rep.type = type;
	http_file_etag(st, e->rep.etag);
	lm = http_file_last_modified(st);
	http_date_format(lm, e->rep.lm_text);
	e->rep.lm = lm;
	prefab_init(&e->rep);
	if ((uint64_t) st->st_size <= c->small_max &&
	    (uint64_t) st->st_size <= c->max_bytes) {
		if ((e->rep.bytes = read_small(fd, st)) == NULL) {
			entry_free(e);
			return NULL;
		}
		e->cost = (size_t) st->st_size;
		close(fd);
	} else {
		e->rep.fd = fd;
	}
	e->checked = opened; /* current as of then, not of now */
	e->used    = nghttpw_clock();
	atomic_init(&e->refs, 2); /* the table's and the caller's */

	pthread_mutex_lock(&c->mtx);
	grow_locked(c);
	/* The same key put by two threads at once: the later wins. */
	for (old = c->buckets[e->hash & (c->nbuckets - 1)]; old != NULL;
	     old = old->hnext) {
		if (old->hash == e->hash && old->klen == klen &&
		    memcmp(old->key, key, klen) == 0) {
			break;
		}
	}
	if (old != NULL) {
		unlink_locked(c, old);
		old->hnext = list;
		list       = old;
	}
	sweep_locked(c, e->used, &list);
	/* Least recently used out, to make room. */
	while (c->nentries > 0 && (c->nentries >= c->max_entries ||
	                              c->nbytes + e->cost > c->max_bytes)) {
		old = lru_entry(c->lru.prev);
		unlink_locked(c, old);
		old->hnext = list;
		list       = old;
	}
	e->hnext = c->buckets[e->hash & (c->nbuckets - 1)];
	c->buckets[e->hash & (c->nbuckets - 1)] = e;
	lru_push_front(c, &e->link);
	e->listed = true;
	c->nentries++;
	c->nbytes += e->cost;
	pthread_mutex_unlock(&c->mtx);
	release_chain(list);
	return e;
}
