#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/programs.h"
#include "support/tinyproxy.h"
#include "support/tmp_dir.h"

static struct sockaddr_in
loopback(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port        = htons((uint16_t) port);
	return (sa);
}

/* A port that was free a moment ago: tinyproxy cannot be told to pick
 * one and say which. */
static int
free_port(void)
{
	struct sockaddr_in sa  = loopback(0);
	socklen_t          len = sizeof(sa);
	int                fd  = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
	close(fd);
	return (ntohs(sa.sin_port));
}

static bool
accepts(int port)
{
	struct sockaddr_in sa = loopback(port);
	int                fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0;

	if (fd >= 0) {
		close(fd);
	}
	return (ok);
}

void
tinyproxy_start(tinyproxy *p, bool auth, int connect_port)
{
	char  path[256];
	char  conf[300];
	FILE *f;

	memset(p, 0, sizeof(*p));
	if (!program_in_path("tinyproxy", path, sizeof(path))) {
		cr_skip_test("tinyproxy is not installed (tools/install-deps.sh)");
	}
	cr_assert_eq(tmp_dir_make(p->dir, sizeof(p->dir), "tinyproxy"), 0);
	snprintf(conf, sizeof(conf), "%s/conf", p->dir);
	snprintf(p->log, sizeof(p->log), "%s/log", p->dir);
	p->port = free_port();
	cr_assert_not_null(f = fopen(conf, "w"));
	/* LogLevel Connect logs each request line as it came. */
	fprintf(f,
	    "Port %d\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 10\n"
	    "LogLevel Connect\nLogFile \"%s\"\nMaxClients 20\n",
	    p->port, p->log);
	if (connect_port != 0) {
		fprintf(f, "ConnectPort %d\n", connect_port);
	}
	if (auth) {
		fprintf(f, "BasicAuth user pass\n");
	}
	fclose(f);
	char *argv[] = { path, "-d", "-c", conf, NULL };
	cr_assert_eq(child_start(&p->c, path, argv), 0);
	for (int i = 0; i < 500; i++) {
		if (accepts(p->port)) {
			return;
		}
		usleep(10000);
	}
	child_stop(&p->c, SIGKILL, 1000);
	cr_assert_fail("tinyproxy did not start on port %d", p->port);
}

void
tinyproxy_stop(tinyproxy *p)
{
	child_stop(&p->c, SIGTERM, 5000);
	tmp_dir_remove(p->dir);
}

const char *
tinyproxy_url(tinyproxy *p, const char *userinfo)
{
	snprintf(p->url, sizeof(p->url), "http://%s%s127.0.0.1:%d", userinfo,
	    userinfo[0] != '\0' ? "@" : "", p->port);
	return (p->url);
}

int
tinyproxy_log_count(tinyproxy *p, const char *what)
{
	FILE *f = fopen(p->log, "r");
	char  line[1024];
	int   n = 0;

	if (f == NULL) {
		return (0);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		n += strstr(line, what) != NULL;
	}
	fclose(f);
	return (n);
}
