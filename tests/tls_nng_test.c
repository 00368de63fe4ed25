/* TLS as nng 1.12 has it: TLS-PSK (between our own ends and against the
 * openssl program), the result codes of the configuration calls, and the
 * four options that act on an endpoint's configuration (tls+tcp://,
 * https:// and wss://). */
#ifdef NGHTTPW_HAVE_TLS

#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nghttpw/nghttpw.h"
#include "nghttpw/tls.h"
#include "support/pairs.h"
#include "support/piped_child.h"
#include "support/programs.h"
#include "support/tls_certs.h"
#include "support/tls_endpoints.h"
#include "support/tmp_dir.h"
#include "support/ws_util.h"

#define WAIT_MS 5000

static const uint8_t key_a[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
	14, 15, 16 };
static const uint8_t key_b[32] = { 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6,
	0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf, 0xc0, 0xc1, 0xc2,
	0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce,
	0xcf };

static const tls_test_certs *
certs(void)
{
	const tls_test_certs *c = tls_test_certs_get();
	cr_assert_not_null(c, "making the test certificates failed");
	return (c);
}

/* A temporary directory, removed at the end of the test. */
static char tmpdir[64];

static const char *
tmp_dir(void)
{
	if (tmpdir[0] == '\0') {
		cr_assert_eq(tmp_dir_make(tmpdir, sizeof(tmpdir), "tlsnng"), 0);
	}
	return (tmpdir);
}

static const char *
tmp_path(const char *name)
{
	static char path[4][128];
	static int  next;
	char       *p = path[next++ % 4];

	snprintf(p, sizeof(path[0]), "%s/%s", tmp_dir(), name);
	return (p);
}

static void
setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	(void) certs();
}

static void
teardown(void)
{
	piped_child_kill_live();
	tmp_dir_remove(tmpdir);
}

TestSuite(tls_nng, .init = setup, .fini = teardown, .timeout = 60);

static nghttpw_tls_config *
config(nghttpw_tls_mode mode)
{
	nghttpw_tls_config *cfg;

	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, mode), 0);
	return (cfg);
}

static nghttpw_stream_listener *
listen_on(const char *scheme, nghttpw_tls_config *cfg, int *port)
{
	return (tls_test_listen(scheme, "127.0.0.1", cfg, true, port));
}

static nghttpw_stream_dialer *
dialer_to(const char *scheme, int port, nghttpw_tls_config *cfg)
{
	return (tls_test_dialer(scheme, "127.0.0.1", port, cfg));
}

static void
echo_check(nghttpw_stream *a, nghttpw_stream *b)
{
	char buf[5];

	cr_assert_eq(send_all(a, "hello", 5, NULL), 0);
	cr_assert_eq(recv_all(b, buf, 5, NULL), 0);
	cr_assert_arr_eq(buf, "hello", 5);
	cr_assert_eq(send_all(b, "world", 5, NULL), 0);
	cr_assert_eq(recv_all(a, buf, 5, NULL), 0);
	cr_assert_arr_eq(buf, "world", 5);
}

/* One handshake between the two configurations; with echo, data must
 * then cross both ways. */
static void
handshake(nghttpw_tls_config *scfg, nghttpw_tls_config *ccfg, int *crv,
    int *srv, bool echo)
{
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *cs = NULL, *ss = NULL;
	int                      port;

	l = listen_on("tls+tcp", scfg, &port);
	d = dialer_to("tls+tcp", port, ccfg);
	tls_test_connect(l, d, &cs, crv, &ss, srv);
	if (echo && *crv == 0 && *srv == 0) {
		echo_check(cs, ss);
	}
	nghttpw_stream_free(cs);
	nghttpw_stream_free(ss);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
}

/* A handshake that both ends see end with want; data crosses after a
 * successful one. */
static void
handshake_gives(nghttpw_tls_config *scfg, nghttpw_tls_config *ccfg, int want)
{
	int crv, srv;

	handshake(scfg, ccfg, &crv, &srv, want == 0);
	cr_assert_eq(crv, want, "dial: %s", nghttpw_strerror(crv));
	cr_assert_eq(srv, want, "accept: %s", nghttpw_strerror(srv));
}

static nghttpw_tls_config *
psk_client(const char *identity, const uint8_t *key, size_t len)
{
	nghttpw_tls_config *cfg = config(NGHTTPW_TLS_MODE_CLIENT);

	cr_assert_eq(nghttpw_tls_config_psk(cfg, identity, key, len), 0);
	return (cfg);
}

/* A PSK-only server (no certificate at all) knowing two identities. */
static nghttpw_tls_config *
psk_server(void)
{
	nghttpw_tls_config *cfg = config(NGHTTPW_TLS_MODE_SERVER);

	cr_assert_eq(nghttpw_tls_config_psk(cfg, "alice", key_a, sizeof(key_a)), 0);
	cr_assert_eq(nghttpw_tls_config_psk(cfg, "bob", key_b, sizeof(key_b)), 0);
	return (cfg);
}

/* ------------------------------------------------------------ TLS-PSK */

Test(tls_nng, psk_server_picks_key_by_identity)
{
	nghttpw_tls_config *scfg = psk_server();
	nghttpw_tls_config *alice = psk_client("alice", key_a, sizeof(key_a));
	nghttpw_tls_config *bob   = psk_client("bob", key_b, sizeof(key_b));

	handshake_gives(scfg, alice, 0);
	handshake_gives(scfg, bob, 0);
	nghttpw_tls_config_free(alice);
	nghttpw_tls_config_free(bob);
	nghttpw_tls_config_free(scfg);
}

Test(tls_nng, psk_wrong_key_or_identity_refused)
{
	nghttpw_tls_config *scfg = psk_server();
	nghttpw_tls_config *wrong_key = psk_client("alice", key_b, sizeof(key_a));
	nghttpw_tls_config *unknown   = psk_client("carol", key_a, sizeof(key_a));

	handshake_gives(scfg, wrong_key, NGHTTPW_ECRYPTO);
	handshake_gives(scfg, unknown, NGHTTPW_ECRYPTO);
	nghttpw_tls_config_free(wrong_key);
	nghttpw_tls_config_free(unknown);
	nghttpw_tls_config_free(scfg);
}

/* A client with neither CA nor PSK cannot talk to a PSK-only server. */
Test(tls_nng, psk_server_refuses_certificate_clients)
{
	nghttpw_tls_config *scfg = psk_server();
	nghttpw_tls_config *ccfg = config(NGHTTPW_TLS_MODE_CLIENT);
	int                 crv, srv;

	cr_assert_eq(nghttpw_tls_config_auth_mode(ccfg, NGHTTPW_TLS_AUTH_MODE_NONE), 0);
	handshake(scfg, ccfg, &crv, &srv, false);
	cr_assert_neq(crv, 0);
	cr_assert_neq(srv, 0);
	nghttpw_tls_config_free(ccfg);
	nghttpw_tls_config_free(scfg);
}

Test(tls_nng, psk_rules)
{
	nghttpw_tls_config *scfg = config(NGHTTPW_TLS_MODE_SERVER);
	nghttpw_tls_config *ccfg = config(NGHTTPW_TLS_MODE_CLIENT);
	uint8_t             big[1024] = { 0 }; /* above any PSK limit */

	cr_assert_eq(nghttpw_tls_config_psk(NULL, "a", key_a, 16), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_tls_config_psk(ccfg, NULL, key_a, 16), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_tls_config_psk(ccfg, "a", NULL, 16), NGHTTPW_EINVAL);
	/* What mbedTLS cannot use. */
	cr_assert_eq(nghttpw_tls_config_psk(ccfg, "a", key_a, 0), NGHTTPW_ECRYPTO);
	cr_assert_eq(nghttpw_tls_config_psk(scfg, "a", key_a, 0), NGHTTPW_ECRYPTO);
	cr_assert_eq(nghttpw_tls_config_psk(ccfg, "", key_a, 16), NGHTTPW_ECRYPTO);
	cr_assert_eq(nghttpw_tls_config_psk(ccfg, "a", big, sizeof(big)),
	    NGHTTPW_ECRYPTO);
	cr_assert_eq(nghttpw_tls_config_psk(scfg, "a", big, sizeof(big)),
	    NGHTTPW_ECRYPTO);

	/* The last key for an identity wins, on both sides. */
	cr_assert_eq(nghttpw_tls_config_psk(scfg, "alice", key_b, 16), 0);
	cr_assert_eq(nghttpw_tls_config_psk(scfg, "alice", key_a, 16), 0);
	cr_assert_eq(nghttpw_tls_config_psk(ccfg, "nobody", key_b, 16), 0);
	cr_assert_eq(nghttpw_tls_config_psk(ccfg, "alice", key_a, 16), 0);
	handshake_gives(scfg, ccfg, 0);

	/* Used: read-only, checked before the arguments, as nng does. */
	cr_assert_eq(nghttpw_tls_config_psk(scfg, "x", key_a, 16), NGHTTPW_EBUSY);
	cr_assert_eq(nghttpw_tls_config_psk(ccfg, "x", key_a, 0), NGHTTPW_EBUSY);
	nghttpw_tls_config_free(ccfg);
	nghttpw_tls_config_free(scfg);
}

/* ------------------------------------------------------------ openssl */

static bool
have_openssl(void)
{
	char path[1024];

	return (program_in_path("openssl", path, sizeof(path)));
}

static int
free_port(void)
{
	int port;
	int fd = raw_tcp_listen(&port);

	cr_assert_geq(fd, 0);
	close(fd);
	return (port);
}

/* openssl s_server -psk (TLS 1.2) with our client: right key, wrong key. */
static int
dial_openssl_psk_server(const uint8_t *key, size_t len, char *out, size_t cap)
{
	nghttpw_tls_config    *ccfg = psk_client("bob", key, len);
	nghttpw_stream_dialer *d;
	nghttpw_stream        *c = NULL, *none;
	piped_child            ch;
	char                   accept_arg[32];
	int                    rv = -1, srv;

	for (int attempt = 0; attempt < 5 && rv != 0; attempt++) {
		int port = free_port();
		snprintf(accept_arg, sizeof(accept_arg), "127.0.0.1:%d", port);
		char *const argv[] = { "openssl", "s_server", "-accept",
			accept_arg, "-nocert", "-tls1_2", "-psk_identity", "bob",
			"-psk", "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf",
			"-naccept", "1", "-rev", NULL };
		out[0] = '\0';
		cr_assert_eq(piped_child_start(&ch, argv, NULL), 0);
		if (!piped_child_read_until(&ch, out, cap, "ACCEPT", 5000)) {
			piped_child_stop(&ch);
			continue;
		}
		d = dialer_to("tls+tcp", port, ccfg);
		tls_test_connect(NULL, d, &c, &rv, &none, &srv);
		nghttpw_stream_dialer_free(d);
		if (rv == 0) {
			char buf[6];
			cr_assert_eq(send_all(c, "hello\n", 6, NULL), 0);
			cr_assert_eq(recv_all(c, buf, 6, NULL), 0);
			cr_assert_arr_eq(buf, "olleh\n", 6, "s_server sent '%.6s'", buf);
			nghttpw_stream_free(c);
		}
		piped_child_stop(&ch);
		if (rv != NGHTTPW_ECONNREFUSED) {
			break; /* an answer from openssl, not a lost port */
		}
	}
	nghttpw_tls_config_free(ccfg);
	return (rv);
}

Test(tls_nng, psk_against_openssl_s_server)
{
	char out[4096];
	int  rv;

	if (!have_openssl()) {
		cr_skip_test("the openssl program is not installed");
	}
	rv = dial_openssl_psk_server(key_b, sizeof(key_b), out, sizeof(out));
	cr_assert_eq(rv, 0, "dial: %s\n%s", nghttpw_strerror(rv), out);
	rv = dial_openssl_psk_server(key_a, sizeof(key_a), out, sizeof(out));
	cr_assert_neq(rv, 0, "a wrong key was accepted");
}

/* openssl s_client -psk with our PSK-only server. */
static bool
openssl_psk_client(int port, const char *identity, const char *hexkey,
    nghttpw_stream_listener *l, int *srv)
{
	nghttpw_aio    *acc;
	nghttpw_stream *s;
	piped_child     ch;
	char            connect_arg[32];
	char            out[4096] = "";
	char            buf[5];
	bool            ok = false;

	snprintf(connect_arg, sizeof(connect_arg), "127.0.0.1:%d", port);
	char *const argv[] = { "openssl", "s_client", "-connect", connect_arg,
		"-tls1_2", "-psk_identity", (char *) identity, "-psk",
		(char *) hexkey, "-quiet", NULL };
	cr_assert_eq(nghttpw_aio_alloc(&acc, NULL, NULL), 0);
	nghttpw_aio_set_timeout(acc, WAIT_MS);
	nghttpw_stream_listener_accept(l, acc);
	cr_assert_eq(piped_child_start(&ch, argv, NULL), 0);
	cr_assert_eq(write(ch.in, "ping\n", 5), 5);
	nghttpw_aio_wait(acc);
	if ((*srv = nghttpw_aio_result(acc)) == 0) {
		s = nghttpw_aio_get_output(acc, 0);
		if (recv_all(s, buf, 5, NULL) == 0 && memcmp(buf, "ping\n", 5) == 0 &&
		    send_all(s, "pong\n", 5, NULL) == 0) {
			ok = piped_child_read_until(&ch, out, sizeof(out), "pong", WAIT_MS);
		}
		nghttpw_stream_free(s);
	}
	piped_child_stop(&ch);
	nghttpw_aio_free(acc);
	return (ok);
}

Test(tls_nng, psk_against_openssl_s_client)
{
	nghttpw_tls_config      *scfg = psk_server();
	nghttpw_stream_listener *l;
	int                      port, srv;

	if (!have_openssl()) {
		cr_skip_test("the openssl program is not installed");
	}
	l = listen_on("tls+tcp", scfg, &port);
	cr_assert(openssl_psk_client(port, "alice",
	    "0102030405060708090a0b0c0d0e0f10", l, &srv));
	cr_assert_eq(srv, 0);
	cr_assert_not(openssl_psk_client(port, "alice",
	    "0102030405060708090a0b0c0d0e0f11", l, &srv));
	cr_assert_neq(srv, 0);
	nghttpw_stream_listener_free(l);
	nghttpw_tls_config_free(scfg);
}

/* ------------------------------------------------------------ result codes */

Test(tls_nng, engine_and_unimplemented_calls)
{
	nghttpw_tls_config *cfg = config(NGHTTPW_TLS_MODE_CLIENT);

	cr_assert_eq(nghttpw_tls_engine_fips_mode(), false);
	cr_assert_str_eq(nghttpw_tls_engine_name(), "mbed");
	/* nng 1.12 declares these and implements them in no engine. */
	cr_assert_eq(nghttpw_tls_config_key(cfg, key_a, sizeof(key_a)),
	    NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_tls_config_pass(cfg, "secret"), NGHTTPW_ENOTSUP);
	nghttpw_tls_config_free(cfg);
}

Test(tls_nng, version_rules)
{
	nghttpw_tls_config *cfg = config(NGHTTPW_TLS_MODE_CLIENT);

	cr_assert_eq(nghttpw_tls_config_version(NULL, NGHTTPW_TLS_1_2, NGHTTPW_TLS_1_2),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_tls_config_version(cfg, NGHTTPW_TLS_1_3, NGHTTPW_TLS_1_2),
	    NGHTTPW_ENOTSUP); /* min > max */
	cr_assert_eq(nghttpw_tls_config_version(cfg, NGHTTPW_TLS_1_3, NGHTTPW_TLS_1_3),
	    NGHTTPW_ENOTSUP); /* no TLS 1.3 in mbedTLS 2 */
	cr_assert_eq(nghttpw_tls_config_version(cfg, NGHTTPW_TLS_1_0, NGHTTPW_TLS_1_2),
	    NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_tls_config_version(cfg, NGHTTPW_TLS_1_2, 0x305),
	    NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_tls_config_version(cfg, 0, 0), NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_tls_config_version(cfg, NGHTTPW_TLS_1_2, NGHTTPW_TLS_1_2), 0);
	cr_assert_eq(nghttpw_tls_config_version(cfg, NGHTTPW_TLS_1_2, NGHTTPW_TLS_1_3), 0);
	nghttpw_tls_config_free(cfg);
}

/* Garbled certificates and keys are NGHTTPW_ECRYPTO, as in nng. */
Test(tls_nng, garbled_material_is_ecrypto)
{
	nghttpw_tls_config *cfg = config(NGHTTPW_TLS_MODE_SERVER);
	char               *half;
	size_t              n = strlen(certs()->server_cert) / 2;

	cr_assert_not_null(half = strdup(certs()->server_cert));
	half[n] = '\0';
	cr_assert_eq(nghttpw_tls_config_ca_chain(cfg, "garbage", NULL), NGHTTPW_ECRYPTO);
	cr_assert_eq(nghttpw_tls_config_ca_chain(cfg, half, NULL), NGHTTPW_ECRYPTO);
	cr_assert_eq(nghttpw_tls_config_ca_chain(cfg, certs()->ca_cert, "no crl"),
	    NGHTTPW_ECRYPTO);
	cr_assert_eq(nghttpw_tls_config_own_cert(cfg, half, certs()->server_key, NULL),
	    NGHTTPW_ECRYPTO);
	cr_assert_eq(nghttpw_tls_config_own_cert(cfg, certs()->server_cert, "junk", NULL),
	    NGHTTPW_ECRYPTO);
	cr_assert_eq(tls_test_write_file(tmp_dir(), "junk.pem", "not PEM at all\n", NULL),
	    0);
	cr_assert_eq(nghttpw_tls_config_ca_file(cfg, tmp_path("junk.pem")), NGHTTPW_ECRYPTO);
	cr_assert_eq(nghttpw_tls_config_cert_key_file(cfg, tmp_path("junk.pem"), NULL),
	    NGHTTPW_ECRYPTO);
	cr_assert_eq(nghttpw_tls_config_ca_file(cfg, tmp_path("missing.pem")),
	    NGHTTPW_ENOENT);
	cr_assert_eq(nghttpw_tls_config_cert_key_file(cfg, tmp_path("missing.pem"), NULL),
	    NGHTTPW_ENOENT);
	free(half);
	nghttpw_tls_config_free(cfg);
}

/* Once used, every change is NGHTTPW_EBUSY, whatever its arguments. */
Test(tls_nng, busy_comes_before_the_arguments)
{
	nghttpw_tls_config *scfg = psk_server();
	nghttpw_tls_config *ccfg = psk_client("alice", key_a, sizeof(key_a));
	int                 crv, srv;

	handshake(scfg, ccfg, &crv, &srv, false);
	cr_assert_eq(crv, 0, "%s", nghttpw_strerror(crv));
	for (int i = 0; i < 2; i++) {
		nghttpw_tls_config *cfg = i == 0 ? scfg : ccfg;
		cr_assert_eq(nghttpw_tls_config_version(cfg, 0, 0), NGHTTPW_EBUSY);
		cr_assert_eq(nghttpw_tls_config_auth_mode(cfg, 9), NGHTTPW_EBUSY);
		cr_assert_eq(nghttpw_tls_config_ca_chain(cfg, "junk", NULL), NGHTTPW_EBUSY);
		cr_assert_eq(nghttpw_tls_config_own_cert(cfg, "junk", "junk", NULL),
		    NGHTTPW_EBUSY);
		cr_assert_eq(nghttpw_tls_config_server_name(cfg, NULL), NGHTTPW_EBUSY);
	}
	nghttpw_tls_config_free(ccfg);
	nghttpw_tls_config_free(scfg);
}

/* ------------------------------------------------------------ options */

static void
write_files(void)
{
	cr_assert_eq(tls_test_write_file(tmp_dir(), "server.pem", certs()->server_cert, certs()->server_key, NULL),
	    0);
	cr_assert_eq(tls_test_write_file(tmpdir, "ca.pem", certs()->ca_cert, NULL), 0);
	cr_assert_eq(tls_test_write_file(tmpdir, "client.pem", certs()->client_cert,
	                 certs()->client_key, NULL),
	    0);
}

/* Option types and modes, the same on dialers and listeners. */
static void
check_option_shapes(int (*set_int)(void *, const char *, int),
    int (*set_bool)(void *, const char *, bool),
    int (*set_string)(void *, const char *, const char *),
    int (*get_int)(void *, const char *, int *),
    int (*get_string)(void *, const char *, char **), void *obj)
{
	int   v;
	char *s;

	cr_assert_eq(get_int(obj, NGHTTPW_OPT_TLS_AUTH_MODE, &v), NGHTTPW_EWRITEONLY);
	cr_assert_eq(get_string(obj, NGHTTPW_OPT_TLS_CA_FILE, &s), NGHTTPW_EWRITEONLY);
	cr_assert_eq(get_string(obj, NGHTTPW_OPT_TLS_CERT_KEY_FILE, &s),
	    NGHTTPW_EWRITEONLY);
	cr_assert_eq(get_string(obj, NGHTTPW_OPT_TLS_SERVER_NAME, &s),
	    NGHTTPW_EWRITEONLY);
	cr_assert_eq(set_bool(obj, NGHTTPW_OPT_TLS_AUTH_MODE, true), NGHTTPW_EBADTYPE);
	cr_assert_eq(set_int(obj, NGHTTPW_OPT_TLS_AUTH_MODE, 3), NGHTTPW_EINVAL);
	cr_assert_eq(set_int(obj, NGHTTPW_OPT_TLS_AUTH_MODE, -1), NGHTTPW_EINVAL);
	cr_assert_eq(set_int(obj, NGHTTPW_OPT_TLS_CA_FILE, 1), NGHTTPW_EBADTYPE);
	cr_assert_eq(set_string(obj, NGHTTPW_OPT_TLS_CA_FILE, tmp_path("missing.pem")),
	    NGHTTPW_ENOENT);
	cr_assert_eq(set_string(obj, NGHTTPW_OPT_TLS_CERT_KEY_FILE, tmp_path("ca.pem")),
	    NGHTTPW_ECRYPTO); /* a certificate, but no key */
}

#define SHAPES(kind)                                                          \
	check_option_shapes((int (*)(void *, const char *, int)) kind##_set_int, \
	    (int (*)(void *, const char *, bool)) kind##_set_bool,             \
	    (int (*)(void *, const char *, const char *)) kind##_set_string,   \
	    (int (*)(void *, const char *, int *)) kind##_get_int,             \
	    (int (*)(void *, const char *, char **)) kind##_get_string, obj)

/* A server and a verifying client configured by the options alone, then
 * everything refused once the configurations are in use. */
static void
options_end_to_end(const char *scheme)
{
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *cs = NULL, *ss = NULL;
	char                     url[128];
	int                      port, crv, srv, rv;

	write_files();
	snprintf(url, sizeof(url), "%s://127.0.0.1:0/p", scheme);
	cr_assert_eq(nghttpw_stream_listener_alloc(&l, url), 0);
	{
		void *obj = l;
		SHAPES(nghttpw_stream_listener);
	}
	cr_assert_eq(nghttpw_stream_listener_set_string(
	                 l, NGHTTPW_OPT_TLS_CERT_KEY_FILE, tmp_path("server.pem")),
	    0);
	cr_assert_eq(nghttpw_stream_listener_set_string(
	                 l, NGHTTPW_OPT_TLS_CA_FILE, tmp_path("ca.pem")),
	    0);
	cr_assert_eq(nghttpw_stream_listener_set_int(l, NGHTTPW_OPT_TLS_AUTH_MODE,
	                 NGHTTPW_TLS_AUTH_MODE_REQUIRED),
	    0);
	rv = nghttpw_stream_listener_listen(l);
	cr_assert_eq(rv, 0, "listen: %s", nghttpw_strerror(rv));
	cr_assert_eq(
	    nghttpw_stream_listener_get_int(l, NGHTTPW_OPT_TCP_BOUND_PORT, &port), 0);

	/* The URL's host is 127.0.0.1; the certificate's name is checked
	 * against the server name set by option. */
	snprintf(url, sizeof(url), "%s://127.0.0.1:%d/p", scheme, port);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, url), 0);
	{
		void *obj = d;
		SHAPES(nghttpw_stream_dialer);
	}
	cr_assert_eq(nghttpw_stream_dialer_set_string(
	                 d, NGHTTPW_OPT_TLS_CA_FILE, tmp_path("ca.pem")),
	    0);
	cr_assert_eq(nghttpw_stream_dialer_set_string(
	                 d, NGHTTPW_OPT_TLS_CERT_KEY_FILE, tmp_path("client.pem")),
	    0);
	cr_assert_eq(nghttpw_stream_dialer_set_string(
	                 d, NGHTTPW_OPT_TLS_SERVER_NAME, "localhost"),
	    0);
	cr_assert_eq(nghttpw_stream_dialer_set_int(d, NGHTTPW_OPT_TLS_AUTH_MODE,
	                 NGHTTPW_TLS_AUTH_MODE_REQUIRED),
	    0);
	tls_test_connect(l, d, &cs, &crv, &ss, &srv);
	cr_assert_eq(crv, 0, "dial: %s", nghttpw_strerror(crv));
	cr_assert_eq(srv, 0, "accept: %s", nghttpw_strerror(srv));
	if (strcmp(scheme, "wss") != 0) {
		bool verified = false;
		echo_check(cs, ss);
		cr_assert_eq(nghttpw_stream_get_bool(cs, NGHTTPW_OPT_TLS_VERIFIED, &verified), 0);
		cr_assert(verified);
		cr_assert_eq(nghttpw_stream_get_bool(ss, NGHTTPW_OPT_TLS_VERIFIED, &verified), 0);
		cr_assert(verified, "the client's certificate was verified");
	}

	/* In use now: as nng, the options reach a busy configuration. */
	cr_assert_eq(nghttpw_stream_dialer_set_string(d, NGHTTPW_OPT_TLS_SERVER_NAME, "x"),
	    NGHTTPW_EBUSY);
	cr_assert_eq(nghttpw_stream_dialer_set_int(d, NGHTTPW_OPT_TLS_AUTH_MODE, 0),
	    NGHTTPW_EBUSY);
	cr_assert_eq(nghttpw_stream_listener_set_string(
	                 l, NGHTTPW_OPT_TLS_CA_FILE, tmp_path("ca.pem")),
	    NGHTTPW_EBUSY);
	nghttpw_stream_free(cs);
	nghttpw_stream_free(ss);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
}

Test(tls_nng, options_on_tls_tcp)
{
	options_end_to_end("tls+tcp");
}

Test(tls_nng, options_on_https)
{
	options_end_to_end("https");
}

Test(tls_nng, options_on_wss)
{
	options_end_to_end("wss");
}

/* A wrong name set by option fails the dial: the option is honoured. */
Test(tls_nng, server_name_option_is_checked)
{
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *cs, *ss;
	int                      port, crv, srv;

	write_files();
	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tls+tcp://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_stream_listener_set_string(
	                 l, NGHTTPW_OPT_TLS_CERT_KEY_FILE, tmp_path("server.pem")),
	    0);
	cr_assert_eq(nghttpw_stream_listener_set_bool(
	                 l, NGHTTPW_OPT_TLS_HANDSHAKE_ERRORS, true),
	    0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	cr_assert_eq(
	    nghttpw_stream_listener_get_int(l, NGHTTPW_OPT_TCP_BOUND_PORT, &port), 0);
	d = dialer_to("tls+tcp", port, NULL);
	cr_assert_eq(nghttpw_stream_dialer_set_string(
	                 d, NGHTTPW_OPT_TLS_CA_FILE, tmp_path("ca.pem")),
	    0);
	cr_assert_eq(nghttpw_stream_dialer_set_string(
	                 d, NGHTTPW_OPT_TLS_SERVER_NAME, "wrong.example"),
	    0);
	tls_test_connect(l, d, &cs, &crv, &ss, &srv);
	cr_assert_eq(crv, NGHTTPW_EPEERAUTH, "dial: %s", nghttpw_strerror(crv));
	cr_assert_neq(srv, 0);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
}

/* An option set while a dial starts either lands before the handshake
 * uses the configuration or is refused: 0 until the first EBUSY, then
 * EBUSY only; the dial itself is unaffected. */
typedef struct {
	nghttpw_stream_dialer *d;
	int                    zeros;
	int                    busy;
	bool                   after_busy_zero;
} setter;

static void *
setter_main(void *arg)
{
	setter *st = arg;

	while (st->busy < 50) {
		int rv = nghttpw_stream_dialer_set_string(
		    st->d, NGHTTPW_OPT_TLS_SERVER_NAME, "localhost");
		if (rv == 0) {
			st->after_busy_zero |= st->busy > 0;
			st->zeros++;
		} else {
			cr_assert_eq(rv, NGHTTPW_EBUSY, "%s", nghttpw_strerror(rv));
			st->busy++;
		}
	}
	return (NULL);
}

Test(tls_nng, option_set_racing_first_dial)
{
	nghttpw_tls_config      *scfg = psk_server();
	nghttpw_stream_listener *l;
	int                      port;

	l = listen_on("tls+tcp", scfg, &port);
	for (int i = 0; i < 40; i++) {
		setter          st = { 0 };
		pthread_t       t;
		nghttpw_stream *cs, *ss;
		int             crv, srv;

		nghttpw_tls_config *ccfg = psk_client("bob", key_b, sizeof(key_b));
		st.d = dialer_to("tls+tcp", port, ccfg);
		nghttpw_tls_config_free(ccfg); /* the dialer holds it */
		pthread_create(&t, NULL, setter_main, &st);
		tls_test_connect(l, st.d, &cs, &crv, &ss, &srv);
		pthread_join(t, NULL);
		cr_assert_not(st.after_busy_zero, "a change landed on a used configuration");
		cr_assert_eq(crv, 0, "dial: %s", nghttpw_strerror(crv));
		cr_assert_eq(srv, 0, "accept: %s", nghttpw_strerror(srv));
		nghttpw_stream_free(cs);
		nghttpw_stream_free(ss);
		nghttpw_stream_dialer_free(st.d);
	}
	nghttpw_stream_listener_free(l);
	nghttpw_tls_config_free(scfg);
}

/* Plain ws:// and tcp:// have no TLS configuration to act on. */
Test(tls_nng, options_need_tls)
{
	nghttpw_stream_dialer *d;

	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, "tcp://127.0.0.1:9"), 0);
	cr_assert_eq(nghttpw_stream_dialer_set_string(d, NGHTTPW_OPT_TLS_SERVER_NAME, "x"),
	    NGHTTPW_ENOTSUP);
	nghttpw_stream_dialer_free(d);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, "ws://127.0.0.1:9/x"), 0);
	cr_assert_eq(nghttpw_stream_dialer_set_string(d, NGHTTPW_OPT_TLS_SERVER_NAME, "x"),
	    NGHTTPW_ENOTSUP);
	nghttpw_stream_dialer_free(d);
}

#else
#include <criterion/criterion.h>
Test(tls_nng, not_built)
{
	cr_skip_test("built without TLS");
}
#endif
