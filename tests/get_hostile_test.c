/* nghttpw-get against a raw server that answers each request with bytes
 * of the test's choosing: wrong or odd framing (RFC 9112 section 6.3),
 * interim responses, trailers, a head that never ends, a trickling body
 * under -m, and connections the server drops.  Each case says what curl
 * 7.88 does with the same bytes, the reference for the tool's exit
 * status where the two agree.  Skipped when the tool is not built. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nghttpw/nghttpw.h"
#include "support/pairs.h"
#include "support/programs.h"
#include "support/run_shell.h"

#define MAX_STEPS 4

/* One answer: written whole, or byte by byte every trickle_ms; then the
 * connection stays open for the next request unless close is set.  When
 * repeat is set, it follows the bytes again and again until the client
 * goes away. */
typedef struct {
	const char *bytes;
	bool        close;
	int         trickle_ms;
	const char *repeat;
} step;

typedef struct {
	int       lfd;
	int       port;
	step      steps[MAX_STEPS];
	int       nsteps;
	int       nconns; /* connections accepted */
	int       nreqs;  /* request heads read */
	pthread_t thr;
} server;

static char tool[PATH_MAX];
static char out[65536];

/* Reads one request head from fd, within 10 s: false when the client
 * closed the connection (or was too slow) first. */
static bool
read_request_head(int fd)
{
	char   head[4096];
	size_t len = 0;

	while (len < sizeof(head) - 1) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, 10000) <= 0) {
			return (false);
		}
		ssize_t n = recv(fd, head + len, sizeof(head) - 1 - len, 0);
		if (n <= 0) {
			return (false);
		}
		len += (size_t) n;
		head[len] = '\0';
		if (strstr(head, "\r\n\r\n") != NULL) {
			return (true);
		}
	}
	return (false);
}

static bool
send_bytes(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0) {
			return (false);
		}
		p += w;
		n -= (size_t) w;
	}
	return (true);
}

static void
answer(int fd, const step *st)
{
	size_t len = strlen(st->bytes);

	if (st->trickle_ms > 0) {
		for (size_t i = 0; i < len; i++) {
			if (!send_bytes(fd, st->bytes + i, 1)) {
				return;
			}
			nghttpw_msleep((nghttpw_duration) st->trickle_ms);
		}
		return;
	}
	if (!send_bytes(fd, st->bytes, len) || st->repeat == NULL) {
		return;
	}
	/* Until the client hangs up, or 64 MB in case it never does (the
	 * test then fails on its exit status). */
	size_t rlen = strlen(st->repeat);
	for (size_t sent = 0; sent < 64u * 1024u * 1024u; sent += rlen) {
		if (!send_bytes(fd, st->repeat, rlen)) {
			return;
		}
	}
}

static void *
server_main(void *arg)
{
	server *s  = arg;
	int     fd = -1;

	while (s->nreqs < s->nsteps) {
		if (fd < 0) {
			struct pollfd pfd = { .fd = s->lfd, .events = POLLIN };
			if (poll(&pfd, 1, 10000) <= 0 || (fd = accept(s->lfd, NULL, NULL)) < 0) {
				break;
			}
			s->nconns++;
		}
		if (!read_request_head(fd)) {
			close(fd); /* the client went to another connection */
			fd = -1;
			continue;
		}
		const step *st = &s->steps[s->nreqs++];
		answer(fd, st);
		if (st->close) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0) {
		close(fd);
	}
	return (NULL);
}

static void
server_start(server *s, const step *steps, int nsteps)
{
	if (!built_tool("nghttpw-get", tool, sizeof(tool))) {
		cr_skip_test("nghttpw-get not built");
	}
	memset(s, 0, sizeof(*s));
	cr_assert_leq(nsteps, MAX_STEPS);
	memcpy(s->steps, steps, sizeof(steps[0]) * (size_t) nsteps);
	s->nsteps = nsteps;
	cr_assert_geq(s->lfd = raw_tcp_listen(&s->port), 0);
	cr_assert_eq(pthread_create(&s->thr, NULL, server_main, s), 0);
}

static void
server_stop(server *s)
{
	pthread_join(s->thr, NULL);
	close(s->lfd);
}

/* Runs the tool (within 20 s) with opts and the server's URL /first;
 * its standard output goes to out.  Its exit status. */
static int
get(server *s, const char *opts)
{
	return (run_shell(out, sizeof(out),
	    "timeout 20 %s -s %s http://127.0.0.1:%d/first 2>/dev/null", tool, opts,
	    s->port));
}

#define OK_CLOSE "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
#define CHUNKS "5\r\nhello\r\n0\r\n\r\n"

/* Chunked not last: read until the close, the chunks as they are (RFC
 * 9112 section 6.3).  curl refuses the coding it does not know: exit 61. */
Test(get_hostile, chunked_not_last_is_read_until_close)
{
	server     s;
	const step st[] = { { .bytes = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, x-other\r\n"
		                  "\r\n" CHUNKS,
		.close = true } };

	server_start(&s, st, 1);
	cr_assert_eq(get(&s, ""), 0);
	server_stop(&s);
	cr_assert_str_eq(out, CHUNKS);
}

/* Two Transfer-Encoding fields are one list: chunked, then an empty one,
 * is chunked.  curl decodes it too: exit 0, "hello". */
Test(get_hostile, two_transfer_encoding_fields_are_combined)
{
	server     s;
	const step st[] = { { .bytes = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
		                  "Transfer-Encoding: \r\nConnection: close\r\n\r\n" CHUNKS,
		.close = true } };

	server_start(&s, st, 1);
	cr_assert_eq(get(&s, ""), 0);
	server_stop(&s);
	cr_assert_str_eq(out, "hello");
}

/* A bare CR in a chunk-size line, which RFC 9112 section 7.1 has no room
 * for.  curl 7.88 takes it (exit 0, "hello"); the tool refuses it. */
Test(get_hostile, bare_cr_in_a_chunk_line_is_refused)
{
	server     s;
	const step st[] = { { .bytes = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		                  "5\rX\r\nhello\r\n0\r\n\r\n",
		.close = true } };

	server_start(&s, st, 1);
	cr_assert_eq(get(&s, ""), 56);
	server_stop(&s);
	cr_assert_str_eq(out, "");
}

/* A status below 100 is no interim response: refused, the answer after
 * it unread.  curl: exit 1 ("Unsupported response code"). */
Test(get_hostile, status_099_is_refused)
{
	server     s;
	const step st[] = { { .bytes = "HTTP/1.1 099 Odd\r\n\r\n" OK_CLOSE, .close = true } };

	server_start(&s, st, 1);
	cr_assert_eq(get(&s, "-i"), 56);
	server_stop(&s);
	cr_assert_str_eq(out, "");
}

/* Content-Length and Transfer-Encoding: the chunks frame the body, and
 * the connection, which another reader may frame otherwise, is not used
 * again (RFC 9112 section 6.3: "ought to be handled as an error"): the
 * redirect goes over a new one.  curl 7.88 frames it the same but reuses
 * the connection. */
Test(get_hostile, length_and_chunked_is_chunked_and_not_reused)
{
	server     s;
	const step st[] = {
		{ .bytes = "HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 40\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n" CHUNKS,
		    .close = false },
		{ .bytes = OK_CLOSE, .close = true },
	};

	server_start(&s, st, 2);
	cr_assert_eq(get(&s, "-L"), 0);
	server_stop(&s);
	cr_assert_str_eq(out, "ok");
	cr_assert_eq(s.nreqs, 2);
	cr_assert_eq(s.nconns, 2, "%d connections", s.nconns);
}

/* A 302 kept alive, then closed by the server: the next hop is sent again
 * on a new connection, as curl does (exit 0). */
Test(get_hostile, redirect_then_close_retries_on_a_new_connection)
{
	server     s;
	const step st[] = {
		{ .bytes = "HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n", .close = true },
		{ .bytes = OK_CLOSE, .close = true },
	};

	server_start(&s, st, 2);
	cr_assert_eq(get(&s, "-L"), 0);
	server_stop(&s);
	cr_assert_str_eq(out, "ok");
	cr_assert_eq(s.nconns, 2, "%d connections", s.nconns);
}

/* -i prints the final head byte for byte as it came (order, spelling,
 * reason, repeated fields on their own lines, spacing around values),
 * after an interim 100 that it does not print; trailers do not disturb
 * the body.  curl -i prints the 100, and the trailers after the body, too. */
Test(get_hostile, include_prints_the_head_as_it_came)
{
	server      s;
	const char *head = "HTTP/1.1 200 Fine Thanks\r\nx-lower: a\r\n"
	                   "Transfer-Encoding: chunked\r\nSet-Cookie: a=1\r\n"
	                   "Set-Cookie: b=2\r\nX-Dup: 1\r\nX-MiXed: v\r\nX-Dup:2\r\n"
	                   "X-Pad:   spaced  out \t\r\nConnection: close\r\n\r\n";
	char        answer_bytes[512];
	char        want[512];

	snprintf(answer_bytes, sizeof(answer_bytes),
	    "HTTP/1.1 100 Continue\r\n\r\n%s5\r\nhello\r\n0\r\nX-Sum: 5\r\n\r\n", head);
	const step st[] = { { .bytes = answer_bytes, .close = true } };
	server_start(&s, st, 1);
	cr_assert_eq(get(&s, "-i"), 0);
	server_stop(&s);
	snprintf(want, sizeof(want), "%shello", head);
	cr_assert_str_eq(out, want);
}

/* A head that never ends: refused at the library's limit (64 KiB), in
 * bounded memory: the tool grows by less than 16 MiB over its size for a
 * tiny answer (in the same build, sanitizers included), where reading on
 * would take what the server sends for 20 s.  curl: exit 56 ("Too large
 * response headers"). */
Test(get_hostile, endless_head_is_refused_in_bounded_memory)
{
	server        s;
	const step    small[]   = { { .bytes = OK_CLOSE, .close = true } };
	const step    endless[] = { { .bytes = "HTTP/1.1 200 OK\r\n",
		   .close = true, .repeat = "X-Again: and again and again\r\n" } };
	struct rusage ru;
	long          base;

	/* This test runs in a process of its own: the children waited for
	 * are the shells, timeout and the tool; ru_maxrss is their largest. */
	server_start(&s, small, 1);
	cr_assert_eq(get(&s, ""), 0);
	server_stop(&s);
	cr_assert_eq(getrusage(RUSAGE_CHILDREN, &ru), 0);
	base = ru.ru_maxrss;

	server_start(&s, endless, 1);
	cr_assert_eq(get(&s, ""), 56);
	server_stop(&s);
	cr_assert_eq(getrusage(RUSAGE_CHILDREN, &ru), 0);
	cr_assert_lt(ru.ru_maxrss, base + 16 * 1024,
	    "the tool grew to %ld KiB from %ld", ru.ru_maxrss, base);
}

/* --connect-timeout bounds connecting only, as in curl: an answer that
 * takes longer than it still comes. */
Test(get_hostile, connect_timeout_is_for_connecting_only)
{
	server     s;
	const step st[] = { { .bytes = OK_CLOSE, .close = true, .trickle_ms = 10 } };

	server_start(&s, st, 1);
	cr_assert_eq(get(&s, "--connect-timeout 0.2"), 0);
	server_stop(&s);
	cr_assert_str_eq(out, "ok");
}

/* -m bounds a body that trickles: exit 28 at about the limit.  curl: 28. */
Test(get_hostile, max_time_bounds_a_trickling_body)
{
	server       s;
	const step   st[] = { { .bytes = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
		                  "0123456789012345678901234567890123456789",
		.close = true, .trickle_ms = 100 } };
	nghttpw_time t0;

	server_start(&s, st, 1);
	t0 = nghttpw_clock();
	cr_assert_eq(get(&s, "-m 1.5"), 28);
	nghttpw_duration took = (nghttpw_duration) (nghttpw_clock() - t0);
	server_stop(&s);
	cr_assert_geq(took, 1400);
	cr_assert_lt(took, 4000, "took %d ms", (int) took);
}
