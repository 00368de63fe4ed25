/* WebSocket: the Autobahn|Testsuite fuzzingclient case families 1-7, 9 and
 * 10, rebuilt on Debian's python3-autobahn (tests/ws/autobahn_cases.py),
 * against our echo server.  tools/install-deps.sh installs the package. */
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

/* The cases autobahn_cases.py has (`autobahn_cases.py --list URL | wc -l`):
 * a run must pass at least these many. */
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

Test(ws_autobahn, fuzzingclient_cases_against_our_echo_server)
{
	ws_echo *e;
	int      port;
	char     url[64], line[1024];
	char    *argv[4];
	int      passed = -1, failed = -1;
	int      fails  = 0;

	cr_assert_eq(access(PYTHON, X_OK), 0, "no " PYTHON);
	cr_assert_eq(ws_echo_start("ws://127.0.0.1:0/echo", 64u << 20, &e, &port), 0);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/echo", port);
	argv[0] = "python3";
	argv[1] = SCRIPT;
	argv[2] = url;
	argv[3] = NULL;
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
	ws_echo_stop(e);
	cr_assert_neq(passed, -1, "no summary line from autobahn_cases.py");
	cr_assert_eq(failed, 0, "%d cases failed", failed);
	cr_assert_eq(fails, 0);
	cr_assert_geq(passed, AUTOBAHN_CASES, "only %d cases passed", passed);
}
