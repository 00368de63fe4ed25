/* nng's logging calls under their nghttpw names: what reaches a logger of
 * the program's own, at which level and facility, and the stderr
 * logger's lines as nng writes them. */
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "nghttpw/nghttpw.h"

typedef struct {
	nghttpw_log_level    level;
	nghttpw_log_facility facility;
	char                 msgid[32];
	char                 msg[600];
	bool                 null_msgid;
} record;

static record got[16];
static int    ngot;

static void
keep_logger(nghttpw_log_level level, nghttpw_log_facility facility,
    const char *msgid, const char *msg)
{
	record *r = &got[ngot++];

	r->level      = level;
	r->facility   = facility;
	r->null_msgid = msgid == NULL;
	snprintf(r->msgid, sizeof(r->msgid), "%s", msgid != NULL ? msgid : "");
	snprintf(r->msg, sizeof(r->msg), "%s", msg);
}

static void
log_each_level(void)
{
	nghttpw_log_debug("D", "debug %d", 7);
	nghttpw_log_info("I", "info %s", "x");
	nghttpw_log_notice("N", "notice");
	nghttpw_log_warn("W", "warn");
	nghttpw_log_err("E", "err");
}

Test(log, defaults_are_nngs)
{
	cr_assert_eq(nghttpw_log_get_level(), NGHTTPW_LOG_NOTICE);
	/* The default logger drops everything: nothing reaches ours until it
	 * is set. */
	log_each_level();
	nghttpw_log_set_logger(keep_logger);
	log_each_level();
	cr_assert_eq(ngot, 3); /* notice, warn, err */
	cr_assert_eq(got[0].level, NGHTTPW_LOG_NOTICE);
	cr_assert_eq(got[0].facility, NGHTTPW_LOG_USER);
}

Test(log, logger_gets_messages_at_or_above_the_level_only)
{
	nghttpw_log_set_logger(keep_logger);
	nghttpw_log_set_level(NGHTTPW_LOG_WARN);
	log_each_level();
	cr_assert_eq(ngot, 2);
	cr_assert_eq(got[0].level, NGHTTPW_LOG_WARN);
	cr_assert_str_eq(got[0].msgid, "W");
	cr_assert_eq(got[1].level, NGHTTPW_LOG_ERR);

	ngot = 0;
	nghttpw_log_set_level(NGHTTPW_LOG_DEBUG);
	cr_assert_eq(nghttpw_log_get_level(), NGHTTPW_LOG_DEBUG);
	log_each_level();
	cr_assert_eq(ngot, 5);
	cr_assert_eq(got[0].level, NGHTTPW_LOG_DEBUG);
	cr_assert_str_eq(got[0].msg, "debug 7");
	cr_assert_str_eq(got[1].msg, "info x");

	ngot = 0;
	nghttpw_log_set_level(NGHTTPW_LOG_NONE);
	log_each_level();
	nghttpw_log_auth(NGHTTPW_LOG_ERR, "A", "auth");
	cr_assert_eq(ngot, 0);
}

Test(log, facility_and_auth)
{
	nghttpw_log_set_logger(keep_logger);
	nghttpw_log_set_facility(NGHTTPW_LOG_LOCAL3);
	nghttpw_log_err(NULL, "no id");
	nghttpw_log_auth(NGHTTPW_LOG_WARN, "AUTH1", "user %s refused", "bob");
	nghttpw_log_auth(NGHTTPW_LOG_DEBUG, "AUTH2", "below the level");
	cr_assert_eq(ngot, 2);
	cr_assert_eq(got[0].facility, NGHTTPW_LOG_LOCAL3);
	cr_assert(got[0].null_msgid);
	cr_assert_eq(got[1].facility, NGHTTPW_LOG_AUTH);
	cr_assert_eq(got[1].level, NGHTTPW_LOG_WARN);
	cr_assert_str_eq(got[1].msg, "user bob refused");
}

/* NULL puts the null logger back; a long message is cut, as nng's is. */
Test(log, null_logger_back_and_long_messages_cut)
{
	char long_text[2000];

	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	nghttpw_log_set_logger(keep_logger);
	nghttpw_log_err("L", "%s", long_text);
	cr_assert_eq(ngot, 1);
	cr_assert_eq(strlen(got[0].msg), 511);
	nghttpw_log_set_logger(NULL);
	nghttpw_log_err("L", "dropped");
	cr_assert_eq(ngot, 1);
}

/* Runs f with stderr going to a file, and puts what it wrote in out. */
static void
capture_stderr_into(void (*f)(void), char *out, size_t cap)
{
	FILE  *tmp   = tmpfile();
	int    saved = dup(STDERR_FILENO);
	size_t n;

	cr_assert_not_null(tmp);
	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	f();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n      = fread(out, 1, cap - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
}

static char *
capture_stderr(void (*f)(void))
{
	static char out[4096];

	capture_stderr_into(f, out, sizeof(out));
	return (out);
}

static void
stderr_lines(void)
{
	nghttpw_stderr_logger(NGHTTPW_LOG_WARN, NGHTTPW_LOG_USER, "ID", "first");
	nghttpw_stderr_logger(NGHTTPW_LOG_ERR, NGHTTPW_LOG_USER, NULL, "no id\n");
	nghttpw_stderr_logger(NGHTTPW_LOG_INFO, NGHTTPW_LOG_AUTH, "X", "info");
}

Test(log, stderr_logger_writes_nngs_lines)
{
	const char *want = "^"
	                   "\\[DEBUG \\]: [0-2][0-9]:[0-5][0-9]:[0-6][0-9]"
	                   "\\.[0-9]{3}: "
	                   "NGHTTPW-DATE: Date changed to "
	                   "[0-9]{4}-[01][0-9]-[0-3][0-9], TZ is [-+][0-9]{4}\n"
	                   "\\[WARN  \\]: [0-9:]{8}\\.[0-9]{3}: ID: first\n"
	                   "\\[ERROR \\]: [0-9:]{8}\\.[0-9]{3}: no id\n"
	                   "\\[INFO  \\]: [0-9:]{8}\\.[0-9]{3}: X: info\n"
	                   "$";
	regex_t re;
	char   *out;

	cr_assert_eq(regcomp(&re, want, REG_EXTENDED | REG_NOSUB), 0);
	out = capture_stderr(stderr_lines);
	cr_assert_eq(regexec(&re, out, 0, NULL, 0), 0, "got:\n%s", out);
	/* The date line comes once, not before every line. */
	out = capture_stderr(stderr_lines);
	cr_assert_null(strstr(out, "NGHTTPW-DATE"), "got:\n%s", out);
	regfree(&re);
}

enum { WRITERS = 4, LINES = 200 };

static void *
write_lines(void *arg)
{
	(void) arg;
	for (int i = 0; i < LINES; i++) {
		nghttpw_stderr_logger(NGHTTPW_LOG_NOTICE, NGHTTPW_LOG_USER,
		    "MIX", "one whole line of text from one of several threads");
	}
	return (NULL);
}

static void
many_writers(void)
{
	pthread_t t[WRITERS];

	for (int i = 0; i < WRITERS; i++) {
		pthread_create(&t[i], NULL, write_lines, NULL);
	}
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(t[i], NULL);
	}
}

/* Threads logging at once: every line comes out whole, none lost. */
Test(log, stderr_lines_from_threads_do_not_mix)
{
	static char out[WRITERS * LINES * 100];
	regex_t     re;
	int         lines = 0;

	cr_assert_eq(regcomp(&re,
	                 "^\\[NOTICE\\]: [0-9:]{8}\\.[0-9]{3}: MIX: one whole line "
	                 "of text from one of several threads$",
	                 REG_EXTENDED | REG_NOSUB),
	    0);
	capture_stderr_into(many_writers, out, sizeof(out));
	for (char *line = strtok(out, "\n"); line != NULL;
	     line       = strtok(NULL, "\n")) {
		if (strstr(line, "NGHTTPW-DATE") != NULL) {
			continue;
		}
		cr_assert_eq(regexec(&re, line, 0, NULL, 0), 0, "line: %s", line);
		lines++;
	}
	cr_assert_eq(lines, WRITERS * LINES);
	regfree(&re);
}

static atomic_int counted;

static void
count_logger(nghttpw_log_level level, nghttpw_log_facility facility,
    const char *msgid, const char *msg)
{
	(void) level;
	(void) facility;
	(void) msgid;
	(void) msg;
	atomic_fetch_add(&counted, 1);
}

static void *
log_a_lot(void *arg)
{
	(void) arg;
	for (int i = 0; i < 5000; i++) {
		nghttpw_log_warn("T", "message %d", i);
	}
	return (NULL);
}

/* The level and the logger change while threads log (TSan checks the
 * settings are read safely); messages reach the logger only while the
 * level lets them. */
Test(log, settings_change_while_threads_log)
{
	pthread_t t[WRITERS];

	nghttpw_log_set_logger(count_logger);
	nghttpw_log_set_level(NGHTTPW_LOG_NONE);
	for (int i = 0; i < WRITERS; i++) {
		pthread_create(&t[i], NULL, log_a_lot, NULL);
	}
	for (int i = 0; i < 200; i++) {
		nghttpw_log_set_level(i % 2 ? NGHTTPW_LOG_NONE : NGHTTPW_LOG_DEBUG);
		nghttpw_log_set_logger(i % 3 ? count_logger : NULL);
		nghttpw_log_set_facility(i % 2 ? NGHTTPW_LOG_USER : NGHTTPW_LOG_LOCAL1);
	}
	nghttpw_log_set_logger(count_logger);
	nghttpw_log_set_level(NGHTTPW_LOG_NONE);
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(t[i], NULL);
	}
	cr_assert_leq(atomic_load(&counted), WRITERS * 5000);
	atomic_store(&counted, 0);
	nghttpw_log_warn("T", "after");
	cr_assert_eq(atomic_load(&counted), 0);
}

static void
through_the_library(void)
{
	nghttpw_log_set_logger(nghttpw_stderr_logger);
	nghttpw_log_set_level(NGHTTPW_LOG_INFO);
	nghttpw_log_info("SRV", "listening on %s", "127.0.0.1:80");
	nghttpw_log_debug("SRV", "not shown");
}

Test(log, stderr_logger_set_as_the_logger)
{
	char *out = capture_stderr(through_the_library);

	cr_assert_not_null(strstr(out, "[INFO  ]: "), "got:\n%s", out);
	cr_assert_not_null(strstr(out, ": SRV: listening on 127.0.0.1:80\n"));
	cr_assert_null(strstr(out, "not shown"));
}

/* syslog's own copy on stderr (LOG_PERROR) shows what the system logger
 * hands it: "msgid: msg", or msg alone; every level and facility is
 * taken. */
static void
to_syslog(void)
{
	nghttpw_log_facility fac[] = { NGHTTPW_LOG_USER, NGHTTPW_LOG_DAEMON,
		NGHTTPW_LOG_AUTH, NGHTTPW_LOG_LOCAL0, NGHTTPW_LOG_LOCAL7 };

	openlog("nghttpw-log-test", LOG_PERROR | LOG_PID, LOG_USER);
	nghttpw_system_logger(NGHTTPW_LOG_WARN, NGHTTPW_LOG_USER, "ID", "with id");
	nghttpw_system_logger(NGHTTPW_LOG_ERR, NGHTTPW_LOG_DAEMON, NULL, "bare");
	for (size_t i = 0; i < sizeof(fac) / sizeof(fac[0]); i++) {
		for (int l = NGHTTPW_LOG_ERR; l <= NGHTTPW_LOG_DEBUG; l++) {
			nghttpw_system_logger(
			    (nghttpw_log_level) l, fac[i], "EACH", "level");
		}
	}
	closelog();
}

Test(log, system_logger_hands_syslog_the_message)
{
	char *out = capture_stderr(to_syslog);
	int   each = 0;

	cr_assert_not_null(strstr(out, ": ID: with id\n"), "got:\n%s", out);
	cr_assert_not_null(strstr(out, "]: bare\n"), "got:\n%s", out);
	for (const char *p = out; (p = strstr(p, "EACH: level")) != NULL; p++) {
		each++;
	}
	cr_assert_eq(each, 25);
}
