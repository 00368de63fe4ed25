/* WebSocket against nng 1.5's own ws:// streams (Debian's libnng-dev,
 * which tools/install-deps.sh installs), in one program: nng's symbols
 * and ours have distinct prefixes.  nng dials our listener and we dial
 * nng's; nng's side uses its stream API (nng_stream_send and
 * nng_stream_recv, looping over partial transfers as an nng program
 * must), ours both the message functions and the nng-style stream calls
 * (an nng program that works after renaming).
 *
 * nng 1.5's ways, as checked here (see nghttpw_ws(7), "Differences from
 * nng"):
 *  - nng_stream_send sends at most one frame, as a whole message of its
 *    own, and reports a partial count when the buffer is longer.  The
 *    frame limit is NNG_OPT_WS_SENDMAXFRAME (64 KiB) on streams of a
 *    listener; streams of a dialer do not take the dialer's value and
 *    send frames of up to 1 MiB.
 *  - nng_stream_recv is a byte stream: it completes with what has come.
 *  - A text message to a stream without NNG_OPT_WS_RECV_TEXT: nng fails
 *    its pending receive with NNG_ECLOSED (nghttpw's stream read fails
 *    with NGHTTPW_EPROTO) and closes with 1003.
 *  - nng_stream_close sends a close with 1000.  A close from the peer
 *    ends nng's pending receives with NNG_ECLOSED, but nng 1.5 never
 *    answers it, so our closing handshake ends after its 2 seconds with
 *    NGHTTPW_ECLOSED and close code 1006.
 *  - A dialer that offers a subprotocol refuses an answer without one. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <nng/nng.h>

#include "nghttpw/nghttpw.h"
#include "nghttpw/ws.h"
#include "support/pairs.h"
#include "support/ws_util.h"

#define T_TIMEOUT 60
#define MIB (1u << 20)
#define OP_MS 20000 /* one send or receive, either side */
#define BUF_CAP (3 * MIB) /* out and in */

/* The lengths of the exchanges: around the 7-, 16- and 64-bit length
 * forms, nng's 64 KiB listener frames, and just under nng's 1 MiB
 * default receive frame limit. */
static const size_t lens[] = { 1, 125, 126, 65535, 65536, MIB - 1 };
#define NLENS (sizeof(lens) / sizeof(lens[0]))

/* nng's frame limits on its streams (see above). */
#define NNG_DIALER_FRAME (1u << 20)
#define NNG_LISTENER_FRAME (1u << 16)

/* Both ends of the connection under test, and what made them. */
static nghttpw_stream_listener *our_l;
static nghttpw_stream_dialer   *our_d;
static nghttpw_stream          *os; /* ours */
static nng_stream_listener     *nng_l;
static nng_stream_dialer       *nng_d;
static nng_stream              *ns; /* nng's */
static uint8_t                 *out, *in;

static void
ends_init(void)
{
	out = malloc(BUF_CAP);
	in  = malloc(BUF_CAP);
	cr_assert(out != NULL && in != NULL);
}

static void
ends_fini(void)
{
	nghttpw_stream_free(os);
	nng_stream_free(ns);
	nghttpw_stream_listener_free(our_l);
	nghttpw_stream_dialer_free(our_d);
	nng_stream_listener_free(nng_l);
	nng_stream_dialer_free(nng_d);
	os    = NULL;
	ns    = NULL;
	our_l = NULL;
	our_d = NULL;
	nng_l = NULL;
	nng_d = NULL;
	free(out);
	free(in);
	out = in = NULL;
}

TestSuite(ws_nng, .init = ends_init, .fini = ends_fini, .timeout = T_TIMEOUT);

/* ------------------------------------------------------- nng's side */

/* nng options for its dialer or listener. */
typedef struct {
	bool   send_text;
	bool   recv_text;
	size_t txframe; /* NNG_OPT_WS_SENDMAXFRAME; 0: nng's default */
} nng_opts;

/* One nng_stream_send or nng_stream_recv, waited for. */
static int
nng_op(nng_stream *s, bool send, void *buf, size_t len, size_t *count)
{
	nng_aio *aio;
	nng_iov  iov = { buf, len };
	int      rv;

	if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0) {
		return (rv);
	}
	nng_aio_set_timeout(aio, OP_MS);
	nng_aio_set_iov(aio, 1, &iov);
	if (send) {
		nng_stream_send(s, aio);
	} else {
		nng_stream_recv(s, aio);
	}
	nng_aio_wait(aio);
	rv     = nng_aio_result(aio);
	*count = nng_aio_count(aio);
	nng_aio_free(aio);
	return (rv);
}

/* A transfer of len bytes by nng in a thread of its own, looping over
 * partial sends and receives as an nng program must; ops counts the
 * calls that moved bytes (for sends: the messages nng made). */
typedef struct {
	nng_stream *s;
	bool        send;
	uint8_t    *buf;
	size_t      len;
	size_t      done;
	int         ops;
	int         rv;
	pthread_t   thr;
} nng_job;

static void *
nng_job_run(void *arg)
{
	nng_job *j = arg;

	while (j->done < j->len) {
		size_t n = 0;
		if ((j->rv = nng_op(j->s, j->send, j->buf + j->done,
		         j->len - j->done, &n)) != 0) {
			break;
		}
		if (n == 0) {
			j->rv = -1; /* no progress: would loop for ever */
			break;
		}
		j->done += n;
		j->ops++;
	}
	return (NULL);
}

static void
nng_job_start(nng_job *j, nng_stream *s, bool send, void *buf, size_t len)
{
	memset(j, 0, sizeof(*j));
	j->s    = s;
	j->send = send;
	j->buf  = buf;
	j->len  = len;
	cr_assert_eq(pthread_create(&j->thr, NULL, nng_job_run, j), 0);
}

static int
nng_job_wait(nng_job *j)
{
	cr_assert_eq(pthread_join(j->thr, NULL), 0);
	return (j->rv);
}

static void
nng_dialer_opts(nng_stream_dialer *d, const nng_opts *o)
{
	cr_assert_eq(nng_stream_dialer_set_bool(d, NNG_OPT_WS_SEND_TEXT, o->send_text), 0);
	cr_assert_eq(nng_stream_dialer_set_bool(d, NNG_OPT_WS_RECV_TEXT, o->recv_text), 0);
	if (o->txframe != 0) {
		cr_assert_eq(nng_stream_dialer_set_size(d, NNG_OPT_WS_SENDMAXFRAME, o->txframe), 0);
	}
}

static void
nng_listener_opts(nng_stream_listener *l, const nng_opts *o)
{
	cr_assert_eq(nng_stream_listener_set_bool(l, NNG_OPT_WS_SEND_TEXT, o->send_text), 0);
	cr_assert_eq(nng_stream_listener_set_bool(l, NNG_OPT_WS_RECV_TEXT, o->recv_text), 0);
	if (o->txframe != 0) {
		cr_assert_eq(nng_stream_listener_set_size(l, NNG_OPT_WS_SENDMAXFRAME, o->txframe), 0);
	}
}

/* ------------------------------------------------------ connections */

/* nng dials our listener: sets os and ns. */
static void
nng_dials_us(const nng_opts *o)
{
	nghttpw_aio *acc;
	nng_aio     *dial;
	char         url[64];
	int          port, rv;

	cr_assert_eq(ws_listen("/nng", &our_l, &port), 0);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/nng", port);
	cr_assert_eq(nng_stream_dialer_alloc(&nng_d, url), 0);
	nng_dialer_opts(nng_d, o);

	cr_assert_eq(nghttpw_aio_alloc(&acc, NULL, NULL), 0);
	cr_assert_eq(nng_aio_alloc(&dial, NULL, NULL), 0);
	nghttpw_aio_set_timeout(acc, 10000);
	nng_aio_set_timeout(dial, 10000);
	nghttpw_stream_listener_accept(our_l, acc);
	nng_stream_dialer_dial(nng_d, dial);
	nng_aio_wait(dial);
	rv = nng_aio_result(dial);
	cr_assert_eq(rv, 0, "nng's dial: %s", nng_strerror(rv));
	ns = nng_aio_get_output(dial, 0);
	nghttpw_aio_wait(acc);
	rv = nghttpw_aio_result(acc);
	cr_assert_eq(rv, 0, "our accept: %s", nghttpw_strerror(rv));
	os = nghttpw_aio_get_output(acc, 0);
	nghttpw_aio_free(acc);
	nng_aio_free(dial);
}

/* We dial nng's listener: sets os and ns. */
static void
we_dial_nng(const nng_opts *o)
{
	nghttpw_aio *dial;
	nng_aio     *acc;
	char         url[64];
	int          port = 0, rv;

	cr_assert_eq(nng_stream_listener_alloc(&nng_l, "ws://127.0.0.1:0/nng"), 0);
	nng_listener_opts(nng_l, o);
	rv = nng_stream_listener_listen(nng_l);
	cr_assert_eq(rv, 0, "nng's listen: %s", nng_strerror(rv));
	cr_assert_eq(nng_stream_listener_get_int(nng_l, NNG_OPT_TCP_BOUND_PORT, &port), 0);
	cr_assert_gt(port, 0);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/nng", port);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&our_d, url), 0);

	cr_assert_eq(nghttpw_aio_alloc(&dial, NULL, NULL), 0);
	cr_assert_eq(nng_aio_alloc(&acc, NULL, NULL), 0);
	nghttpw_aio_set_timeout(dial, 10000);
	nng_aio_set_timeout(acc, 10000);
	nng_stream_listener_accept(nng_l, acc);
	nghttpw_stream_dialer_dial(our_d, dial);
	nghttpw_aio_wait(dial);
	rv = nghttpw_aio_result(dial);
	cr_assert_eq(rv, 0, "our dial: %s", nghttpw_strerror(rv));
	os = nghttpw_aio_get_output(dial, 0);
	nng_aio_wait(acc);
	rv = nng_aio_result(acc);
	cr_assert_eq(rv, 0, "nng's accept: %s", nng_strerror(rv));
	ns = nng_aio_get_output(acc, 0);
	nghttpw_aio_free(dial);
	nng_aio_free(acc);
}

static void
connect_ends(bool nng_dials, const nng_opts *o)
{
	if (nng_dials) {
		nng_dials_us(o);
	} else {
		we_dial_nng(o);
	}
}

/* -------------------------------------------------------- exchanges */

/* A receive of ours, started now, waited for later. */
typedef struct {
	nghttpw_aio *aio;
	nghttpw_iov  iov;
	unsigned     flags;
} our_op;

static void
our_recv_msg_start(our_op *op, void *buf, size_t cap)
{
	cr_assert_eq(nghttpw_aio_alloc(&op->aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(op->aio, OP_MS);
	op->iov.iov_buf = buf;
	op->iov.iov_len = cap;
	op->flags       = 99;
	nghttpw_aio_set_iov(op->aio, 1, &op->iov);
	nghttpw_ws_recv_msg(os, &op->flags, op->aio);
}

static void
our_send_msg_start(our_op *op, unsigned flags, void *buf, size_t len)
{
	cr_assert_eq(nghttpw_aio_alloc(&op->aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(op->aio, OP_MS);
	op->iov.iov_buf = buf;
	op->iov.iov_len = len;
	nghttpw_aio_set_iov(op->aio, 1, &op->iov);
	nghttpw_ws_send_msg(os, flags, op->aio);
}

/* Waits; returns the result, the count in *countp (if not NULL). */
static int
our_op_wait(our_op *op, size_t *countp)
{
	int rv;

	nghttpw_aio_wait(op->aio);
	rv = nghttpw_aio_result(op->aio);
	if (countp != NULL) {
		*countp = nghttpw_aio_count(op->aio);
	}
	nghttpw_aio_free(op->aio);
	op->aio = NULL;
	return (rv);
}

static size_t
min_size(size_t a, size_t b)
{
	return (a < b ? a : b);
}

/* nng sends len bytes with nng_stream_send (frames of at most frame
 * bytes, each a message of its own); we read them message by message with
 * nghttpw_ws_recv_msg and check every message and byte. */
static void
nng_sends_we_read_messages(size_t len, size_t frame)
{
	nng_job j;
	size_t  got = 0;
	int     msgs = 0;

	fill_pattern(out, len, (unsigned) len);
	memset(in, 0, len);
	nng_job_start(&j, ns, true, out, len);
	while (got < len) {
		our_op r;
		size_t n;
		int    rv;

		our_recv_msg_start(&r, in + got, BUF_CAP - got);
		rv = our_op_wait(&r, &n);
		cr_assert_eq(rv, 0, "len %zu: our recv_msg %d: %s", len, msgs,
		    nghttpw_strerror(rv));
		cr_assert_eq(r.flags, NGHTTPW_WS_BINARY, "len %zu", len);
		/* Each nng_stream_send is one frame, one message. */
		cr_assert_eq(n, min_size(len - got, frame),
		    "len %zu: message %d has %zu bytes", len, msgs, n);
		got += n;
		msgs++;
	}
	cr_assert_eq(nng_job_wait(&j), 0, "len %zu: nng's send: %s", len,
	    nng_strerror(j.rv));
	cr_assert_eq(j.done, len);
	cr_assert_eq(j.ops, msgs, "len %zu: %d nng sends, %d messages", len,
	    j.ops, msgs);
	cr_assert_eq(msgs, (int) ((len + frame - 1) / frame), "len %zu", len);
	cr_assert(memcmp(in, out, len) == 0, "len %zu: bytes differ", len);
}

/* We send len bytes as one binary message (nghttpw_ws_send_msg); nng
 * reads them with nng_stream_recv until all have come. */
static void
we_send_message_nng_reads(size_t len)
{
	nng_job j;
	our_op  s;
	size_t  n;
	int     rv;

	fill_pattern(out, len, (unsigned) len + 1);
	memset(in, 0, len);
	nng_job_start(&j, ns, false, in, len);
	our_send_msg_start(&s, NGHTTPW_WS_BINARY, out, len);
	rv = our_op_wait(&s, &n);
	cr_assert_eq(rv, 0, "len %zu: our send_msg: %s", len, nghttpw_strerror(rv));
	cr_assert_eq(n, len);
	cr_assert_eq(nng_job_wait(&j), 0, "len %zu: nng's recv after %zu bytes: %s",
	    len, j.done, nng_strerror(j.rv));
	cr_assert_eq(j.done, len);
	cr_assert(memcmp(in, out, len) == 0, "len %zu: bytes differ", len);
}

/* The nng-style calls on both ends: nng sends with nng_stream_send (one
 * call per frame of at most frame bytes, as many as it takes), we read
 * with nghttpw_stream_recv until all bytes are in; we send with one
 * nghttpw_stream_send (one message, all of it), nng reads with
 * nng_stream_recv until all bytes are in. */
static void
stream_calls_both_ways(size_t len, size_t frame)
{
	nng_job     j;
	nghttpw_iov iov;
	size_t      n = 0;
	int         rv;

	fill_pattern(out, len, (unsigned) len + 2);
	memset(in, 0, len);
	nng_job_start(&j, ns, true, out, len);
	rv = recv_all(os, in, len, &n);
	cr_assert_eq(rv, 0, "len %zu: our stream recv after %zu bytes: %s", len,
	    n, nghttpw_strerror(rv));
	cr_assert_eq(nng_job_wait(&j), 0, "len %zu: nng's send: %s", len,
	    nng_strerror(j.rv));
	cr_assert_eq(j.ops, (int) ((len + frame - 1) / frame), "len %zu: %d nng sends",
	    len, j.ops);
	cr_assert(memcmp(in, out, len) == 0, "len %zu: bytes differ", len);

	fill_pattern(out, len, (unsigned) len + 3);
	memset(in, 0, len);
	nng_job_start(&j, ns, false, in, len);
	iov.iov_buf = out;
	iov.iov_len = len;
	rv          = sync_op(nghttpw_stream_send, os, &iov, 1, OP_MS, &n);
	cr_assert_eq(rv, 0, "len %zu: our stream send: %s", len, nghttpw_strerror(rv));
	cr_assert_eq(n, len, "len %zu: one nghttpw_stream_send sends it all", len);
	cr_assert_eq(nng_job_wait(&j), 0, "len %zu: nng's recv after %zu bytes: %s",
	    len, j.done, nng_strerror(j.rv));
	cr_assert(memcmp(in, out, len) == 0, "len %zu: bytes differ", len);
}

/* ----------------------------------------- 1. nng dials our listener */

Test(ws_nng, nng_dials_us_messages_both_ways)
{
	nng_opts o = { 0 };

	nng_dials_us(&o);
	for (size_t i = 0; i < NLENS; i++) {
		nng_sends_we_read_messages(lens[i], NNG_DIALER_FRAME);
		we_send_message_nng_reads(lens[i]);
	}
}

Test(ws_nng, nng_dials_us_stream_calls_both_ways)
{
	nng_opts o = { 0 };

	nng_dials_us(&o);
	for (size_t i = 0; i < NLENS; i++) {
		stream_calls_both_ways(lens[i], NNG_DIALER_FRAME);
	}
}

/* nng's dialer takes NNG_OPT_WS_SENDMAXFRAME, but its streams keep
 * sending frames of up to 1 MiB: a 1 MiB-1 send is still one message,
 * and (with our limits raised) 2 MiB+1 bytes go in three sends. */
Test(ws_nng, nng_dialer_sendmaxframe_does_not_reach_its_streams)
{
	nng_opts o = { .txframe = 4096 };
	size_t   v = 0;

	nng_dials_us(&o);
	cr_assert_eq(nng_stream_dialer_get_size(nng_d, NNG_OPT_WS_SENDMAXFRAME, &v), 0);
	cr_assert_eq(v, 4096);
	nng_sends_we_read_messages(MIB - 1, NNG_DIALER_FRAME);
	cr_assert_eq(nghttpw_stream_set_size(os, NGHTTPW_OPT_RECVMAXSZ, BUF_CAP), 0);
	cr_assert_eq(nghttpw_stream_set_size(os, NGHTTPW_OPT_WS_RECVMAXFRAME, BUF_CAP), 0);
	nng_sends_we_read_messages(2 * MIB + 1, NNG_DIALER_FRAME);
}

/* nng's dialer offering a subprotocol to our listener, which has none:
 * we answer 101 without one, and nng fails the dial with NNG_EPROTO
 * (nghttpw_ws(7), "Differences from nng"). */
Test(ws_nng, nng_dialer_offering_a_subprotocol_refuses_our_answer_without)
{
	nghttpw_aio *acc;
	nng_aio     *dial;
	char         url[64];
	int          port, rv;

	cr_assert_eq(ws_listen("/nng", &our_l, &port), 0);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/nng", port);
	cr_assert_eq(nng_stream_dialer_alloc(&nng_d, url), 0);
	cr_assert_eq(nng_stream_dialer_set_string(nng_d, NNG_OPT_WS_PROTOCOL, "chat"), 0);
	cr_assert_eq(nghttpw_aio_alloc(&acc, NULL, NULL), 0);
	cr_assert_eq(nng_aio_alloc(&dial, NULL, NULL), 0);
	nghttpw_aio_set_timeout(acc, 10000);
	nng_aio_set_timeout(dial, 10000);
	nghttpw_stream_listener_accept(our_l, acc);
	nng_stream_dialer_dial(nng_d, dial);
	nng_aio_wait(dial);
	rv = nng_aio_result(dial);
	cr_assert_eq(rv, NNG_EPROTO, "nng's dial: %s", nng_strerror(rv));
	/* Our side made its stream (the 101 went out), which then ends. */
	nghttpw_aio_wait(acc);
	rv = nghttpw_aio_result(acc);
	cr_assert_eq(rv, 0, "our accept: %s", nghttpw_strerror(rv));
	os = nghttpw_aio_get_output(acc, 0);
	{
		size_t   n;
		unsigned fl;
		rv = ws_recv(os, in, 64, &n, &fl, 5000);
		cr_assert_eq(rv, NGHTTPW_ECLOSED, "our read: %s", nghttpw_strerror(rv));
	}
	nghttpw_aio_free(acc);
	nng_aio_free(dial);
}

/* ------------------------------------------ 2. we dial nng's listener */

/* With nng's default 64 KiB frames, a longer nng_stream_send completes
 * partially, and the rest goes in later calls: messages of 64 KiB. */
Test(ws_nng, we_dial_nng_messages_both_ways_in_64k_frames)
{
	nng_opts o = { 0 };
	size_t   v = 0;

	we_dial_nng(&o);
	cr_assert_eq(nng_stream_listener_get_size(nng_l, NNG_OPT_WS_SENDMAXFRAME, &v), 0);
	cr_assert_eq(v, NNG_LISTENER_FRAME);
	for (size_t i = 0; i < NLENS; i++) {
		nng_sends_we_read_messages(lens[i], NNG_LISTENER_FRAME);
		we_send_message_nng_reads(lens[i]);
	}
}

/* With NNG_OPT_WS_SENDMAXFRAME raised on nng's listener, each send is
 * one message, which we read whole. */
Test(ws_nng, we_dial_nng_messages_whole_with_sendmaxframe_raised)
{
	nng_opts o = { .txframe = MIB };

	we_dial_nng(&o);
	for (size_t i = 0; i < NLENS; i++) {
		nng_sends_we_read_messages(lens[i], MIB);
		we_send_message_nng_reads(lens[i]);
	}
}

Test(ws_nng, we_dial_nng_stream_calls_both_ways)
{
	nng_opts o = { 0 };

	we_dial_nng(&o);
	for (size_t i = 0; i < NLENS; i++) {
		stream_calls_both_ways(lens[i], NNG_LISTENER_FRAME);
	}
}

/* ------------------------------------------------------------ 3. close */

/* nng closes its stream: our pending read ends with NGHTTPW_ECLOSED and
 * the close code nng sent, 1000. */
static void
nng_closes(bool nng_dials, bool msg_read)
{
	nng_opts o    = { 0 };
	int      code = 0, rv;
	our_op   r;
	char     buf[16];

	connect_ends(nng_dials, &o);
	/* One exchange first: the connection is in use. */
	nng_sends_we_read_messages(126, MIB);

	if (msg_read) {
		our_recv_msg_start(&r, buf, sizeof(buf));
		nng_stream_close(ns);
		rv = our_op_wait(&r, NULL);
	} else {
		nghttpw_iov iov = { buf, sizeof(buf) };
		size_t      n   = 0;
		nghttpw_aio *aio;

		cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
		nghttpw_aio_set_timeout(aio, OP_MS);
		nghttpw_aio_set_iov(aio, 1, &iov);
		nghttpw_stream_recv(os, aio);
		nng_stream_close(ns);
		nghttpw_aio_wait(aio);
		rv = nghttpw_aio_result(aio);
		n  = nghttpw_aio_count(aio);
		nghttpw_aio_free(aio);
		cr_assert_eq(n, 0);
	}
	cr_assert_eq(rv, NGHTTPW_ECLOSED, "our pending read: %s", nghttpw_strerror(rv));
	cr_assert_eq(nghttpw_stream_get_int(os, NGHTTPW_OPT_WS_CLOSE_CODE, &code), 0);
	cr_assert_eq(code, NGHTTPW_WS_STATUS_NORMAL, "close code %d", code);
	/* Later operations fail too. */
	cr_assert_eq(ws_send(os, NGHTTPW_WS_BINARY, "x", 1), NGHTTPW_ECLOSED);
}

Test(ws_nng, nng_client_closes_our_recv_msg_ends_eclosed_1000)
{
	nng_closes(true, true);
}

Test(ws_nng, nng_client_closes_our_stream_recv_ends_eclosed_1000)
{
	nng_closes(true, false);
}

Test(ws_nng, nng_server_closes_our_recv_msg_ends_eclosed_1000)
{
	nng_closes(false, true);
}

Test(ws_nng, nng_server_closes_our_stream_recv_ends_eclosed_1000)
{
	nng_closes(false, false);
}

/* We close, with nghttpw_ws_close(1000) or nghttpw_stream_close: nng's
 * pending nng_stream_recv ends with NNG_ECLOSED as soon as nng reads our
 * close.  nng 1.5 never answers a close frame (its reader marks the
 * stream closed "no need to send close reply"; RFC 6455 section 5.5.1
 * says it must) and leaves the TCP connection open until its stream is
 * closed or freed, so nghttpw_ws_close completes with NGHTTPW_ECLOSED
 * when its 2 seconds are over, and no close code came. */
static void
we_close(bool nng_dials, bool ws_close)
{
	nng_opts     o = { 0 };
	nng_aio     *r;
	nng_iov      iov = { in, 16 };
	nghttpw_aio *aio = NULL;
	nghttpw_time t0;
	int          rv, code = -1;

	connect_ends(nng_dials, &o);
	we_send_message_nng_reads(126);

	cr_assert_eq(nng_aio_alloc(&r, NULL, NULL), 0);
	nng_aio_set_timeout(r, OP_MS);
	nng_aio_set_iov(r, 1, &iov);
	nng_stream_recv(ns, r);

	t0 = nghttpw_clock();
	if (ws_close) {
		cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
		nghttpw_aio_set_timeout(aio, 5000);
		nghttpw_ws_close(os, NGHTTPW_WS_STATUS_NORMAL, "bye", aio);
	} else {
		nghttpw_stream_close(os);
	}

	nng_aio_wait(r);
	rv = nng_aio_result(r);
	cr_assert_neq(rv, 0, "nng's pending recv ended without an error");
	cr_assert_eq(rv, NNG_ECLOSED, "nng's pending recv: %s", nng_strerror(rv));
	cr_assert_eq(nng_aio_count(r), 0);
	cr_assert_lt(nghttpw_clock() - t0, 1000, "nng saw our close late");
	nng_aio_free(r);

	/* nng's later sends fail as well. */
	{
		size_t n;
		rv = nng_op(ns, true, out, 1, &n);
		cr_assert_eq(rv, NNG_ECLOSED, "nng's send after the close: %s",
		    nng_strerror(rv));
	}

	if (ws_close) {
		nghttpw_aio_wait(aio);
		rv = nghttpw_aio_result(aio);
		nghttpw_aio_free(aio);
		cr_assert_eq(rv, NGHTTPW_ECLOSED, "our close: %s (nng 1.5 answers no close)",
		    nghttpw_strerror(rv));
		cr_assert_geq(nghttpw_clock() - t0, 1900, "our close ended early");
		cr_assert_eq(nghttpw_stream_get_int(os, NGHTTPW_OPT_WS_CLOSE_CODE, &code), 0);
		cr_assert_eq(code, NGHTTPW_WS_STATUS_ABNORMAL, "close code %d", code);
	}
}

Test(ws_nng, we_close_1000_as_server_nng_recv_fails)
{
	we_close(true, true);
}

Test(ws_nng, we_stream_close_as_server_nng_recv_fails)
{
	we_close(true, false);
}

Test(ws_nng, we_close_1000_as_client_nng_recv_fails)
{
	we_close(false, true);
}

Test(ws_nng, we_stream_close_as_client_nng_recv_fails)
{
	we_close(false, false);
}

/* ------------------------------------------------------------- 4. text */

#define UTF8_TEXT "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93" /* 17 bytes */

/* nng with NNG_OPT_WS_SEND_TEXT: our nghttpw_ws_recv_msg reports text. */
static void
nng_sends_text(bool nng_dials)
{
	nng_opts o   = { .send_text = true };
	size_t   len = strlen(UTF8_TEXT), n = 0;
	bool     b   = false;
	our_op   r;
	int      rv;

	connect_ends(nng_dials, &o);
	cr_assert_eq(nng_stream_get_bool(ns, NNG_OPT_WS_SEND_TEXT, &b), 0);
	cr_assert(b);
	our_recv_msg_start(&r, in, 64);
	cr_assert_eq(nng_op(ns, true, UTF8_TEXT, len, &n), 0);
	cr_assert_eq(n, len);
	rv = our_op_wait(&r, &n);
	cr_assert_eq(rv, 0, "our recv_msg: %s", nghttpw_strerror(rv));
	cr_assert_eq(r.flags, NGHTTPW_WS_TEXT);
	cr_assert_eq(n, len);
	cr_assert(memcmp(in, UTF8_TEXT, len) == 0);

	/* A longer text, sent by nng in as many frames (messages) as its
	 * frame limit makes: each one text. */
	memset(out, 'a', 200000);
	{
		nng_job j;
		size_t  got = 0;

		nng_job_start(&j, ns, true, out, 200000);
		while (got < 200000) {
			our_recv_msg_start(&r, in + got, BUF_CAP - got);
			rv = our_op_wait(&r, &n);
			cr_assert_eq(rv, 0, "our recv_msg: %s", nghttpw_strerror(rv));
			cr_assert_eq(r.flags, NGHTTPW_WS_TEXT);
			got += n;
		}
		cr_assert_eq(nng_job_wait(&j), 0);
		cr_assert_eq(got, 200000);
		cr_assert(memcmp(in, out, 200000) == 0);
	}
}

Test(ws_nng, nng_client_sends_text_we_see_text)
{
	nng_sends_text(true);
}

Test(ws_nng, nng_server_sends_text_we_see_text)
{
	nng_sends_text(false);
}

/* nng's text to our stream read (without NGHTTPW_OPT_WS_RECV_TEXT): we
 * refuse it as nng would, with 1003, and nng's pending read ends. */
Test(ws_nng, nng_text_to_our_stream_read_is_refused_with_1003)
{
	nng_opts    o   = { .send_text = true };
	nghttpw_iov iov = { in, 64 };
	nng_aio    *r;
	nng_iov     niov = { in + 64, 64 };
	size_t      n;
	int         rv;

	nng_dials_us(&o);
	cr_assert_eq(nng_aio_alloc(&r, NULL, NULL), 0);
	nng_aio_set_timeout(r, OP_MS);
	nng_aio_set_iov(r, 1, &niov);
	nng_stream_recv(ns, r);
	cr_assert_eq(nng_op(ns, true, UTF8_TEXT, strlen(UTF8_TEXT), &n), 0);
	rv = sync_op(nghttpw_stream_recv, os, &iov, 1, OP_MS, &n);
	cr_assert_eq(rv, NGHTTPW_EPROTO, "our stream read: %s", nghttpw_strerror(rv));
	nng_aio_wait(r);
	rv = nng_aio_result(r);
	cr_assert_eq(rv, NNG_ECLOSED, "nng's pending recv: %s", nng_strerror(rv));
	nng_aio_free(r);
}

/* Our text to nng without NNG_OPT_WS_RECV_TEXT: nng fails its pending
 * recv and closes with 1003 (unsupported data), which ends our pending
 * read with NGHTTPW_ECLOSED. */
static void
we_send_text_nng_refuses(bool nng_dials)
{
	nng_opts o   = { 0 };
	nng_aio *r;
	nng_iov  niov = { in + 64, 64 };
	our_op   rd;
	int      rv, code = 0;

	connect_ends(nng_dials, &o);
	cr_assert_eq(nng_aio_alloc(&r, NULL, NULL), 0);
	nng_aio_set_timeout(r, OP_MS);
	nng_aio_set_iov(r, 1, &niov);
	nng_stream_recv(ns, r);
	our_recv_msg_start(&rd, in, 64);

	cr_assert_eq(ws_send(os, NGHTTPW_WS_TEXT, UTF8_TEXT, strlen(UTF8_TEXT)), 0);

	nng_aio_wait(r);
	rv = nng_aio_result(r);
	cr_assert_eq(rv, NNG_ECLOSED, "nng's pending recv: %s (%zu bytes)",
	    nng_strerror(rv), nng_aio_count(r));
	nng_aio_free(r);

	rv = our_op_wait(&rd, NULL);
	cr_assert_eq(rv, NGHTTPW_ECLOSED, "our pending read: %s", nghttpw_strerror(rv));
	cr_assert_eq(nghttpw_stream_get_int(os, NGHTTPW_OPT_WS_CLOSE_CODE, &code), 0);
	cr_assert_eq(code, NGHTTPW_WS_STATUS_UNSUPPORTED, "close code %d", code);
}

Test(ws_nng, our_text_to_nng_client_is_closed_with_1003)
{
	we_send_text_nng_refuses(true);
}

Test(ws_nng, our_text_to_nng_server_is_closed_with_1003)
{
	we_send_text_nng_refuses(false);
}

/* With NNG_OPT_WS_RECV_TEXT, nng reads our text as bytes. */
static void
we_send_text_nng_takes_it(bool nng_dials)
{
	nng_opts o   = { .recv_text = true };
	size_t   len = strlen(UTF8_TEXT);
	nng_job  j;

	connect_ends(nng_dials, &o);
	nng_job_start(&j, ns, false, in, len);
	cr_assert_eq(ws_send(os, NGHTTPW_WS_TEXT, UTF8_TEXT, len), 0);
	cr_assert_eq(nng_job_wait(&j), 0, "nng's recv: %s", nng_strerror(j.rv));
	cr_assert(memcmp(in, UTF8_TEXT, len) == 0);

	/* Our stream sends as text, too (NGHTTPW_OPT_WS_SEND_TEXT). */
	cr_assert_eq(nghttpw_stream_set_bool(os, NGHTTPW_OPT_WS_SEND_TEXT, true), 0);
	memset(in, 0, len);
	nng_job_start(&j, ns, false, in, len);
	cr_assert_eq(send_all(os, UTF8_TEXT, len, NULL), 0);
	cr_assert_eq(nng_job_wait(&j), 0, "nng's recv: %s", nng_strerror(j.rv));
	cr_assert(memcmp(in, UTF8_TEXT, len) == 0);
}

Test(ws_nng, our_text_to_nng_client_with_recv_text)
{
	we_send_text_nng_takes_it(true);
}

Test(ws_nng, our_text_to_nng_server_with_recv_text)
{
	we_send_text_nng_takes_it(false);
}

/* Not WebSocket, but this is the program that links nng: the texts of
 * the error codes are nng's, word for word, for every code (and the
 * ranges' and unknown codes' forms). */
Test(nng_words, strerror_is_nngs_word_for_word)
{
	static const int extra[] = { NGHTTPW_EINTERNAL, NGHTTPW_ESYSERR | 2,
		NGHTTPW_ESYSERR | 111, NGHTTPW_ETRANERR | 5, 32, 999, 12345 };

	for (int code = 0; code <= NGHTTPW_ECONNSHUT; code++) {
		cr_expect_str_eq(nghttpw_strerror(code), nng_strerror(code), "code %d", code);
	}
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		cr_expect_str_eq(nghttpw_strerror(extra[i]), nng_strerror(extra[i]),
		    "code %#x", (unsigned) extra[i]);
	}
}
