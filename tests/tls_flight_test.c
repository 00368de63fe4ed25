/* Handshake flights leave whole: the records mbedTLS writes one by one
 * during a handshake go out in as few sends as the protocol allows, so
 * that the peer wakes once per flight, not once per record.  Seen from
 * the peer, an mbedTLS endpoint over a plain socket, as the number of
 * TCP segments that carried data to it (TCP_INFO's tcpi_data_segs_in;
 * our sockets set TCP_NODELAY, so each send is one segment on loopback). */
#ifdef NGHTTPW_HAVE_TLS

#include <criterion/criterion.h>
#include <netinet/in.h>
#include <linux/tcp.h> /* its tcp_info has tcpi_data_segs_in */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "nghttpw/nghttpw.h"
#include "nghttpw/tls.h"
#include "support/tls_certs.h"
#include "support/tls_endpoints.h"
#include "tls/tls_mbedtls_compat.h" /* tls_pk_parse_key */

TestSuite(tls_flight, .timeout = 60);

static unsigned
data_segs_in(int fd)
{
	struct tcp_info ti;
	socklen_t       len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	cr_assert_eq(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
	return (ti.tcpi_data_segs_in);
}

/* The mbedTLS end of a test: its context and what it needs. */
typedef struct {
	mbedtls_entropy_context  entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config       conf;
	mbedtls_ssl_context      ssl;
	mbedtls_x509_crt         crt;
	mbedtls_pk_context       key;
	mbedtls_net_context      net;
} peer;

static void
peer_init(peer *p, int endpoint)
{
	mbedtls_entropy_init(&p->entropy);
	mbedtls_ctr_drbg_init(&p->drbg);
	mbedtls_ssl_config_init(&p->conf);
	mbedtls_ssl_init(&p->ssl);
	mbedtls_x509_crt_init(&p->crt);
	mbedtls_pk_init(&p->key);
	mbedtls_net_init(&p->net);
	cr_assert_eq(mbedtls_ctr_drbg_seed(&p->drbg, mbedtls_entropy_func,
	                 &p->entropy, NULL, 0),
	    0);
	cr_assert_eq(mbedtls_ssl_config_defaults(&p->conf, endpoint,
	                 MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT),
	    0);
	mbedtls_ssl_conf_rng(&p->conf, mbedtls_ctr_drbg_random, &p->drbg);
}

static void
peer_start(peer *p)
{
	cr_assert_eq(mbedtls_ssl_setup(&p->ssl, &p->conf), 0);
	mbedtls_ssl_set_bio(&p->ssl, &p->net, mbedtls_net_send, mbedtls_net_recv, NULL);
}

static void
peer_fini(peer *p)
{
	mbedtls_net_free(&p->net);
	mbedtls_ssl_free(&p->ssl);
	mbedtls_ssl_config_free(&p->conf);
	mbedtls_x509_crt_free(&p->crt);
	mbedtls_pk_free(&p->key);
	mbedtls_ctr_drbg_free(&p->drbg);
	mbedtls_entropy_free(&p->entropy);
}

static void
parse_pem(mbedtls_x509_crt *crt, const char *pem)
{
	cr_assert_eq(mbedtls_x509_crt_parse(crt, (const unsigned char *) pem,
	                 strlen(pem) + 1),
	    0);
}

/* ---------------------------------------------------------- our server */

/* Our TLS listener with the test certificate followed by `extra` copies
 * of the CA's (a long chain makes a big first flight). */
static void
server_start(tls_test_server *sv, int extra)
{
	const tls_test_certs *c = tls_test_certs_get();
	nghttpw_tls_config   *cfg;
	size_t                len;
	char                 *chain;

	cr_assert_not_null(c, "making the test certificates failed");
	len   = strlen(c->server_cert) + (size_t) extra * strlen(c->ca_cert) + 1;
	chain = malloc(len);
	cr_assert_not_null(chain);
	strcpy(chain, c->server_cert);
	for (int i = 0; i < extra; i++) {
		strcat(chain, c->ca_cert);
	}
	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_SERVER), 0);
	cr_assert_eq(nghttpw_tls_config_own_cert(cfg, chain, c->server_key, NULL), 0);
	free(chain);
	/* Held: a close_notify after the handshake would count. */
	tls_test_server_start(sv, cfg, true);
	nghttpw_tls_config_free(cfg);
}

/* One handshake of an mbedTLS client with our server, resuming `sess`
 * when given (and then saving the new one in it); returns how many data
 * segments our server sent. */
static unsigned
client_handshake(int port, mbedtls_ssl_session *sess, bool *resumed)
{
	peer     p;
	char     port_s[16];
	unsigned segs;
	int      rv;

	peer_init(&p, MBEDTLS_SSL_IS_CLIENT);
	parse_pem(&p.crt, tls_test_certs_get()->ca_cert);
	mbedtls_ssl_conf_ca_chain(&p.conf, &p.crt, NULL);
	mbedtls_ssl_conf_authmode(&p.conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	peer_start(&p);
	cr_assert_eq(mbedtls_ssl_set_hostname(&p.ssl, "localhost"), 0);
	if (sess != NULL && *resumed) {
		cr_assert_eq(mbedtls_ssl_set_session(&p.ssl, sess), 0);
	}
	snprintf(port_s, sizeof(port_s), "%d", port);
	cr_assert_eq(mbedtls_net_connect(&p.net, "127.0.0.1", port_s,
	                 MBEDTLS_NET_PROTO_TCP),
	    0);
	while ((rv = mbedtls_ssl_handshake(&p.ssl)) != 0) {
		cr_assert(rv == MBEDTLS_ERR_SSL_WANT_READ ||
		        rv == MBEDTLS_ERR_SSL_WANT_WRITE,
		    "handshake: -0x%04x", (unsigned) -rv);
	}
	segs = data_segs_in(p.net.fd);
	if (sess != NULL) {
		*resumed = mbedtls_ssl_get_session(&p.ssl, sess) == 0;
	}
	peer_fini(&p);
	return (segs);
}

Test(tls_flight, server_full_handshake_is_two_flights_and_the_last)
{
	tls_test_server sv;

	server_start(&sv, 0);
	/* ServerHello+Certificate go ahead of the key exchange (the client
	 * can check the certificate meanwhile), ServerKeyExchange+Done,
	 * then NewSessionTicket+ChangeCipherSpec+Finished: 3, not 7. */
	cr_assert_eq(client_handshake(sv.port, NULL, NULL), 3);
	tls_test_server_stop(&sv);
}

Test(tls_flight, resumed_handshake_is_one_segment)
{
	tls_test_server     sv;
	mbedtls_ssl_session sess;
	bool                resumed = false;

	mbedtls_ssl_session_init(&sess);
	server_start(&sv, 0);
	(void) client_handshake(sv.port, &sess, &resumed);
	cr_assert(resumed, "no session to resume");
	/* ServerHello+ChangeCipherSpec+Finished (a new ticket ahead of
	 * them when one is sent) in one send. */
	cr_assert_eq(client_handshake(sv.port, &sess, &resumed), 1);
	tls_test_server_stop(&sv);
	mbedtls_ssl_session_free(&sess);
}

Test(tls_flight, a_long_certificate_chain_still_goes_in_one_send)
{
	tls_test_server sv;

	/* About 11 KB of certificates: the flight buffer grows past its
	 * first size. */
	server_start(&sv, 20);
	cr_assert_eq(client_handshake(sv.port, NULL, NULL), 3);
	tls_test_server_stop(&sv);
}

/* ---------------------------------------------------------- our client */

typedef struct {
	int      lfd;
	unsigned segs;
	int      rv;
} mbed_server;

static void *
mbed_server_main(void *arg)
{
	mbed_server          *ms = arg;
	const tls_test_certs *c  = tls_test_certs_get();
	peer                  p;
	int                   fd;

	peer_init(&p, MBEDTLS_SSL_IS_SERVER);
	parse_pem(&p.crt, c->server_cert);
	cr_assert_eq(tls_pk_parse_key(&p.key, (const unsigned char *) c->server_key,
	                 strlen(c->server_key) + 1, NULL, 0, mbedtls_ctr_drbg_random,
	                 &p.drbg),
	    0);
	cr_assert_eq(mbedtls_ssl_conf_own_cert(&p.conf, &p.crt, &p.key), 0);
	peer_start(&p);
	cr_assert((fd = accept(ms->lfd, NULL, NULL)) >= 0);
	p.net.fd = fd;
	while ((ms->rv = mbedtls_ssl_handshake(&p.ssl)) == MBEDTLS_ERR_SSL_WANT_READ ||
	    ms->rv == MBEDTLS_ERR_SSL_WANT_WRITE) {
	}
	ms->segs = data_segs_in(fd);
	(void) mbedtls_ssl_close_notify(&p.ssl);
	peer_fini(&p);
	return (NULL);
}

Test(tls_flight, client_key_exchange_flight_is_one_segment)
{
	struct sockaddr_in     sa = { .sin_family = AF_INET };
	socklen_t              sl = sizeof(sa);
	mbed_server            ms = { 0 };
	pthread_t              thr;
	nghttpw_stream_dialer *d;
	nghttpw_tls_config    *cfg;
	nghttpw_aio           *aio;
	char                   url[64];

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert((ms.lfd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	cr_assert_eq(bind(ms.lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	cr_assert_eq(listen(ms.lfd, 4), 0);
	cr_assert_eq(getsockname(ms.lfd, (struct sockaddr *) &sa, &sl), 0);
	cr_assert_eq(pthread_create(&thr, NULL, mbed_server_main, &ms), 0);

	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_CLIENT), 0);
	cr_assert_eq(nghttpw_tls_config_ca_chain(cfg, tls_test_certs_get()->ca_cert, NULL), 0);
	snprintf(url, sizeof(url), "tls+tcp://localhost:%d", ntohs(sa.sin_port));
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, url), 0);
	cr_assert_eq(nghttpw_stream_dialer_set_ptr(d, NGHTTPW_OPT_TLS_CONFIG, cfg), 0);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_stream_dialer_dial(d, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0, "dial: %s",
	    nghttpw_strerror(nghttpw_aio_result(aio)));
	pthread_join(thr, NULL);
	cr_assert_eq(ms.rv, 0, "server handshake: -0x%04x", (unsigned) -ms.rv);
	/* ClientHello, then ClientKeyExchange+ChangeCipherSpec+Finished. */
	cr_assert_eq(ms.segs, 2);

	nghttpw_stream_free(nghttpw_aio_get_output(aio, 0));
	nghttpw_aio_free(aio);
	nghttpw_stream_dialer_free(d);
	nghttpw_tls_config_free(cfg);
	close(ms.lfd);
}

#endif /* NGHTTPW_HAVE_TLS */
