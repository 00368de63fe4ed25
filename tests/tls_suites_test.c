/* Cipher suites and curves, as real peers see them: openssl s_client
 * against our server (what the defaults accept and refuse, and what the
 * setters change), and our client against openssl s_server. */
#ifdef NGHTTPW_HAVE_TLS

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nghttpw/http.h"
#include "nghttpw/nghttpw.h"
#include "nghttpw/tls.h"
#include "support/pairs.h"
#include "support/programs.h"
#include "support/run_shell.h"
#include "support/tls_certs.h"
#include "support/tmp_dir.h"

static char tmpdir[64];
static char rsa_pem[128]; /* an RSA-2048 certificate and key, one file */

static void
setup(void)
{
	char path[1024];

	signal(SIGPIPE, SIG_IGN);
	if (!program_in_path("openssl", path, sizeof(path))) {
		return;
	}
	cr_assert_eq(tmp_dir_make(tmpdir, sizeof(tmpdir), "suites"), 0);
	cr_assert_not_null(tls_test_certs_get());
	cr_assert_eq(tls_test_write_file(tmpdir, "ca.pem",
	                 tls_test_certs_get()->ca_cert, NULL), 0);
	cr_assert_eq(tls_test_write_file(tmpdir, "ecdsa.pem",
	                 tls_test_certs_get()->server_cert,
	                 tls_test_certs_get()->server_key, NULL), 0);
	snprintf(rsa_pem, sizeof(rsa_pem), "%s/rsa.pem", tmpdir);
}

static void
teardown(void)
{
	tmp_dir_remove(tmpdir);
}

TestSuite(tls_suites, .init = setup, .fini = teardown, .timeout = 120);

static void
need_openssl(void)
{
	if (tmpdir[0] == '\0') {
		cr_skip_test("the openssl program is not installed");
	}
}

static void
make_rsa_cert(void)
{
	char out[4096];

	cr_assert_eq(run_shell(out, sizeof(out),
	                 "cd %s && openssl req -x509 -newkey rsa:2048 -nodes "
	                 "-keyout rk.pem -out rc.pem -subj /CN=localhost -days 1 "
	                 "2>&1 && cat rc.pem rk.pem > rsa.pem",
	                 tmpdir),
	    0, "%s", out);
}

/* An HTTPS server on a port of its own; cfg is taken by the server. */
typedef struct {
	nghttpw_url         *url;
	nghttpw_http_server *srv;
	int                  port;
} test_server;

static nghttpw_tls_config *
server_cfg(const char *pem)
{
	nghttpw_tls_config *cfg;
	char                path[128];

	if (pem == rsa_pem) {
		make_rsa_cert();
		snprintf(path, sizeof(path), "%s", rsa_pem);
	} else {
		snprintf(path, sizeof(path), "%s/ecdsa.pem", tmpdir);
	}
	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_SERVER), 0);
	cr_assert_eq(nghttpw_tls_config_cert_key_file(cfg, path, NULL), 0);
	return (cfg);
}

static void
server_start(test_server *ts, nghttpw_tls_config *cfg)
{
	nghttpw_sockaddr sa;

	cr_assert_eq(nghttpw_url_parse(&ts->url, "https://127.0.0.1:0/"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&ts->srv, ts->url), 0);
	cr_assert_eq(nghttpw_http_server_set_tls(ts->srv, cfg), 0);
	cr_assert_eq(nghttpw_http_server_start(ts->srv), 0);
	cr_assert_eq(nghttpw_http_server_get_addr(ts->srv, &sa), 0);
	ts->port = ntohs(sa.s_in.sa_port);
	nghttpw_tls_config_free(cfg);
}

static void
server_stop(test_server *ts)
{
	nghttpw_http_server_stop(ts->srv);
	nghttpw_http_server_release(ts->srv);
	nghttpw_url_free(ts->url);
}

/* openssl s_client at TLS 1.2 with a cipher list and optional curves;
 * 0 when the handshake succeeded.  @SECLEVEL=0 lets it offer anything,
 * so that a refusal is ours. */
static int
s_client(const test_server *ts, const char *ciphers, const char *curves,
    char *out, size_t cap)
{
	return (run_shell(out, cap,
	    "timeout 20 openssl s_client -connect 127.0.0.1:%d -tls1_2 -brief "
	    "-cipher '%s@SECLEVEL=0' %s%s </dev/null 2>&1",
	    ts->port, ciphers, curves != NULL ? "-curves " : "",
	    curves != NULL ? curves : ""));
}

static void
expect_accepted(const test_server *ts, const char *ciphers, const char *curves,
    const char *want)
{
	char out[8192];
	int  rv = s_client(ts, ciphers, curves, out, sizeof(out));

	cr_assert_eq(rv, 0, "%s / %s refused:\n%s", ciphers,
	    curves ? curves : "-", out);
	cr_assert_not_null(strstr(out, want), "%s / %s: no '%s' in\n%s", ciphers,
	    curves ? curves : "-", want, out);
}

static void
expect_refused(const test_server *ts, const char *ciphers, const char *curves)
{
	char out[8192];
	int  rv = s_client(ts, ciphers, curves, out, sizeof(out));

	cr_assert_neq(rv, 0, "%s / %s accepted:\n%s", ciphers,
	    curves ? curves : "-", out);
}

Test(tls_suites, ecdsa_defaults)
{
	test_server ts;

	need_openssl();
	server_start(&ts, server_cfg(NULL));
	expect_accepted(&ts, "ECDHE-ECDSA-AES128-GCM-SHA256", NULL,
	    "Ciphersuite: ECDHE-ECDSA-AES128-GCM-SHA256");
	expect_accepted(&ts, "ECDHE-ECDSA-AES256-GCM-SHA384", NULL,
	    "Ciphersuite: ECDHE-ECDSA-AES256-GCM-SHA384");
	expect_accepted(&ts, "ECDHE-ECDSA-CHACHA20-POLY1305", NULL,
	    "Ciphersuite: ECDHE-ECDSA-CHACHA20-POLY1305");
	/* CBC, SHA-1 MAC, CCM_8, Camellia: refused. */
	expect_refused(&ts, "ECDHE-ECDSA-AES128-SHA", NULL);
	expect_refused(&ts, "ECDHE-ECDSA-AES256-SHA384", NULL);
	expect_refused(&ts, "ECDHE-ECDSA-AES128-CCM8", NULL);
	expect_refused(&ts, "ECDHE-ECDSA-AES128-CCM", NULL);
	expect_refused(&ts, "ECDHE-ECDSA-CAMELLIA128-SHA256", NULL);
	/* Our order of curves, whatever the client's. */
	expect_accepted(&ts, "ECDHE-ECDSA-AES128-GCM-SHA256", "P-384:P-256:X25519",
	    "Server Temp Key: X25519");
	server_stop(&ts);
}

Test(tls_suites, rsa_defaults)
{
	test_server ts;

	need_openssl();
	server_start(&ts, server_cfg(rsa_pem));
	expect_accepted(&ts, "ECDHE-RSA-AES128-GCM-SHA256", NULL,
	    "Ciphersuite: ECDHE-RSA-AES128-GCM-SHA256");
	expect_accepted(&ts, "ECDHE-RSA-CHACHA20-POLY1305", NULL,
	    "Ciphersuite: ECDHE-RSA-CHACHA20-POLY1305");
	/* Static RSA (no forward secrecy), DHE, CBC, Camellia: refused. */
	expect_refused(&ts, "AES128-GCM-SHA256:AES256-GCM-SHA384", NULL);
	expect_refused(&ts, "AES128-SHA:AES128-SHA256", NULL);
	expect_refused(&ts, "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-CHACHA20-POLY1305", NULL);
	expect_refused(&ts, "ECDHE-RSA-AES128-SHA:ECDHE-RSA-CAMELLIA128-SHA256", NULL);
	/* The curves (an RSA certificate leaves the client's choice free):
	 * X25519, P-256, P-384 in our order; no P-521 or 192/224-bit curves. */
	expect_accepted(&ts, "ECDHE-RSA-AES128-GCM-SHA256", "P-384:P-256:X25519",
	    "Server Temp Key: X25519");
	expect_accepted(&ts, "ECDHE-RSA-AES128-GCM-SHA256", "P-384:P-256",
	    "Server Temp Key: ECDH, prime256v1");
	expect_accepted(&ts, "ECDHE-RSA-AES128-GCM-SHA256", "P-384",
	    "Server Temp Key: ECDH, secp384r1");
	expect_refused(&ts, "ECDHE-RSA-AES128-GCM-SHA256", "P-521");
	expect_refused(&ts, "ECDHE-RSA-AES128-GCM-SHA256", "prime192v1");
	expect_refused(&ts, "ECDHE-RSA-AES128-GCM-SHA256", "secp224r1");
	server_stop(&ts);
}

/* DHE only when a list names it, and then with an RFC 7919 group. */
Test(tls_suites, dhe_when_asked)
{
	test_server         ts;
	nghttpw_tls_config *cfg;

	need_openssl();
	cfg = server_cfg(rsa_pem);
	cr_assert_eq(nghttpw_tls_config_ciphers(cfg,
	                 "ECDHE-RSA-AES128-GCM-SHA256, DHE-RSA-AES128-GCM-SHA256"), 0);
	server_start(&ts, cfg);
	expect_accepted(&ts, "DHE-RSA-AES128-GCM-SHA256", NULL,
	    "Server Temp Key: DH, 2048 bits");
	expect_refused(&ts, "ECDHE-RSA-CHACHA20-POLY1305", NULL);
	server_stop(&ts);

	cfg = server_cfg(rsa_pem);
	cr_assert_eq(nghttpw_tls_config_ciphers(cfg,
	                 "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"), 0);
	cr_assert_eq(nghttpw_tls_config_curves(cfg, "x25519:ffdhe3072"), 0);
	server_start(&ts, cfg);
	expect_accepted(&ts, "DHE-RSA-AES256-GCM-SHA384", NULL,
	    "Server Temp Key: DH, 3072 bits");
	server_stop(&ts);
}

/* The setters change what a server accepts, in any of the three kinds
 * of names. */
Test(tls_suites, setters_change_what_is_accepted)
{
	test_server         ts;
	nghttpw_tls_config *cfg;

	need_openssl();
	cfg = server_cfg(NULL);
	cr_assert_eq(nghttpw_tls_config_ciphers(cfg,
	                 "TLS-ECDHE-ECDSA-WITH-AES-128-CBC-SHA256:"
	                 "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"), 0);
	server_start(&ts, cfg);
	expect_accepted(&ts, "ECDHE-ECDSA-AES128-SHA256", NULL,
	    "Ciphersuite: ECDHE-ECDSA-AES128-SHA256");
	expect_accepted(&ts, "ECDHE-ECDSA-AES256-GCM-SHA384", NULL,
	    "Ciphersuite: ECDHE-ECDSA-AES256-GCM-SHA384");
	expect_refused(&ts, "ECDHE-ECDSA-AES128-GCM-SHA256", NULL);
	expect_refused(&ts, "ECDHE-ECDSA-CHACHA20-POLY1305", NULL);
	server_stop(&ts);

	cfg = server_cfg(rsa_pem);
	cr_assert_eq(nghttpw_tls_config_curves(cfg, "secp521r1, p-384"), 0);
	server_start(&ts, cfg);
	expect_accepted(&ts, "ECDHE-RSA-AES128-GCM-SHA256", "X25519:P-521",
	    "Server Temp Key: ECDH, secp521r1");
	expect_accepted(&ts, "ECDHE-RSA-AES128-GCM-SHA256", "P-384:P-521",
	    "Server Temp Key: ECDH, secp521r1");
	expect_refused(&ts, "ECDHE-RSA-AES128-GCM-SHA256", "X25519:P-256");
	server_stop(&ts);
}

Test(tls_suites, bad_lists_and_busy)
{
	nghttpw_tls_config *cfg;
	test_server         ts;

	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_SERVER), 0);
	cr_assert_eq(nghttpw_tls_config_ciphers(NULL, "PSK-AES128-GCM-SHA256"),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_tls_config_ciphers(cfg, ""), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_tls_config_ciphers(cfg, "ECDHE-RSA-AES128-GCM-SHA256::"),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_tls_config_ciphers(cfg, "ECDHE-RSA-AES128-GCM-SHA256:NOPE"),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_tls_config_curves(NULL, "x25519"), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_tls_config_curves(cfg, ""), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_tls_config_curves(cfg, "x25519,p999"), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_tls_config_curves(cfg, "ffdhe2048"), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_tls_config_ciphers(cfg, NULL), 0);
	cr_assert_eq(nghttpw_tls_config_curves(cfg, NULL), 0);
	nghttpw_tls_config_free(cfg);

	need_openssl();
	cfg = server_cfg(NULL);
	nghttpw_tls_config_hold(cfg);
	server_start(&ts, cfg);
	expect_accepted(&ts, "ECDHE-ECDSA-AES128-GCM-SHA256", NULL, "Ciphersuite");
	cr_assert_eq(nghttpw_tls_config_ciphers(cfg, "ECDHE-RSA-AES128-GCM-SHA256"),
	    NGHTTPW_EBUSY);
	cr_assert_eq(nghttpw_tls_config_curves(cfg, "x25519"), NGHTTPW_EBUSY);
	nghttpw_tls_config_free(cfg);
	server_stop(&ts);
}

/* Runs a shell command with its stdin and output (stdout and stderr)
 * on pipes: openssl s_server ends when its stdin does. */
static pid_t
spawn_sh(const char *cmd, int *in, FILE **out)
{
	int   i[2], o[2];
	pid_t pid;

	cr_assert_eq(pipe(i), 0);
	cr_assert_eq(pipe(o), 0);
	cr_assert_geq(pid = fork(), 0);
	if (pid == 0) {
		dup2(i[0], 0);
		dup2(o[1], 1);
		dup2(o[1], 2);
		close(i[0]);
		close(i[1]);
		close(o[0]);
		close(o[1]);
		execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
		_exit(127);
	}
	close(i[0]);
	close(o[1]);
	*in = i[1];
	cr_assert_not_null(*out = fdopen(o[0], "r"));
	return (pid);
}

/* Our client against openssl s_server (-naccept 1): its output with the
 * suite and the groups our client offered in out. */
static int
dial_s_server(nghttpw_tls_config *ccfg, const char *server_args, char *out,
    size_t cap)
{
	char                   cmd[1024];
	FILE                  *f;
	size_t                 n  = 0;
	int                    rv = -1;
	nghttpw_stream_dialer *d;
	nghttpw_aio           *aio;
	char                   url[64];
	int                    port, in;
	pid_t                  pid;
	int                    fd = raw_tcp_listen(&port);

	cr_assert_geq(fd, 0);
	close(fd);
	snprintf(cmd, sizeof(cmd),
	    "exec timeout 20 openssl s_server -accept 127.0.0.1:%d -naccept 1 "
	    "-cert %s/ecdsa.pem -key %s/ecdsa.pem %s",
	    port, tmpdir, tmpdir, server_args);
	pid    = spawn_sh(cmd, &in, &f);
	out[0] = '\0';
	while (n + 1 < cap && fgets(out + n, (int) (cap - n), f) != NULL) {
		n += strlen(out + n);
		if (strstr(out, "ACCEPT") != NULL) {
			break;
		}
	}
	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", port);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, url), 0);
	cr_assert_eq(nghttpw_stream_dialer_set_ptr(d, NGHTTPW_OPT_TLS_CONFIG, ccfg), 0);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 10000);
	nghttpw_stream_dialer_dial(d, aio);
	nghttpw_aio_wait(aio);
	if ((rv = nghttpw_aio_result(aio)) == 0) {
		nghttpw_stream *s = nghttpw_aio_get_output(aio, 0);
		nghttpw_stream_close(s);
		nghttpw_stream_free(s);
	}
	nghttpw_aio_free(aio);
	nghttpw_stream_dialer_free(d);
	close(in);
	while (n + 1 < cap && !feof(f)) {
		n += fread(out + n, 1, cap - n - 1, f);
	}
	out[n] = '\0';
	fclose(f);
	waitpid(pid, NULL, 0);
	return (rv);
}

static nghttpw_tls_config *
client_cfg(void)
{
	nghttpw_tls_config *cfg;

	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_CLIENT), 0);
	cr_assert_eq(nghttpw_tls_config_ca_chain(cfg, tls_test_certs_get()->ca_cert, NULL), 0);
	cr_assert_eq(nghttpw_tls_config_server_name(cfg, "localhost"), 0);
	return (cfg);
}

Test(tls_suites, our_client_against_s_server)
{
	nghttpw_tls_config *ccfg;
	char                out[16384];
	int                 rv;

	need_openssl();
	/* Defaults: an AEAD suite, and our groups in our order. */
	ccfg = client_cfg();
	rv   = dial_s_server(ccfg, "", out, sizeof(out));
	cr_assert_eq(rv, 0, "%s\n%s", nghttpw_strerror(rv), out);
	cr_assert_not_null(
	    strstr(out, "Supported groups: x25519:secp256r1:secp384r1:secp521r1\n"),
	    "%s", out);
	cr_assert(strstr(out, "CIPHER is ECDHE-ECDSA-AES128-GCM-SHA256") != NULL ||
	        strstr(out, "CIPHER is ECDHE-ECDSA-CHACHA20-POLY1305") != NULL,
	    "%s", out);
	/* A CBC-only server is refused ... */
	rv = dial_s_server(ccfg, "-cipher ECDHE-ECDSA-AES128-SHA256", out, sizeof(out));
	cr_assert_neq(rv, 0, "%s", out);
	nghttpw_tls_config_free(ccfg);
	/* ... unless the client's list allows it; and its curves are sent. */
	ccfg = client_cfg();
	cr_assert_eq(nghttpw_tls_config_ciphers(ccfg,
	                 "ECDHE-ECDSA-AES128-GCM-SHA256:TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"),
	    0);
	cr_assert_eq(nghttpw_tls_config_curves(ccfg, "p384:x25519:p256"), 0);
	rv = dial_s_server(ccfg, "-cipher ECDHE-ECDSA-AES128-SHA256", out, sizeof(out));
	cr_assert_eq(rv, 0, "%s\n%s", nghttpw_strerror(rv), out);
	cr_assert_not_null(strstr(out, "CIPHER is ECDHE-ECDSA-AES128-SHA256"), "%s", out);
	cr_assert_not_null(strstr(out, "Supported groups: secp384r1:x25519:secp256r1\n"),
	    "%s", out);
	nghttpw_tls_config_free(ccfg);
}

/* A server certificate on P-521 still verifies with the client's default
 * curves; without P-521 in them it is refused (TLS 1.2 ties the two). */
Test(tls_suites, our_client_accepts_p521_certificates)
{
	nghttpw_tls_config *ccfg;
	char                out[16384];
	char                ca[128];
	int                 rv;

	need_openssl();
	cr_assert_eq(run_shell(out, sizeof(out),
	                 "cd %s && openssl req -x509 -newkey ec -pkeyopt "
	                 "ec_paramgen_curve:P-521 -nodes -keyout k5.pem -out c5.pem "
	                 "-subj /CN=localhost -addext subjectAltName=DNS:localhost "
	                 "-days 1 2>&1 && cat c5.pem k5.pem > ecdsa.pem",
	                 tmpdir),
	    0, "%s", out);
	snprintf(ca, sizeof(ca), "%s/c5.pem", tmpdir);
	cr_assert_eq(nghttpw_tls_config_alloc(&ccfg, NGHTTPW_TLS_MODE_CLIENT), 0);
	cr_assert_eq(nghttpw_tls_config_ca_file(ccfg, ca), 0);
	cr_assert_eq(nghttpw_tls_config_server_name(ccfg, "localhost"), 0);
	rv = dial_s_server(ccfg, "", out, sizeof(out));
	cr_assert_eq(rv, 0, "%s\n%s", nghttpw_strerror(rv), out);
	nghttpw_tls_config_free(ccfg);

	cr_assert_eq(nghttpw_tls_config_alloc(&ccfg, NGHTTPW_TLS_MODE_CLIENT), 0);
	cr_assert_eq(nghttpw_tls_config_ca_file(ccfg, ca), 0);
	cr_assert_eq(nghttpw_tls_config_server_name(ccfg, "localhost"), 0);
	cr_assert_eq(nghttpw_tls_config_curves(ccfg, "x25519:p256:p384"), 0);
	rv = dial_s_server(ccfg, "", out, sizeof(out));
	cr_assert_neq(rv, 0, "%s", out);
	nghttpw_tls_config_free(ccfg);
}

#else /* !NGHTTPW_HAVE_TLS */

#include <criterion/criterion.h>

Test(tls_suites, not_built)
{
	cr_skip_test("nghttpw was built without TLS");
}

#endif
