/* WebSocket: the Autobahn|Testsuite fuzzingclient case families 1-7, 9 and
 * 10, then 12 and 13 (permessage-deflate), rebuilt on Debian's
 * python3-autobahn (tests/ws/autobahn_cases.py), against our echo server.
 * tools/install-deps.sh installs the package. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "nghttpw/nghttpw.h"
#include "nghttpw/ws.h"
#include "support/child.h"
#include "support/ws_util.h"

#define SCRIPT NGHTTPW_SOURCE_DIR "/tests/ws/autobahn_cases.py"
#define PYTHON "/usr/bin/python3" /* Debian's, which sees its modules */

/* The cases of families 1-10 that autobahn_cases.py has
 * (`autobahn_cases.py --list URL --only 1 ... --only 10 | wc -l`): a run
 * must pass at least these many. */
#define AUTOBAHN_CASES 579

static child peer;

static void
peer_fini(void)
{
	if (peer.pid > 0) {
		child_stop(&peer, SIGKILL, 2000);
	}
}

TestSuite(ws_autobahn, .fini = peer_fini, .timeout = 240);

/* Runs autobahn_cases.py against url with the words of args (NULL-
 * terminated): every case it runs passes, and at least min of them. */
static void
run_cases(const char *url, const char *const *args, int min)
{
	char  line[1024];
	char *argv[128];
	int   n = 0, passed = -1, failed = -1, fails = 0;

	cr_assert_eq(access(PYTHON, X_OK), 0, "no " PYTHON);
	argv[n++] = "python3";
	argv[n++] = SCRIPT;
	argv[n++] = (char *) url;
	for (; *args != NULL && n < 127; args++) {
		argv[n++] = (char *) *args;
	}
	argv[n] = NULL;
	cr_assert_eq(child_start(&peer, PYTHON, argv), 0);
	/* A case is bounded at 20 s at most: a silence longer than that is
	 * a hung script. */
	while (child_line(&peer, line, sizeof(line), 60000) == 0) {
		cr_log_info("autobahn: %s", line);
		if (strncmp(line, "FAIL", 4) == 0) {
			fails++;
			cr_expect_fail("%s", line);
		}
		sscanf(line, "autobahn: %d passed, %d failed", &passed, &failed);
	}
	cr_expect_eq(child_wait(&peer, 10000), 0, "autobahn_cases.py failed");
	cr_assert_neq(passed, -1, "no summary line from autobahn_cases.py");
	cr_assert_eq(failed, 0, "%d cases failed", failed);
	cr_assert_eq(fails, 0);
	cr_assert_geq(passed, min, "only %d cases passed", passed);
}

Test(ws_autobahn, fuzzingclient_cases_against_our_echo_server)
{
	ws_echo *e;
	int      port;
	char     url[64];

	cr_assert_eq(ws_echo_start("ws://127.0.0.1:0/echo", 64u << 20, &e, &port), 0);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/echo", port);
	run_cases(url,
	    (const char *[]) { "--only", "1", "--only", "2", "--only", "3", "--only", "4",
	        "--only", "5", "--only", "6", "--only", "7", "--only", "9", "--only", "10",
	        NULL },
	    AUTOBAHN_CASES);
	ws_echo_stop(e);
}

/* ------------------------------------------------ 12, 13: compression */

/* An echo server as ws_util's, on a listener with permessage-deflate on
 * and a threshold of 0 (every message it sends back is compressed). */
#define PMD_ECHO_MAX (1u << 20)

/* The echo with deflate on, every message compressed (threshold 0). */
static ws_echo *pmd;

static int
pmd_start(void)
{
	nghttpw_stream_listener *l;
	int                      port;

	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "ws://127.0.0.1:0/echo"), 0);
	cr_assert_eq(nghttpw_stream_listener_set_bool(l, NGHTTPW_OPT_WS_DEFLATE, true), 0);
	cr_assert_eq(nghttpw_stream_listener_set_size(l, NGHTTPW_OPT_WS_DEFLATE_THRESHOLD, 0), 0);
	cr_assert_eq(ws_echo_serve(l, PMD_ECHO_MAX, &pmd, &port), 0);
	return (port);
}

static void
pmd_stop(void)
{
	if (pmd != NULL) {
		ws_echo_stop(pmd);
		pmd = NULL;
	}
}

static void
pmd_fini(void)
{
	peer_fini();
	pmd_stop();
}

/* Autobahn's 12.* (five kinds of payload, its default offer) and 13.*
 * (seven offers: server_no_context_takeover and server_max_window_bits 9
 * and 15 asked, alone, together, and three offers at once) have 18 cases
 * each, 1000 round trips apiece, of 16 bytes to 128 KiB: all 216 take
 * over seven minutes here, the 128 KiB ones 8 to 20 s each.  So a
 * representative subset: from each group of 12, 16 bytes and 1 KiB
 * whole and 4 KiB in frames of 256 (12.G.1, .4, .13), and 16 KiB whole
 * of text and of binary (12.1.7, 12.2.7); from each group of 13, 256
 * bytes whole and 4 KiB in frames of 256 (13.G.3, .13), and 4 KiB whole
 * with the three offers (13.7.5).  That is every group's offer and
 * payload, messages smaller and larger than the 512-byte window of 13's
 * 9 bits, whole and fragmented, in about 17 s (24 s under
 * ThreadSanitizer, which must stay well within ctest's 120 s for this
 * program with families 1-10).  Each case checks that
 * permessage-deflate was agreed as offered and that every echo came
 * back the same and compressed (--compressed-from 0).
 * NGHTTPW_AUTOBAHN_FULL=1 in the environment runs all 216 instead. */
#define PMD_CASES (5 * 3 + 2 + 7 * 2 + 1)

Test(ws_autobahn, compression_cases_12_13_against_our_deflate_echo_server, .fini = pmd_fini,
    .timeout = 900)
{
	static char ids[PMD_CASES][16];
	const char *args[2 * PMD_CASES + 3];
	char        url[64];
	int         n = 0, k = 0, accepted, agreed;

	for (int g = 1; g <= 5; g++) {
		static const int twelve[] = { 1, 4, 13 };
		for (size_t i = 0; i < sizeof(twelve) / sizeof(twelve[0]); i++) {
			snprintf(ids[k++], sizeof(ids[0]), "12.%d.%d", g, twelve[i]);
		}
	}
	snprintf(ids[k++], sizeof(ids[0]), "12.1.7");
	snprintf(ids[k++], sizeof(ids[0]), "12.2.7");
	for (int g = 1; g <= 7; g++) {
		static const int thirteen[] = { 3, 13 };
		for (size_t i = 0; i < sizeof(thirteen) / sizeof(thirteen[0]); i++) {
			snprintf(ids[k++], sizeof(ids[0]), "13.%d.%d", g, thirteen[i]);
		}
	}
	snprintf(ids[k++], sizeof(ids[0]), "13.7.5");
	cr_assert_eq(k, PMD_CASES);
	if (getenv("NGHTTPW_AUTOBAHN_FULL") != NULL) {
		/* All 216, by hand: over seven minutes. */
		static const char *full[] = { "--only", "12", "--only", "13" };
		memcpy(args, full, sizeof(full));
		n = 4;
		k = 216;
	} else {
		for (int i = 0; i < k; i++) {
			args[n++] = "--only";
			args[n++] = ids[i];
		}
	}
	args[n++] = "--compressed-from";
	args[n++] = "0";
	args[n]   = NULL;

	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/echo", pmd_start());
	run_cases(url, args, k);
	/* One connection a case, each with deflate agreed on our side too. */
	ws_echo_counts(pmd, &accepted, &agreed);
	cr_expect_eq(accepted, k);
	cr_expect_eq(agreed, k);
	pmd_stop();
}
