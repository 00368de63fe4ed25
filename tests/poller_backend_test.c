/* Which kernel interface the I/O threads wait in: each back-end forced by
 * NGHTTPW_INIT_POLLER_BACKEND or by NGHTTPW_POLLER, AUTO, and AUTO's
 * fall-back to epoll where the kernel refuses io_uring (a seccomp filter
 * in the test's own process, which Criterion forks per test, refuses
 * io_uring_setup as a container would).  The back-end in use is read
 * from /proc/self/fd: each io_uring loop holds one ring. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "nghttpw/nghttpw.h"
#include "support/pairs.h"

#define LOOPS 2

static int
count_rings(void)
{
	DIR           *d = opendir("/proc/self/fd");
	struct dirent *e;
	int            n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL) {
		char    path[300], target[64];
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len > 0) {
			target[len] = '\0';
			n += strcmp(target, "anon_inode:[io_uring]") == 0;
		}
	}
	closedir(d);
	return (n);
}

static void *
try_ring(void *arg)
{
	struct io_uring_params p;
	long                   fd;

	memset(&p, 0, sizeof(p));
	fd = syscall(__NR_io_uring_setup, 4, &p);
	if (fd >= 0) {
		close((int) fd);
		*(bool *) arg = true;
	}
	return (NULL);
}

/* Whether this kernel lets the process set up a ring at all.  Asked on a
 * thread of its own: the kernel interrupts the thread that set up a ring
 * when the ring goes (see starting_thread_is_not_interrupted). */
static bool
kernel_allows_uring(void)
{
#ifdef NGHTTPW_HAVE_IO_URING
	pthread_t t;
	bool      ok = false;

	cr_assert_eq(pthread_create(&t, NULL, try_ring, &ok), 0);
	pthread_join(t, NULL);
	return (ok);
#else
	/* Built without it: as if the kernel refused. */
	(void) try_ring;
	return (false);
#endif
}

/* Starts the runtime with LOOPS loops through a TCP pair, checks that
 * bytes travel both ways, and returns how many rings the loops hold. */
static int
start_and_echo(void)
{
	nghttpw_stream *a, *b;
	char            msg[] = "which poller?";
	char            buf[sizeof(msg)];
	int             rings;

	nghttpw_init_set_parameter(NGHTTPW_INIT_NUM_POLLER_THREADS, LOOPS);
	cr_assert_eq(tcp_pair("127.0.0.1", &a, &b), 0);
	rings = count_rings();
	cr_assert_eq(send_all(a, msg, sizeof(msg), NULL), 0);
	cr_assert_eq(recv_all(b, buf, sizeof(buf), NULL), 0);
	cr_assert_arr_eq(buf, msg, sizeof(msg));
	cr_assert_eq(send_all(b, msg, sizeof(msg), NULL), 0);
	cr_assert_eq(recv_all(a, buf, sizeof(buf), NULL), 0);
	nghttpw_stream_free(a);
	nghttpw_stream_free(b);
	nghttpw_fini();
	return (rings);
}

static void
need_uring(void)
{
	if (!kernel_allows_uring()) {
		cr_skip_test("no io_uring here (the kernel or the build)");
	}
}

/* io_uring_setup fails with EPERM from now on in this process. */
static void
refuse_uring(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len    = sizeof(filter) / sizeof(filter[0]),
		.filter = filter,
	};

	cr_assert_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	cr_assert_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0,
	    "seccomp: %s", strerror(errno));
	cr_assert(!kernel_allows_uring());
}

Test(poller_backend, epoll_by_parameter)
{
	/* The parameter wins over the environment. */
	setenv("NGHTTPW_POLLER", "io_uring", 1);
	nghttpw_init_set_parameter(NGHTTPW_INIT_POLLER_BACKEND, NGHTTPW_POLLER_EPOLL);
	cr_assert_eq(start_and_echo(), 0);
}

Test(poller_backend, io_uring_by_parameter)
{
	need_uring();
	setenv("NGHTTPW_POLLER", "epoll", 1);
	nghttpw_init_set_parameter(
	    NGHTTPW_INIT_POLLER_BACKEND, NGHTTPW_POLLER_IO_URING);
	cr_assert_eq(start_and_echo(), LOOPS);
}

Test(poller_backend, epoll_by_environment)
{
	setenv("NGHTTPW_POLLER", "epoll", 1);
	cr_assert_eq(start_and_echo(), 0);
}

Test(poller_backend, io_uring_by_environment)
{
	need_uring();
	setenv("NGHTTPW_POLLER", "io_uring", 1);
	cr_assert_eq(start_and_echo(), LOOPS);
}

Test(poller_backend, auto_is_epoll_unless_told)
{
	unsetenv("NGHTTPW_POLLER");
	cr_assert_eq(start_and_echo(), 0);
	/* An unknown name in the environment is AUTO too. */
	setenv("NGHTTPW_POLLER", "kqueue", 1);
	cr_assert_eq(start_and_echo(), 0);
}

Test(poller_backend, chosen_again_after_fini)
{
	need_uring();
	unsetenv("NGHTTPW_POLLER");
	nghttpw_init_set_parameter(NGHTTPW_INIT_POLLER_BACKEND, NGHTTPW_POLLER_EPOLL);
	cr_assert_eq(start_and_echo(), 0);
	nghttpw_init_set_parameter(
	    NGHTTPW_INIT_POLLER_BACKEND, NGHTTPW_POLLER_IO_URING);
	cr_assert_eq(start_and_echo(), LOOPS);
	/* A value naming no back-end is ignored. */
	nghttpw_init_set_parameter(NGHTTPW_INIT_POLLER_BACKEND, 77);
	cr_assert_eq(start_and_echo(), LOOPS);
}

Test(poller_backend, refused_auto_falls_back_to_epoll)
{
	unsetenv("NGHTTPW_POLLER");
	refuse_uring();
	cr_assert_eq(start_and_echo(), 0);
	setenv("NGHTTPW_POLLER", "io_uring", 1);
	/* Asked for by name, it is not replaced quietly. */
	nghttpw_stream *a, *b;
	cr_assert_eq(tcp_pair("127.0.0.1", &a, &b), NGHTTPW_ENOTSUP);
}

Test(poller_backend, refused_forced_says_enotsup)
{
	nghttpw_aio *aio;

	unsetenv("NGHTTPW_POLLER");
	refuse_uring();
	nghttpw_init_set_parameter(
	    NGHTTPW_INIT_POLLER_BACKEND, NGHTTPW_POLLER_IO_URING);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), NGHTTPW_ENOTSUP);
	/* and epoll still serves once asked for */
	nghttpw_init_set_parameter(NGHTTPW_INIT_POLLER_BACKEND, NGHTTPW_POLLER_EPOLL);
	cr_assert_eq(start_and_echo(), 0);
}

/* The thread that starts the runtime on io_uring is not one of the
 * rings' users: the kernel interrupts those when a ring goes (the probe's,
 * at once), and a blocking call with a timeout would fail with EINTR. */
Test(poller_backend, starting_thread_is_not_interrupted)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 300000 };
	nghttpw_aio   *aio;
	int            sv[2];
	char           c;

	need_uring();
	nghttpw_init_set_parameter(
	    NGHTTPW_INIT_POLLER_BACKEND, NGHTTPW_POLLER_IO_URING);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_eq(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	for (int i = 0; i < 3; i++) {
		errno = 0;
		cr_assert_eq(recv(sv[0], &c, 1, 0), -1);
		cr_assert_eq(errno, EAGAIN, "recv: %s", strerror(errno));
	}
	nghttpw_aio_free(aio);
	nghttpw_fini();
	close(sv[0]);
	close(sv[1]);
}
