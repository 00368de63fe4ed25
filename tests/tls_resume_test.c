/* Resumption on our server: session tickets and the session-ID cache, seen
 * by `openssl s_client` (which prints "New" or "Reused" per handshake) and
 * by our own dialer; the cache's bound and the resumption lifetime. */
#ifdef NGHTTPW_HAVE_TLS

#include <criterion/criterion.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nghttpw/nghttpw.h"
#include "nghttpw/tls.h"
#include "support/child.h"
#include "support/programs.h"
#include "support/tls_certs.h"
#include "support/tls_endpoints.h"
#include "tls/tls_impl.h" /* to turn a client's tickets off */

#define WAIT_MS 5000

static char tmpdir[64];
static char openssl[1024];

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/nghttpw-resume-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	(void) system(cmd);
}

TestSuite(tls_resume, .init = setup, .fini = teardown, .timeout = 60);

static nghttpw_tls_config *
server_config(void)
{
	const tls_test_certs *c = tls_test_certs_get();
	nghttpw_tls_config   *cfg;

	cr_assert_not_null(c, "making the test certificates failed");
	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_SERVER), 0);
	cr_assert_eq(nghttpw_tls_config_own_cert(cfg, c->server_cert, c->server_key, NULL), 0);
	return (cfg);
}

/* What s_client reported, in order: 'N' (new) or 'R' (reused) per
 * handshake; the ticket lifetime hint it saw, or -1; and the first 4
 * bytes of the last ticket, the name of the key that made it (mbedTLS
 * puts it there), in hex. */
typedef struct {
	char hs[16];
	int  hint;
	char key[9];
} s_client_out;

/* Runs openssl s_client against port with the extra arguments (at most
 * 6); sess_in and sess_out name files in tmpdir, or are NULL. */
static s_client_out
s_client(int port, const char *sess_in, const char *sess_out, const char *a1,
    const char *a2)
{
	s_client_out out       = { "", -1, "" };
	bool         in_ticket = false;
	char         connect_arg[32], in_path[128], out_path[128], line[1024];
	const char  *argv[16];
	int          n = 0;
	child        ch;

	snprintf(connect_arg, sizeof(connect_arg), "127.0.0.1:%d", port);
	argv[n++] = "openssl";
	argv[n++] = "s_client";
	argv[n++] = "-connect";
	argv[n++] = connect_arg;
	if (sess_in != NULL) {
		snprintf(in_path, sizeof(in_path), "%s/%s", tmpdir, sess_in);
		argv[n++] = "-sess_in";
		argv[n++] = in_path;
	}
	if (sess_out != NULL) {
		snprintf(out_path, sizeof(out_path), "%s/%s", tmpdir, sess_out);
		argv[n++] = "-sess_out";
		argv[n++] = out_path;
	}
	if (a1 != NULL) {
		argv[n++] = a1;
	}
	if (a2 != NULL) {
		argv[n++] = a2;
	}
	argv[n] = NULL;
	cr_assert_eq(child_start(&ch, openssl, (char *const *) argv), 0);
	while (child_line(&ch, line, sizeof(line), 10000) == 0) {
		size_t len = strlen(out.hs);
		if (strncmp(line, "New, TLSv", 9) == 0 && len < sizeof(out.hs) - 1) {
			out.hs[len] = 'N';
		} else if (strncmp(line, "Reused, TLSv", 12) == 0 &&
		    len < sizeof(out.hs) - 1) {
			out.hs[len] = 'R';
		}
		(void) sscanf(line, " TLS session ticket lifetime hint: %d", &out.hint);
		if (in_ticket) {
			unsigned b[4];
			if (sscanf(line, " 0000 - %x %x %x %x", &b[0], &b[1], &b[2], &b[3]) == 4) {
				snprintf(out.key, sizeof(out.key), "%02x%02x%02x%02x",
				    b[0], b[1], b[2], b[3]);
			}
		}
		in_ticket = strstr(line, "TLS session ticket:") != NULL;
	}
	cr_assert_eq(child_wait(&ch, 10000), 0, "s_client failed");
	return (out);
}

static void
need_openssl(void)
{
	if (!program_in_path("openssl", openssl, sizeof(openssl))) {
		cr_skip_test("the openssl program is not installed");
	}
}

Test(tls_resume, tickets_resume_openssl_reconnect)
{
	nghttpw_tls_config *cfg = server_config();
	tls_test_server    sv;
	s_client_out        o;

	need_openssl();
	tls_test_server_start(&sv, cfg, false);
	o = s_client(sv.port, NULL, NULL, "-reconnect", NULL);
	cr_assert_str_eq(o.hs, "NRRRRR", "handshakes: %s", o.hs);
	/* The default lifetime, which ticket keys rotate at. */
	cr_assert_eq(o.hint, 3600, "ticket lifetime hint %d", o.hint);
	tls_test_server_stop(&sv);
	nghttpw_tls_config_free(cfg);
}

Test(tls_resume, session_ids_resume_openssl_reconnect)
{
	nghttpw_tls_config *cfg = server_config();
	tls_test_server    sv;
	s_client_out        o;

	need_openssl();
	tls_test_server_start(&sv, cfg, false);
	o = s_client(sv.port, NULL, NULL, "-reconnect", "-no_ticket");
	cr_assert_str_eq(o.hs, "NRRRRR", "handshakes: %s", o.hs);
	tls_test_server_stop(&sv);
	nghttpw_tls_config_free(cfg);
}

/* 0 entries: no session-ID cache, tickets still resume. */
Test(tls_resume, no_cache_leaves_tickets)
{
	nghttpw_tls_config *cfg = server_config();
	tls_test_server    sv;
	s_client_out        o;

	need_openssl();
	cr_assert_eq(nghttpw_tls_config_session_cache(cfg, 0, NGHTTPW_DURATION_DEFAULT), 0);
	tls_test_server_start(&sv, cfg, false);
	o = s_client(sv.port, NULL, NULL, "-reconnect", "-no_ticket");
	cr_assert_str_eq(o.hs, "NNNNNN", "handshakes: %s", o.hs);
	o = s_client(sv.port, NULL, NULL, "-reconnect", NULL);
	cr_assert_str_eq(o.hs, "NRRRRR", "handshakes: %s", o.hs);
	tls_test_server_stop(&sv);
	nghttpw_tls_config_free(cfg);
}

/* The cache and the ticket keys belong to the configuration: a session
 * made on one listener resumes on another that uses it. */
Test(tls_resume, listeners_of_a_config_share_sessions)
{
	nghttpw_tls_config *cfg = server_config();
	tls_test_server    a, b;
	s_client_out        o;

	need_openssl();
	tls_test_server_start(&a, cfg, false);
	tls_test_server_start(&b, cfg, false);
	o = s_client(a.port, NULL, "id", "-no_ticket", NULL);
	cr_assert_str_eq(o.hs, "N");
	o = s_client(a.port, NULL, "ticket", NULL, NULL);
	cr_assert_str_eq(o.hs, "N");
	o = s_client(b.port, "id", NULL, "-no_ticket", NULL);
	cr_assert_str_eq(o.hs, "R", "session ID on the other listener: %s", o.hs);
	o = s_client(b.port, "ticket", NULL, NULL, NULL);
	cr_assert_str_eq(o.hs, "R", "ticket on the other listener: %s", o.hs);
	tls_test_server_stop(&a);
	tls_test_server_stop(&b);
	nghttpw_tls_config_free(cfg);
}

/* With room for 3 sessions, a 4th evicts the oldest. */
Test(tls_resume, cache_bound_evicts_oldest)
{
	nghttpw_tls_config *cfg = server_config();
	tls_test_server    sv;
	s_client_out        o;
	char                name[16];

	need_openssl();
	cr_assert_eq(nghttpw_tls_config_session_cache(cfg, 3, NGHTTPW_DURATION_DEFAULT), 0);
	tls_test_server_start(&sv, cfg, false);
	for (int i = 1; i <= 4; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		o = s_client(sv.port, NULL, name, "-no_ticket", NULL);
		cr_assert_str_eq(o.hs, "N", "session %d: %s", i, o.hs);
	}
	/* Resuming adds nothing to the cache, so the order holds. */
	for (int i = 2; i <= 4; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		o = s_client(sv.port, name, NULL, "-no_ticket", NULL);
		cr_assert_str_eq(o.hs, "R", "session %d: %s", i, o.hs);
	}
	o = s_client(sv.port, "s1", NULL, "-no_ticket", NULL);
	cr_assert_str_eq(o.hs, "N", "evicted session 1: %s", o.hs);
	tls_test_server_stop(&sv);
	nghttpw_tls_config_free(cfg);
}

/* A 3 s lifetime: a session is refused once older than that, by ticket
 * (whose key has rotated meanwhile) as by ID, and a fresh one resumes.
 * mbedTLS counts whole seconds and refuses a session more than 3 s old:
 * each fresh one is resumed at once, and 4.2 s later is surely too old. */
Test(tls_resume, lifetime_expires_and_keys_rotate)
{
	nghttpw_tls_config *cfg = server_config();
	tls_test_server    sv;
	s_client_out        o;
	char                key1[9];

	need_openssl();
	cr_assert_eq(nghttpw_tls_config_session_cache(cfg, 100, 3000), 0);
	tls_test_server_start(&sv, cfg, false);
	o = s_client(sv.port, NULL, "t1", NULL, NULL);
	cr_assert_str_eq(o.hs, "N");
	cr_assert_eq(o.hint, 3, "ticket lifetime hint %d", o.hint);
	cr_assert_str_neq(o.key, "", "no ticket seen");
	strcpy(key1, o.key);
	o = s_client(sv.port, NULL, NULL, NULL, NULL);
	cr_assert_str_eq(o.key, key1, "a second key within the lifetime");
	o = s_client(sv.port, "t1", NULL, NULL, NULL);
	cr_assert_str_eq(o.hs, "R", "fresh ticket: %s", o.hs);
	o = s_client(sv.port, NULL, "i1", "-no_ticket", NULL);
	cr_assert_str_eq(o.hs, "N");
	o = s_client(sv.port, "i1", NULL, "-no_ticket", NULL);
	cr_assert_str_eq(o.hs, "R", "fresh session ID: %s", o.hs);

	nghttpw_msleep(4200);
	o = s_client(sv.port, "t1", "t2", NULL, NULL);
	cr_assert_str_eq(o.hs, "N", "expired ticket: %s", o.hs);
	cr_assert_str_neq(o.key, "", "no ticket seen");
	cr_assert_str_neq(o.key, key1, "the ticket key did not rotate");
	o = s_client(sv.port, "t2", NULL, NULL, NULL);
	cr_assert_str_eq(o.hs, "R", "ticket under the new key: %s", o.hs);
	o = s_client(sv.port, "i1", "i2", "-no_ticket", NULL);
	cr_assert_str_eq(o.hs, "N", "expired session ID: %s", o.hs);
	o = s_client(sv.port, "i2", NULL, "-no_ticket", NULL);
	cr_assert_str_eq(o.hs, "R", "new session ID: %s", o.hs);
	tls_test_server_stop(&sv);
	nghttpw_tls_config_free(cfg);
}

/* A client of the test CA; tickets: whether it asks for them. */
static nghttpw_tls_config *
client_config(bool tickets)
{
	nghttpw_tls_config *cfg;

	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_CLIENT), 0);
	cr_assert_eq(nghttpw_tls_config_ca_chain(cfg, tls_test_certs_get()->ca_cert, NULL), 0);
	if (!tickets) {
		mbedtls_ssl_conf_session_tickets(
		    &cfg->conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
	}
	return (cfg);
}

/* One dial to our server: whether it resumed. */
static bool
dial_resumed(nghttpw_stream_dialer *d)
{
	nghttpw_aio    *aio;
	nghttpw_stream *c;
	bool            r = false;

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, WAIT_MS);
	nghttpw_stream_dialer_dial(d, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0, "dial: %s",
	    nghttpw_strerror(nghttpw_aio_result(aio)));
	c = nghttpw_aio_get_output(aio, 0);
	cr_assert_eq(nghttpw_stream_get_bool(c, NGHTTPW_OPT_TLS_RESUMED, &r), 0);
	nghttpw_stream_free(c);
	nghttpw_aio_free(aio);
	return (r);
}

static nghttpw_stream_dialer *
dialer(int port, nghttpw_tls_config *cfg)
{
	nghttpw_stream_dialer *d;
	char                   url[64];

	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", port);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, url), 0);
	cr_assert_eq(nghttpw_stream_dialer_set_ptr(d, NGHTTPW_OPT_TLS_CONFIG, cfg), 0);
	return (d);
}

/* Our dialer, with tickets off, resumes by session ID: how many of 4
 * dials did (the first cannot). */
static int
dialer_resumptions(size_t entries)
{
	nghttpw_tls_config    *scfg = server_config();
	nghttpw_tls_config    *ccfg = client_config(false);
	nghttpw_stream_dialer *d;
	tls_test_server       sv;
	int                    resumed = 0;

	cr_assert_eq(nghttpw_tls_config_session_cache(scfg, entries, NGHTTPW_DURATION_DEFAULT), 0);
	tls_test_server_start(&sv, scfg, false);
	d = dialer(sv.port, ccfg);
	cr_assert_not(dial_resumed(d), "the first dial resumed");
	for (int i = 1; i < 4; i++) {
		resumed += dial_resumed(d);
	}
	nghttpw_stream_dialer_free(d);
	tls_test_server_stop(&sv);
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
	return (resumed);
}

Test(tls_resume, our_dialer_resumes_by_session_id)
{
	cr_assert_eq(dialer_resumptions(10), 3);
	/* And not when the server keeps no cache. */
	cr_assert_eq(dialer_resumptions(0), 0);
}

Test(tls_resume, session_cache_rules)
{
	nghttpw_tls_config *scfg = server_config();
	nghttpw_tls_config    *ccfg;
	nghttpw_stream_dialer *d;
	tls_test_server       sv;

	cr_assert_eq(nghttpw_tls_config_session_cache(NULL, 1, 1000), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_tls_config_session_cache(scfg, 1, 0), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_tls_config_session_cache(scfg, 1, -5), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_tls_config_session_cache(scfg, 1, NGHTTPW_DURATION_INFINITE),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_tls_config_session_cache(scfg, (size_t) INT_MAX + 1, 1000),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_tls_config_session_cache(scfg, 1, 1), 0);
	cr_assert_eq(nghttpw_tls_config_alloc(&ccfg, NGHTTPW_TLS_MODE_CLIENT), 0);
	cr_assert_eq(nghttpw_tls_config_session_cache(ccfg, 1, 1000), NGHTTPW_EINVAL);
	nghttpw_tls_config_free(ccfg);
	/* Read-only once a connection has used it. */
	tls_test_server_start(&sv, scfg, false);
	ccfg = client_config(true);
	d    = dialer(sv.port, ccfg);
	cr_assert_not(dial_resumed(d));
	nghttpw_stream_dialer_free(d);
	nghttpw_tls_config_free(ccfg);
	cr_assert_eq(nghttpw_tls_config_session_cache(scfg, 1, 1000), NGHTTPW_EBUSY);
	tls_test_server_stop(&sv);
	nghttpw_tls_config_free(scfg);
}

#else /* !NGHTTPW_HAVE_TLS */

#include <criterion/criterion.h>

Test(tls_resume, not_built)
{
	cr_skip_test("nghttpw was built without TLS");
}

#endif
