/*
 * Opening a request's path under the directory a handler serves, without
 * ever leaving it.
 *
 * The directory is opened once (O_PATH) and held.  A path below it is
 * opened with one openat2(2) call with RESOLVE_BENEATH, which makes the
 * kernel refuse ".." escapes and symbolic links that lead outside, with
 * no race between a check and the open.  It refuses absolute links too,
 * even into the tree: those (rare) go the slow way below, as nng serves
 * them.  Where
 * openat2 is missing (Linux before 5.6: ENOSYS; or a seccomp filter that
 * refuses it: EPERM), the path is resolved with realpath(3) instead, which
 * reads each component's link, checked to lie under the resolved root,
 * and opened with O_NOFOLLOW so that a link put in since is refused.
 * A handler told to (nghttpw_http_handler_set_outside_links) follows
 * links wherever they lead; ".." segments never reach this file.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "http/http_file.h"
#include "http/http_server.h"

#define OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

/* Set once openat2 is known not to work here (or by the tests). */
static atomic_bool walk_only;

void
http_file_force_walk(bool on)
{
	atomic_store(&walk_only, on);
}

bool
http_file_uses_openat2(void)
{
	return !atomic_load(&walk_only);
}

uint16_t
http_file_errno_status(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
	case ELOOP:
	case ENAMETOOLONG:
	case EXDEV: /* openat2: the path leads outside the directory */
		return NGHTTPW_HTTP_STATUS_NOT_FOUND;
	case EACCES:
	case EPERM:
		return NGHTTPW_HTTP_STATUS_FORBIDDEN;
	case EMFILE:
	case ENFILE:
		return NGHTTPW_HTTP_STATUS_SERVICE_UNAVAILABLE;
	default:
		return NGHTTPW_HTTP_STATUS_INTERNAL_SERVER_ERROR;
	}
}

/* After the open: only regular files and directories are served (a FIFO
 * or a device is refused; O_NONBLOCK kept the open itself from waiting,
 * and regular files ignore it). */
static uint16_t
check_opened(int fd, struct stat *st)
{
	if (fstat(fd, st) != 0) {
		int err = errno;
		close(fd);
		return http_file_errno_status(err);
	}
	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)) {
		close(fd);
		return NGHTTPW_HTTP_STATUS_FORBIDDEN;
	}
	return 0;
}

uint16_t
http_file_open_path(const char *path, bool nofollow, int *fdp, struct stat *st)
{
	int      fd;
	uint16_t status;

	if ((fd = open(path, OPEN_FLAGS | (nofollow ? O_NOFOLLOW : 0))) < 0) {
		return http_file_errno_status(errno);
	}
	if ((status = check_opened(fd, st)) == 0) {
		*fdp = fd;
	}
	return status;
}

/* ------------------------------------------------------- the walk */

/* True when path (resolved) is root or below it. */
static bool
under_root(const char *path, const char *root)
{
	size_t n = strlen(root);
	if (strcmp(root, "/") == 0) {
		return true;
	}
	return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* root's resolved path + "/" + rel, resolved: *realp, which the caller
 * frees, when it lies under the root (or anywhere, with outside links).
 * Returns 0 or an HTTP status. */
static uint16_t
walk_resolve(const http_file_root *r, const char *rel, char **realp)
{
	char    *root, *path, *real;
	size_t   lr, ll = strlen(rel);
	uint16_t status = 0;

	if ((root = realpath(r->fspath, NULL)) == NULL) {
		return http_file_errno_status(errno);
	}
	lr = strlen(root);
	if ((path = malloc(lr + 1 + ll + 1)) == NULL) {
		free(root);
		return NGHTTPW_HTTP_STATUS_INTERNAL_SERVER_ERROR;
	}
	/* A root that is not a directory fails here ("file/"). */
	memcpy(path, root, lr);
	path[lr] = '/';
	memcpy(path + lr + 1, rel, ll + 1);
	if ((real = realpath(path, NULL)) == NULL) {
		status = http_file_errno_status(errno);
	} else if (!r->outside_links && !under_root(real, root)) {
		free(real);
		status = NGHTTPW_HTTP_STATUS_NOT_FOUND;
	} else {
		*realp = real;
	}
	free(path);
	free(root);
	return status;
}

static uint16_t
walk_open(const http_file_root *r, const char *rel, int *fdp, struct stat *st)
{
	char    *real;
	uint16_t status;

	if ((status = walk_resolve(r, rel, &real)) != 0) {
		return status;
	}
	/* The resolved path has no links; one put in since is refused. */
	status = http_file_open_path(real, true, fdp, st);
	free(real);
	return status;
}

/* ------------------------------------------------------- openat2 */

static long
openat2_call(int dirfd, const char *rel, uint64_t flags, bool outside)
{
	/* rel has no ".." segment: only a link can lead outside. */
	struct open_how how = { .flags = flags,
		.resolve = outside ? RESOLVE_NO_MAGICLINKS
		                   : RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };

	return syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
}

/* After ENOSYS, or EPERM where a plain openat2 of "/" fails the same way
 * (a seccomp filter, not the file's permissions): openat2 is not to be
 * used again.  True when that is so. */
static bool
openat2_unusable(int err)
{
	long fd;

	if (err == EPERM) {
		fd = openat2_call(AT_FDCWD, "/", O_PATH | O_CLOEXEC, false);
		if (fd >= 0) {
			close((int) fd);
			return false;
		}
		err = errno;
	}
	if (err == ENOSYS || err == EPERM) {
		atomic_store(&walk_only, true);
		return true;
	}
	return false;
}

/* The relative path openat2 takes for rel ("" or "/..."). */
static const char *
beneath(const char *rel)
{
	while (*rel == '/') {
		rel++;
	}
	return *rel == '\0' ? "." : rel;
}

int
http_file_root_init(http_file_root *r, const char *fspath)
{
	memset(r, 0, sizeof(*r));
	r->fspath  = fspath;
	r->recheck = HTTP_FILE_CACHE_REVALIDATE;
	atomic_init(&r->dirfd, -1);
	atomic_init(&r->checked, 0);
	return pthread_mutex_init(&r->mtx, NULL) == 0 ? 0 : NGHTTPW_ENOMEM;
}

/* Keeps fd open until fini (mutex held).  False when out of memory. */
static bool
retire_locked(http_file_root *r, int fd)
{
	int *grown = realloc(r->retired, (r->nretired + 1) * sizeof(int));

	if (grown == NULL) {
		return false;
	}
	r->retired              = grown;
	r->retired[r->nretired++] = fd;
	return true;
}

/* Opens fspath, or finds it is still the directory held (mutex held). */
static int
reopen_locked(http_file_root *r, nghttpw_time now, uint16_t *statusp)
{
	int         old = atomic_load(&r->dirfd), fd;
	struct stat st;

	if (old >= 0 && stat(r->fspath, &st) == 0 && st.st_dev == r->dev &&
	    st.st_ino == r->ino) {
		atomic_store(&r->checked, now);
		return old;
	}
	if ((fd = open(r->fspath, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		*statusp = http_file_errno_status(errno);
		return -1; /* the old one, if any, stays for when it is back */
	}
	if (fstat(fd, &st) != 0 || (old >= 0 && !retire_locked(r, old))) {
		close(fd);
		*statusp = NGHTTPW_HTTP_STATUS_INTERNAL_SERVER_ERROR;
		return -1;
	}
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	atomic_store(&r->checked, now);
	atomic_store_explicit(&r->dirfd, fd, memory_order_release);
	return fd;
}

int
http_file_root_fd(http_file_root *r, uint16_t *statusp)
{
	int          fd  = atomic_load_explicit(&r->dirfd, memory_order_acquire);
	nghttpw_time now = nghttpw_clock();

	if (fd >= 0 && now < atomic_load_explicit(&r->checked, memory_order_relaxed) +
	        (nghttpw_time) r->recheck) {
		return fd;
	}
	pthread_mutex_lock(&r->mtx);
	fd = reopen_locked(r, now, statusp);
	pthread_mutex_unlock(&r->mtx);
	return fd;
}

void
http_file_root_fini(http_file_root *r)
{
	int fd = atomic_load(&r->dirfd);

	if (fd >= 0) {
		close(fd);
	}
	for (size_t i = 0; i < r->nretired; i++) {
		close(r->retired[i]);
	}
	free(r->retired);
	atomic_store(&r->dirfd, -1);
	pthread_mutex_destroy(&r->mtx);
}

/* One openat2 of rel under the root, with flags.  Returns the
 * descriptor, or -errno: -ENOSYS when openat2 cannot be used here (walk
 * instead), -EXDEV when the path leads outside or through an absolute
 * link. */
static int
beneath_open(const http_file_at *at, const char *rel, uint64_t flags)
{
	int  tries = 0;
	long fd;

	/* EAGAIN: a rename elsewhere raced the lookup of a "..". */
	while ((fd = openat2_call(at->fd, beneath(rel), flags,
	            at->r->outside_links)) < 0 &&
	    errno == EAGAIN && ++tries < 8) {
	}
	if (fd >= 0) {
		return (int) fd;
	}
	return openat2_unusable(errno) ? -ENOSYS : -errno;
}

uint16_t
http_file_root_open(const http_file_at *at, const char *rel, int *fdp,
    struct stat *st)
{
	uint16_t status;
	int      fd = -ENOSYS;

	if (!atomic_load(&walk_only)) {
		fd = beneath_open(at, rel, OPEN_FLAGS);
	}
	if (fd >= 0) {
		if ((status = check_opened(fd, st)) == 0) {
			*fdp = fd;
		}
		return status;
	}
	/* EXDEV: a ".." or a link leads outside, or a link is absolute:
	 * the walk decides, so that an absolute link into the tree is
	 * served as before. */
	if (fd != -ENOSYS && fd != -EXDEV) {
		return http_file_errno_status(-fd);
	}
	return walk_open(at->r, rel, fdp, st);
}

bool
http_file_root_is_dir(const http_file_at *at, const char *rel)
{
	struct stat st;
	char       *real;
	int         fd = -ENOSYS;
	bool        dir = false;

	if (!atomic_load(&walk_only)) {
		fd = beneath_open(at, rel, O_PATH | O_CLOEXEC);
	}
	if (fd >= 0) {
		dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
		close(fd);
		return dir;
	}
	if (fd != -ENOSYS && fd != -EXDEV) {
		return false; /* as root_open: the walk decides the others */
	}
	if (walk_resolve(at->r, rel, &real) == 0) {
		dir = stat(real, &st) == 0 && S_ISDIR(st.st_mode);
		free(real);
	}
	return dir;
}
