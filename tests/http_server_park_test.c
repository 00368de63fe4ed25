/* Parked keep-alive connections: a connection idle past the read linger
 * keeps only its socket (s->parked), and is served again when a request
 * comes, closed at the idle timeout, when the peer leaves, or when the
 * server stops -- also when those come just as it parks or unparks.
 * Clients are plain blocking sockets. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/loop.h"
#include "http/http_conn.h"
#include "http/http_server_conn.h"
#include "nghttpw/http.h"
#include "support/raw_tcp.h"

#define T_TIMEOUT 60

static const char get_root[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

static void
root_cb(nghttpw_aio *aio)
{
	nghttpw_http_res *res;
	int               rv;

	if ((rv = nghttpw_http_res_alloc(&res)) == 0 &&
	    (rv = nghttpw_http_res_copy_data(res, "root", 4)) != 0) {
		nghttpw_http_res_free(res);
	}
	nghttpw_aio_set_output(aio, 0, rv == 0 ? res : NULL);
	nghttpw_aio_finish(aio, rv);
}

static nghttpw_http_server *
server_new(int *portp, nghttpw_duration idle_ms)
{
	nghttpw_url          *url;
	nghttpw_http_server  *s;
	nghttpw_http_handler *h;
	nghttpw_sockaddr      sa;
	int                   rv = 0;

	if (loop_pick(&rv) == NULL && rv == NGHTTPW_ENOTSUP) {
		cr_skip_test("the kernel refuses io_uring here");
	}
	cr_assert_eq(nghttpw_url_parse(&url, "http://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&s, url), 0);
	nghttpw_url_free(url);
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/", root_cb), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(s, h), 0);
	cr_assert_eq(nghttpw_http_server_set_idle_timeout(s, idle_ms), 0);
	cr_assert_eq(nghttpw_http_server_start(s), 0);
	cr_assert_eq(nghttpw_http_server_get_addr(s, &sa), 0);
	*portp = ntohs(sa.s_in.sa_port);
	return (s);
}

static size_t
parked_count(nghttpw_http_server *s)
{
	size_t n = 0;

	pthread_mutex_lock(&s->mtx);
	for (list_node *p = s->parked.next; p != &s->parked; p = p->next) {
		n++;
	}
	pthread_mutex_unlock(&s->mtx);
	return (n);
}

/* Waits up to ms for the server to have want parked connections. */
static bool
parked_becomes(nghttpw_http_server *s, size_t want, nghttpw_duration ms)
{
	nghttpw_time deadline = nghttpw_clock() + (nghttpw_time) ms;

	while (parked_count(s) != want) {
		if (nghttpw_clock() > deadline) {
			return (false);
		}
		nghttpw_msleep(5);
	}
	return (true);
}

/* Reads one answer with a Content-Length body: its status, or -1 when the
 * connection ends first, -2 when 10 s pass first.  No assertions: threads
 * use it. */
static int
read_answer(int fd, char *body, size_t body_cap)
{
	char buf[2048];

	/* Peeks until a whole answer is there, then takes just that one:
	 * a pipelined second answer may have come with it. */
	for (size_t have = 0;;) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_PEEK);
		char   *end, *cl;
		if (n <= 0) {
			return (n == 0 || errno == ECONNRESET ? -1 : -2);
		}
		buf[n] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL &&
		    (cl = strstr(buf, "Content-Length: ")) != NULL) {
			size_t head = (size_t) (end - buf) + 4;
			size_t want = strtoul(cl + 16, NULL, 10);
			if ((size_t) n >= head + want) {
				if (recv(fd, buf, head + want, 0) !=
				    (ssize_t) (head + want)) {
					return (-2);
				}
				if (body != NULL && want < body_cap) {
					memcpy(body, buf + head, want);
					body[want] = '\0';
				}
				return (atoi(buf + 9));
			}
		}
		if ((size_t) n == sizeof(buf) - 1) {
			return (-2);
		}
		if ((size_t) n == have) {
			usleep(1000); /* a peek does not wait for more */
		}
		have = (size_t) n;
	}
}

static void
exchange(int fd)
{
	char body[16];

	raw_tcp_send(fd, get_root);
	cr_assert_eq(read_answer(fd, body, sizeof(body)), 200);
	cr_assert_str_eq(body, "root");
}

/* True once the server closed fd (within ms). */
static bool
closed_by_server(int fd, nghttpw_duration ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	char           c;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return (recv(fd, &c, 1, 0) == 0);
}

static int
local_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t          len = sizeof(sa);

	cr_assert_eq(getsockname(fd, (void *) &sa, &len), 0);
	return (ntohs(sa.sin_port));
}

/* ------------------------------------------------------------ life */

typedef struct {
	pthread_mutex_t mtx;
	int             calls;
	int             ports[8];
} log_rec;

static void
log_fn(void *arg, nghttpw_http_req *req, nghttpw_http_res *res,
    const nghttpw_sockaddr *peer, uint64_t body_bytes)
{
	log_rec *lr = arg;

	(void) req;
	(void) res;
	(void) body_bytes;
	pthread_mutex_lock(&lr->mtx);
	if (lr->calls < 8) {
		lr->ports[lr->calls] = ntohs(peer->s_in.sa_port);
	}
	lr->calls++;
	pthread_mutex_unlock(&lr->mtx);
}

/* Parking works on both back-ends: each test is in the suite park, on the
 * back-end the environment picks (NGHTTPW_POLLER; epoll when unset), and
 * in park_uring on io_uring, skipped where the kernel refuses it. */
static void
on_uring(void)
{
	nghttpw_init_set_parameter(
	    NGHTTPW_INIT_POLLER_BACKEND, NGHTTPW_POLLER_IO_URING);
}
TestSuite(park_uring, .init = on_uring);

#define PARK_TEST(name, secs)                                              \
	static void name##_body(void);                                     \
	Test(park, name, .timeout = secs)                                  \
	{                                                                  \
		name##_body();                                             \
	}                                                                  \
	Test(park_uring, name, .timeout = secs)                            \
	{                                                                  \
		name##_body();                                             \
	}                                                                  \
	static void name##_body(void)

PARK_TEST(an_idle_connection_is_parked_and_served_again, T_TIMEOUT)
{
	log_rec              lr = { .mtx = PTHREAD_MUTEX_INITIALIZER };
	nghttpw_http_server *s;
	int                  port, fd;
	char                 body[16];

	s = server_new(&port, 10000);
	cr_assert_eq(nghttpw_http_server_set_log(s, log_fn, &lr), 0);
	fd = raw_tcp_client(port);
	for (int round = 0; round < 3; round++) {
		exchange(fd);
		cr_assert(parked_becomes(s, 1, 2000), "not parked");
		cr_assert_eq(parked_count(s), 1);
	}
	/* Two pipelined requests, the second in pieces, wake it. */
	raw_tcp_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HT");
	nghttpw_msleep(20);
	raw_tcp_send(fd, "TP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(read_answer(fd, body, sizeof(body)), 200);
	cr_assert_eq(read_answer(fd, body, sizeof(body)), 200);
	cr_assert_str_eq(body, "root");
	cr_assert(parked_becomes(s, 1, 2000));
	/* The peer's address survives each park (the access log). */
	nghttpw_http_server_stop(s);
	cr_assert_eq(lr.calls, 5);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(lr.ports[i], local_port(fd), "answer %d", i);
	}
	close(fd);
	nghttpw_http_server_release(s);
}

PARK_TEST(the_idle_timeout_closes_a_parked_connection, T_TIMEOUT)
{
	nghttpw_http_server *s;
	int                  port, fd;
	nghttpw_time         start;

	s  = server_new(&port, 400);
	fd = raw_tcp_client(port);
	exchange(fd);
	start = nghttpw_clock();
	cr_assert(parked_becomes(s, 1, 300));
	cr_assert(closed_by_server(fd, 5000), "not closed");
	/* The whole idle time, the linger included, not more. */
	cr_assert_geq(nghttpw_clock() - start, 350);
	cr_assert_lt(nghttpw_clock() - start, 3000);
	cr_assert(parked_becomes(s, 0, 1000));
	close(fd);
	nghttpw_http_server_release(s);
}

PARK_TEST(a_peer_that_leaves_while_parked_is_let_go, T_TIMEOUT)
{
	nghttpw_http_server *s;
	int                  port, fd;

	s = server_new(&port, 10000);
	for (int i = 0; i < 10; i++) {
		fd = raw_tcp_client(port);
		exchange(fd);
		cr_assert(parked_becomes(s, 1, 2000));
		if (i % 2 == 0) {
			close(fd);
		} else {
			struct linger lg = { 1, 0 }; /* a reset */
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(fd);
		}
		cr_assert(parked_becomes(s, 0, 2000), "kept after the close");
	}
	fd = raw_tcp_client(port);
	exchange(fd);
	close(fd);
	nghttpw_http_server_release(s);
}

PARK_TEST(stop_closes_parked_connections_and_a_restart_serves, T_TIMEOUT)
{
	enum { N = 40 };
	nghttpw_http_server *s;
	int                  port, fd[N];
	nghttpw_time         start;

	s = server_new(&port, NGHTTPW_DURATION_INFINITE);
	for (int i = 0; i < N; i++) {
		fd[i] = raw_tcp_client(port);
		exchange(fd[i]);
	}
	cr_assert(parked_becomes(s, N, 3000));
	start = nghttpw_clock();
	nghttpw_http_server_stop(s);
	/* Parked connections have nothing in flight to wait for. */
	cr_assert_lt(nghttpw_clock() - start, 2000);
	cr_assert_eq(parked_count(s), 0);
	for (int i = 0; i < N; i++) {
		cr_assert(closed_by_server(fd[i], 2000), "conn %d open", i);
		close(fd[i]);
	}
	cr_assert_eq(nghttpw_http_server_start(s), 0);
	{
		nghttpw_sockaddr sa;
		cr_assert_eq(nghttpw_http_server_get_addr(s, &sa), 0);
		port = ntohs(sa.s_in.sa_port);
	}
	fd[0] = raw_tcp_client(port);
	exchange(fd[0]);
	close(fd[0]);
	nghttpw_http_server_release(s);
}

/* A connection a handler hijacked is its own: never parked, its reads
 * wait as long as its owner says. */
static nghttpw_aio       *held_aio;
static nghttpw_http_conn *held_conn;
static atomic_int         held_entered;

static void
hold_cb(nghttpw_aio *aio)
{
	held_aio  = aio;
	held_conn = nghttpw_aio_get_input(aio, 2);
	atomic_store(&held_entered, 1);
}

PARK_TEST(a_hijacked_connection_is_not_parked, T_TIMEOUT)
{
	nghttpw_http_server  *s;
	nghttpw_http_handler *h;
	nghttpw_http_req     *req, *first;
	nghttpw_aio          *aio;
	int                   port, fd;

	s = server_new(&port, 10000);
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/hold", hold_cb), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(s, h), 0);
	fd = raw_tcp_client(port);
	raw_tcp_send(fd, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
	while (!atomic_load(&held_entered)) {
		nghttpw_msleep(5);
	}
	cr_assert_eq(nghttpw_http_hijack(held_conn), 0);
	first = nghttpw_aio_get_input(held_aio, 0);
	nghttpw_aio_finish(held_aio, 0);

	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_http_conn_read_req(held_conn, req, aio);
	nghttpw_msleep(4 * HTTP_CONN_READ_LINGER_MS);
	cr_assert_eq(parked_count(s), 0);
	raw_tcp_send(fd, "GET /second HTTP/1.1\r\nHost: x\r\n\r\n");
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0, "%s",
	    nghttpw_strerror(nghttpw_aio_result(aio)));
	cr_assert_str_eq(nghttpw_http_req_get_uri(req), "/second");
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_req_free(first);
	nghttpw_http_conn_close(held_conn);
	close(fd);
	nghttpw_http_server_release(s);
}

/* ------------------------------------------------------------ races */

typedef struct {
	int        port;
	unsigned   seed;
	int        rounds;
	atomic_int failed; /* round + 1 of the first failure */
} racer;

/* Requests sent around the moment the connection parks: just before the
 * linger ends, as it ends, and after. */
static void *
race_park(void *arg)
{
	racer *r  = arg;
	int    fd = raw_tcp_client(r->port);

	for (int i = 0; i < r->rounds; i++) {
		unsigned us = HTTP_CONN_READ_LINGER_MS * 1000 - 3000 +
		    (unsigned) rand_r(&r->seed) % 6000;
		char     body[16];
		raw_tcp_send(fd, get_root);
		if (read_answer(fd, body, sizeof(body)) != 200 ||
		    strcmp(body, "root") != 0) {
			atomic_store(&r->failed, i + 1);
			break;
		}
		usleep(us);
	}
	close(fd);
	return (NULL);
}

PARK_TEST(requests_that_come_as_the_connection_parks, 120)
{
	enum { T = 4 };
	nghttpw_http_server *s;
	int                  port;
	racer                r[T];
	pthread_t            t[T];

	s = server_new(&port, 10000);
	for (int i = 0; i < T; i++) {
		r[i].port   = port;
		r[i].seed   = (unsigned) i * 7919u + 1u;
		r[i].rounds = 150;
		atomic_init(&r[i].failed, 0);
		pthread_create(&t[i], NULL, race_park, &r[i]);
	}
	for (int i = 0; i < T; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(atomic_load(&r[i].failed), 0,
		    "client %d failed in round %d", i, atomic_load(&r[i].failed));
	}
	nghttpw_http_server_release(s);
}

/* A stop just as parked connections wake with requests: the stop ends,
 * and each client gets its answer or a close, never silence. */
typedef struct {
	int        fd;
	atomic_int result; /* 0 open, 1 answered or closed, -1 hung */
} waker;

static void *
wake_and_read(void *arg)
{
	waker *w = arg;
	int    st;

	(void) !send(w->fd, get_root, sizeof(get_root) - 1, MSG_NOSIGNAL);
	st = read_answer(w->fd, NULL, 0);
	if (st == 200) {
		/* Answered: the close follows (stopping). */
		char c;
		st = recv(w->fd, &c, 1, 0) == 0 ? -1 : -2;
	}
	atomic_store(&w->result, st == -1 ? 1 : -1);
	return (NULL);
}

PARK_TEST(stop_racing_wake_ups, 120)
{
	enum { N = 8 };

	for (int round = 0; round < 25; round++) {
		nghttpw_http_server *s;
		int                  port;
		waker                w[N];
		pthread_t            t[N];

		s = server_new(&port, 10000);
		for (int i = 0; i < N; i++) {
			w[i].fd = raw_tcp_client(port);
			exchange(w[i].fd);
			atomic_init(&w[i].result, 0);
		}
		cr_assert(parked_becomes(s, N, 3000));
		for (int i = 0; i < N; i++) {
			pthread_create(&t[i], NULL, wake_and_read, &w[i]);
		}
		if (round % 2 == 1) {
			nghttpw_msleep(round % 5);
		}
		nghttpw_http_server_stop(s);
		cr_assert_eq(parked_count(s), 0);
		for (int i = 0; i < N; i++) {
			pthread_join(t[i], NULL);
			cr_assert_eq(atomic_load(&w[i].result), 1,
			    "round %d client %d", round, i);
			close(w[i].fd);
		}
		nghttpw_http_server_release(s);
	}
}

/* Many connections parking and waking at once while others come and go:
 * a close or a reset while parked or lingering, a request and a close at
 * once.  Every few rounds all clients wait until parked, then send
 * together, so that many records wake at the same moment on every loop.
 * Each request is answered; once every client is gone nothing is left
 * parked or open. */
enum { CHURN_T = 8, CHURN_ROUNDS = 60 };

typedef struct {
	int                port;
	unsigned           seed;
	pthread_barrier_t *together;
	atomic_int        *finished;
	atomic_int         failed; /* round + 1 of the first failure */
} churner;

static int
churn_reconnect(int fd, int port, bool reset)
{
	if (reset) {
		struct linger lg = { 1, 0 };
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(fd);
	return (raw_tcp_client(port));
}

static void *
churn(void *arg)
{
	churner *c  = arg;
	int      fd = raw_tcp_client(c->port);

	for (int i = 0; i < CHURN_ROUNDS; i++) {
		unsigned r = (unsigned) rand_r(&c->seed);
		char     body[16];

		if (i % 10 == 9) {
			/* All parked, then all awake at once. */
			usleep(3 * HTTP_CONN_READ_LINGER_MS * 1000);
			pthread_barrier_wait(c->together);
		}
		if (send(fd, get_root, sizeof(get_root) - 1, MSG_NOSIGNAL) < 0 ||
		    read_answer(fd, body, sizeof(body)) != 200 ||
		    strcmp(body, "root") != 0) {
			int none = 0;
			atomic_compare_exchange_strong(&c->failed, &none, i + 1);
			fd = churn_reconnect(fd, c->port, false);
			continue;
		}
		switch (r % 8) {
		case 0:
		case 1:
			/* Gone while it lingers or once parked. */
			usleep((r >> 3) % (3 * HTTP_CONN_READ_LINGER_MS * 1000));
			fd = churn_reconnect(fd, c->port, r % 8 == 1);
			break;
		case 2:
			/* A request nobody waits for the answer to. */
			(void) !send(fd, get_root, sizeof(get_root) - 1, MSG_NOSIGNAL);
			fd = churn_reconnect(fd, c->port, false);
			break;
		default:
			/* Around the linger: parks about two times in three. */
			usleep((r >> 3) % (3 * HTTP_CONN_READ_LINGER_MS * 1000));
			break;
		}
	}
	close(fd);
	atomic_fetch_add(c->finished, 1);
	return (NULL);
}

static size_t
conn_count(nghttpw_http_server *s)
{
	size_t n = 0;

	pthread_mutex_lock(&s->mtx);
	for (list_node *p = s->conns.next; p != &s->conns; p = p->next) {
		n++;
	}
	pthread_mutex_unlock(&s->mtx);
	return (n);
}

PARK_TEST(many_connections_park_and_wake_while_others_close, 120)
{
	nghttpw_http_server *s;
	pthread_barrier_t    together;
	churner              c[CHURN_T];
	pthread_t            t[CHURN_T];
	atomic_int           finished = 0;
	size_t               most_parked = 0;
	nghttpw_time         deadline;
	int                  port;

	s = server_new(&port, 10000);
	pthread_barrier_init(&together, NULL, CHURN_T);
	for (int i = 0; i < CHURN_T; i++) {
		c[i].port     = port;
		c[i].seed     = (unsigned) i * 104729u + 3u;
		c[i].together = &together;
		c[i].finished = &finished;
		atomic_init(&c[i].failed, 0);
		pthread_create(&t[i], NULL, churn, &c[i]);
	}
	/* Watch how many are parked at once while they run. */
	while (atomic_load(&finished) < CHURN_T) {
		size_t n = parked_count(s);
		if (n > most_parked) {
			most_parked = n;
		}
		nghttpw_msleep(2);
	}
	for (int i = 0; i < CHURN_T; i++) {
		pthread_join(t[i], NULL);
	}
	pthread_barrier_destroy(&together);
	for (int i = 0; i < CHURN_T; i++) {
		cr_assert_eq(atomic_load(&c[i].failed), 0,
		    "client %d failed in round %d", i, atomic_load(&c[i].failed));
	}
	cr_assert_geq(most_parked, CHURN_T / 2, "at most %zu parked at once",
	    most_parked);
	/* Every client closed: each parked record woke to the end, and each
	 * connection closed. */
	cr_assert(parked_becomes(s, 0, 3000), "%zu left parked", parked_count(s));
	deadline = nghttpw_clock() + 3000;
	while (conn_count(s) != 0 && nghttpw_clock() < deadline) {
		nghttpw_msleep(5);
	}
	cr_assert_eq(conn_count(s), 0, "connections left open");
	nghttpw_http_server_release(s);
}
