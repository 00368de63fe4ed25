/* The runner behind tests/support/tsan-runner/criterion/criterion.h: a
 * minimal replacement for Criterion's, for the ThreadSanitizer build.
 *
 * Each test runs in a forked child, one at a time, so that a crash, an
 * exit or a hang in one test does not stop the others.  The child's
 * verdict comes from its exit status (ThreadSanitizer makes a child that
 * reported a race exit with 66) and from a shared page where the
 * assertions note failures, skips and the last assertion reached.
 *
 * Options: --filter PATTERN (fnmatch(3) on "suite/name", also
 * --filter=PATTERN and CRITERION_TEST_PATTERN), --timeout SECONDS (a
 * limit for every test, as with Criterion: a test's own .timeout, or its
 * suite's, applies when shorter), --verbose, --list, --fail-fast,
 * --always-succeed, --help.  Anything else (such as --jobs 1) is ignored.
 * The output imitates Criterion's, ending with its Synthesis line. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* FNM_EXTMATCH */
#endif

#include <errno.h>
#include <fnmatch.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "criterion/criterion.h"

#if defined(__SANITIZE_THREAD__)
#define CRS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CRS_TSAN 1
#endif
#endif

#ifndef FNM_EXTMATCH
#define FNM_EXTMATCH 0
#endif

/* ------------------------------------------------------------ registry */

static struct crs_test  *tests;
static struct crs_suite *suites;

void
crs_register_test(struct crs_test *t)
{
	t->next = tests;
	tests   = t;
}

void
crs_register_suite(struct crs_suite *s)
{
	s->next = suites;
	suites  = s;
}

static const struct crs_opts *
suite_opts(const char *name)
{
	for (struct crs_suite *s = suites; s != NULL; s = s->next) {
		if (strcmp(s->name, name) == 0) {
			return (s->opts);
		}
	}
	return (NULL);
}

/* ------------------------------------------- state shared with a child */

#define SKIP_MSG_MAX 512

struct shared {
	atomic_int            failed; /* failed assertions */
	atomic_int            skipped;
	_Atomic(const char *) last_file; /* last assertion reached */
	atomic_int            last_line;
	atomic_int            sanitizer_died; /* not on the way out */
	char                  skip_msg[SKIP_MSG_MAX];
};

static struct shared *sh; /* MAP_SHARED, set up by main() */
static int            verbose;

/* In a child: its test (until its fini starts), the test's own thread,
 * and whether exit() has begun. */
static _Atomic(const struct crs_test *) cur;
static pthread_t                        cur_main;
static atomic_int                       exiting;

#ifdef CRS_TSAN
/* ThreadSanitizer turns a crash (SEGV and other deadly signals) into a
 * report and exit(66), the status it also gives after a race report at
 * exit.  Its death callback tells them apart: it runs for a crash while
 * the test is still going, for races only once exit() has begun. */
void __sanitizer_set_death_callback(void (*callback)(void));

static void
on_sanitizer_death(void)
{
	if (sh != NULL && !atomic_load(&exiting)) {
		atomic_store(&sh->sanitizer_died, 1);
	}
}
#endif

static void
on_exit_begin(void)
{
	atomic_store(&exiting, 1);
}

/* Writes all of buf to stderr in one go where possible, so that lines from
 * several threads do not mix. */
static void
put(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, buf, len);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return;
		}
		buf += n;
		len -= (size_t) n;
	}
}

static char *
vformat(const char *fmt, va_list ap)
{
	va_list ap2;
	char   *s;
	int     n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || (s = malloc((size_t) n + 1)) == NULL) {
		return (NULL);
	}
	vsnprintf(s, (size_t) n + 1, fmt, ap);
	return (s);
}

/* Prints "[tag] " + text, continuation lines indented, as one write. */
static void
say(const char *tag, const char *text)
{
	size_t lines = 1;
	for (const char *p = text; *p != '\0'; p++) {
		lines += (*p == '\n');
	}
	size_t len = strlen(text) + lines * (strlen(tag) + 12) + 1;
	char  *buf = malloc(len);
	if (buf == NULL) {
		put(text, strlen(text));
		put("\n", 1);
		return;
	}
	char *o = buf;
	o += sprintf(o, "[%s] ", tag);
	for (const char *p = text; *p != '\0'; p++) {
		*o++ = *p;
		if (*p == '\n') {
			o += sprintf(o, "[%s]   ", tag);
		}
	}
	*o++ = '\n';
	put(buf, (size_t) (o - buf));
	free(buf);
}

static void
sayf(const char *tag, const char *fmt, ...) CRS_PRINTF_(2, 3);

static void
sayf(const char *tag, const char *fmt, ...)
{
	va_list ap;
	char   *s;

	va_start(ap, fmt);
	s = vformat(fmt, ap);
	va_end(ap);
	say(tag, s != NULL ? s : fmt);
	free(s);
}

/* -------------------------------------------- called by the assertions */

char *
crs_format_(const char *fmt, ...)
{
	va_list ap;
	char   *s;

	va_start(ap, fmt);
	s = vformat(fmt, ap);
	va_end(ap);
	return (s);
}

void
crs_mark_(const char *file, int line)
{
	if (sh != NULL) {
		atomic_store_explicit(&sh->last_file, file, memory_order_relaxed);
		atomic_store_explicit(&sh->last_line, line, memory_order_relaxed);
	}
}

int
crs_strcmp_(const char *a, const char *b)
{
	if (a == NULL || b == NULL) {
		return (-2);
	}
	int c = strcmp(a, b);
	return ((c > 0) - (c < 0));
}

static bool
in_test_main_thread(void)
{
	return (atomic_load(&cur) != NULL &&
	    pthread_equal(pthread_self(), cur_main));
}

static void run_fini(void);

/* Ends the test from anywhere: in its own thread after its fini (like
 * Criterion), in any other thread at once.  exit() and _exit() both let
 * ThreadSanitizer turn the status into its exitcode after a report. */
static _Noreturn void
end_test(int status)
{
	if (in_test_main_thread()) {
		run_fini();
		exit(status);
	}
	atomic_store(&exiting, 1);
	_exit(status);
}

/* The n-th (from 0) top-level argument in text, an argument list as
 * written: its start, and its length in *len; NULL if there is none. */
static const char *
operand(const char *text, int n, size_t *len)
{
	const char *p = text, *start = text;
	int         depth = 0;

	for (;; p++) {
		char c = *p;
		if (c == '"' || c == '\'') {
			for (p++; *p != '\0' && *p != c; p++) {
				if (*p == '\\' && p[1] != '\0') {
					p++;
				}
			}
			if (*p == '\0') {
				return (NULL);
			}
		} else if (c == '(' || c == '[' || c == '{') {
			depth++;
		} else if (c == ')' || c == ']' || c == '}') {
			depth--;
		} else if ((c == ',' && depth == 0) || c == '\0') {
			if (n-- == 0) {
				while (*start == ' ') {
					start++;
				}
				*len = (size_t) (p - start);
				while (*len > 0 && start[*len - 1] == ' ') {
					(*len)--;
				}
				return (start);
			}
			if (c == '\0') {
				return (NULL);
			}
			start = p + 1;
		}
	}
}

/* deffmt with @1, @2, @3 replaced by the operands in text, their '%'
 * doubled so that the result is still a format for the same arguments. */
static char *
with_operands(const char *deffmt, const char *text)
{
	size_t size = strlen(deffmt) + 1;
	char  *out, *o;

	for (const char *p = deffmt; *p != '\0'; p++) {
		if (p[0] == '@' && p[1] >= '1' && p[1] <= '3') {
			size += 2 * strlen(text) + 16;
		}
	}
	if ((out = malloc(size)) == NULL) {
		return (NULL);
	}
	o = out;
	for (const char *p = deffmt; *p != '\0'; p++) {
		const char *a;
		size_t      len;
		if (p[0] == '@' && p[1] >= '1' && p[1] <= '3') {
			if ((a = operand(text, p[1] - '1', &len)) == NULL) {
				a   = "?";
				len = 1;
			}
			for (size_t i = 0; i < len; i++) {
				if (a[i] == '%') {
					*o++ = '%';
				}
				*o++ = a[i];
			}
			p++;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return (out);
}

static void
vfail(const char *file, int line, char *msg, const char *text,
    const char *deffmt, va_list ap)
{
	char *def = NULL;

	if (msg == NULL) {
		char *fmt = with_operands(deffmt, text);
		def       = vformat(fmt != NULL ? fmt : deffmt, ap);
		free(fmt);
	}
	sayf("----", "%s:%d: Assertion Failed: %s", file, line,
	    msg != NULL ? msg : def != NULL ? def : deffmt);
	free(msg);
	free(def);
	if (sh != NULL) {
		atomic_fetch_add(&sh->failed, 1);
	}
}

void
crs_fail_fatal_(const char *file, int line, char *msg, const char *text,
    const char *deffmt, ...)
{
	va_list ap;

	va_start(ap, deffmt);
	vfail(file, line, msg, text, deffmt, ap);
	va_end(ap);
	end_test(1);
}

void
crs_fail_soft_(const char *file, int line, char *msg, const char *text,
    const char *deffmt, ...)
{
	va_list ap;

	va_start(ap, deffmt);
	vfail(file, line, msg, text, deffmt, ap);
	va_end(ap);
}

void
crs_skip_(const char *file, int line, char *msg)
{
	(void) file;
	(void) line;
	if (sh != NULL && atomic_exchange(&sh->skipped, 1) == 0) {
		snprintf(sh->skip_msg, sizeof(sh->skip_msg), "%s",
		    msg != NULL ? msg : "Test was skipped");
	}
	free(msg);
	end_test(0);
}

void
crs_log_(enum crs_log_level lvl, const char *fmt, ...)
{
	va_list ap;
	char   *s;

	if (lvl == CRS_LOG_INFO && !verbose) {
		return;
	}
	va_start(ap, fmt);
	s = vformat(fmt, ap);
	va_end(ap);
	say(lvl == CRS_LOG_INFO       ? "----"
	        : lvl == CRS_LOG_WARN ? "WARN"
	                              : "ERR ",
	    s != NULL ? s : fmt);
	free(s);
}

/* ---------------------------------------------------------- the child */

static void
run_fini(void)
{
	/* Once only; an assertion failing in a fini then ends the test. */
	const struct crs_test *t = atomic_exchange(&cur, NULL);
	if (t == NULL) {
		return;
	}
	const struct crs_opts *so = suite_opts(t->suite);
	void                   (*tf)(void) = t->opts->fini;
	void                   (*sf)(void) = so != NULL ? so->fini : NULL;

	if (tf != NULL) {
		tf();
	}
	if (sf != NULL) {
		sf();
	}
}

static _Noreturn void
child(const struct crs_test *t, pid_t parent)
{
	const struct crs_opts *so = suite_opts(t->suite);

#ifdef __linux__
	/* Do not outlive a runner that was killed (a ctest timeout). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent) {
		_exit(1);
	}
#else
	(void) parent;
#endif
	cur_main = pthread_self();
	atomic_store(&cur, t);
	atexit(on_exit_begin);
#ifdef CRS_TSAN
	__sanitizer_set_death_callback(on_sanitizer_death);
#endif
	crs_mark_(t->file, t->line);
	if (so != NULL && so->init != NULL) {
		so->init();
	}
	if (t->opts->init != NULL) {
		t->opts->init();
	}
	t->fn();
	run_fini();
	exit(atomic_load(&sh->failed) != 0 ? 1 : 0);
}

/* --------------------------------------------------------- the parent */

enum verdict { PASSED, FAILED, CRASHED, SKIPPED };

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double) ts.tv_sec + (double) ts.tv_nsec / 1e9);
}

static void
nap(double s)
{
	struct timespec ts;
	ts.tv_sec  = (time_t) s;
	ts.tv_nsec = (long) ((s - (double) ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

static enum verdict
run_one(const struct crs_test *t, double default_timeout)
{
	const struct crs_opts *so = suite_opts(t->suite);
	const struct crs_opts *o  = t->opts;
	double                 timeout = o->timeout;
	double                 start, took, step = 0.001;
	int                    status  = 0;
	bool                   timed_out = false;
	pid_t                  pid;

	if (timeout <= 0 && so != NULL) {
		timeout = so->timeout;
	}
	/* Like Criterion, --timeout can shorten a test's own limit. */
	if (default_timeout > 0 && (timeout <= 0 || default_timeout < timeout)) {
		timeout = default_timeout;
	}
	if (o->disabled || (so != NULL && so->disabled)) {
		sayf("SKIP", "%s::%s: Test is disabled", t->suite, t->name);
		return (SKIPPED);
	}
	if (verbose) {
		sayf("RUN ", "%s::%s", t->suite, t->name);
	}

	memset(sh, 0, sizeof(*sh));
	fflush(NULL); /* or the child would write our buffers again */
	start = now();
	pid_t parent = getpid();
	if ((pid = fork()) < 0) {
		sayf("----", "%s::%s: fork: %s", t->suite, t->name,
		    strerror(errno));
		return (FAILED);
	}
	if (pid == 0) {
		child(t, parent);
	}

	for (;;) {
		pid_t r;
		if (timeout > 0) {
			r = waitpid(pid, &status, WNOHANG);
		} else {
			r = waitpid(pid, &status, 0);
		}
		if (r == pid) {
			break;
		}
		if (r < 0 && errno != EINTR) {
			sayf("----", "%s::%s: waitpid: %s", t->suite, t->name,
			    strerror(errno));
			kill(pid, SIGKILL);
			return (FAILED);
		}
		if (r == 0) {
			double left = start + timeout - now();
			if (left <= 0) {
				kill(pid, SIGKILL);
				while (waitpid(pid, &status, 0) < 0 &&
				    errno == EINTR) {
				}
				timed_out = true;
				break;
			}
			nap(step < left ? step : left);
			step = step * 2 < 0.02 ? step * 2 : 0.02;
		}
	}
	took = now() - start;

	int         failed = atomic_load(&sh->failed);
	const char *lf     = atomic_load(&sh->last_file);
	int         ll     = atomic_load(&sh->last_line);

	if (timed_out) {
		sayf("FAIL", "%s::%s: Timed out. (%.2fs)", t->suite, t->name,
		    took);
		return (FAILED);
	}
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		if (o->signal != 0 && sig == o->signal && failed == 0) {
			goto passed;
		}
		if (lf != NULL) {
			sayf("----",
			    "%s:%d: Unexpected signal caught below this line!", lf,
			    ll);
		}
		sayf("FAIL", "%s::%s: CRASH! (signal %d, %s) (%.2fs)", t->suite,
		    t->name, sig, strsignal(sig), took);
		return (CRASHED);
	}
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	if (atomic_load(&sh->sanitizer_died) && code != o->exit_code) {
		/* A deadly signal, or any report with halt_on_error=1. */
		if (lf != NULL) {
			sayf("----", "%s:%d: ThreadSanitizer stopped the test "
			    "below this line!", lf, ll);
		}
		sayf("FAIL", "%s::%s: CRASH! (ThreadSanitizer stopped it "
		    "with status %d: see its report above) (%.2fs)", t->suite,
		    t->name, code, took);
		return (CRASHED);
	}
	if (failed == 0 && o->signal == 0 && code == o->exit_code) {
		if (atomic_load(&sh->skipped)) {
			sh->skip_msg[SKIP_MSG_MAX - 1] = '\0';
			sayf("SKIP", "%s::%s: %s", t->suite, t->name,
			    sh->skip_msg);
			return (SKIPPED);
		}
		goto passed;
	}
	if (failed == 0 || code != 1) {
		if (o->signal != 0) {
			sayf("----", "%s::%s: exited with status %d instead of "
			    "dying of signal %d", t->suite, t->name, code,
			    o->signal);
		} else {
			sayf("----", "%s::%s: exited with status %d, "
			    "expected %d", t->suite, t->name, code,
			    o->exit_code);
		}
#ifdef CRS_TSAN
		if (code == 66) {
			sayf("----", "%s::%s: (66 is ThreadSanitizer's "
			    "exitcode: see its report above)", t->suite,
			    t->name);
		}
#endif
	}
	sayf("FAIL", "%s::%s: (%.2fs)", t->suite, t->name, took);
	return (FAILED);

passed:
	if (verbose) {
		sayf("PASS", "%s::%s: (%.2fs)", t->suite, t->name, took);
	}
	return (PASSED);
}

static int
by_name(const void *a, const void *b)
{
	const struct crs_test *x = *(const struct crs_test *const *) a;
	const struct crs_test *y = *(const struct crs_test *const *) b;
	int                    c = strcmp(x->suite, y->suite);
	return (c != 0 ? c : strcmp(x->name, y->name));
}

static bool
wanted(const struct crs_test *t, const char *pattern)
{
	char   buf[512];
	size_t n;

	if (pattern == NULL) {
		return (true);
	}
	n = (size_t) snprintf(buf, sizeof(buf), "%s/%s", t->suite, t->name);
	if (n >= sizeof(buf)) {
		return (false);
	}
	return (fnmatch(pattern, buf, FNM_EXTMATCH) == 0);
}

static void
usage(const char *prog)
{
	fprintf(stderr,
	    "usage: %s [OPTIONS]\n"
	    "Criterion-like runner for the ThreadSanitizer build.\n"
	    "    --filter PATTERN  run the tests whose suite/name match\n"
	    "    --timeout S       time limit in seconds for every test\n"
	    "    --verbose         show every test and info logs\n"
	    "    -l, --list        list the tests\n"
	    "    -f, --fail-fast   stop after the first failure\n"
	    "    --always-succeed  exit 0 whatever happens\n"
	    "Other options (--jobs N ...) are ignored.\n",
	    prog);
}

/* The value of "--name VALUE" or "--name=VALUE" at argv[*i], or NULL. */
static const char *
opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t len = strlen(name);

	if (strncmp(argv[*i], name, len) != 0) {
		return (NULL);
	}
	if (argv[*i][len] == '=') {
		return (argv[*i] + len + 1);
	}
	if (argv[*i][len] == '\0' && *i + 1 < argc) {
		return (argv[++*i]);
	}
	return (NULL);
}

int
main(int argc, char **argv)
{
	const char *pattern        = getenv("CRITERION_TEST_PATTERN");
	double      timeout        = 0;
	bool        list           = false;
	bool        fail_fast      = false;
	bool        always_succeed = false;
	const char *v;

	for (int i = 1; i < argc; i++) {
		if ((v = opt_value(argc, argv, &i, "--filter")) != NULL) {
			pattern = v;
		} else if ((v = opt_value(argc, argv, &i, "--timeout")) !=
		    NULL) {
			char *end;
			timeout = strtod(v, &end);
			if (end == v || *end != '\0' || timeout < 0) {
				fprintf(stderr, "%s: bad --timeout '%s'\n",
				    argv[0], v);
				return (2);
			}
		} else if (strncmp(argv[i], "--verbose", 9) == 0) {
			verbose = 1;
		} else if (strcmp(argv[i], "-l") == 0 ||
		    strcmp(argv[i], "--list") == 0) {
			list = true;
		} else if (strcmp(argv[i], "-f") == 0 ||
		    strcmp(argv[i], "--fail-fast") == 0) {
			fail_fast = true;
		} else if (strcmp(argv[i], "--always-succeed") == 0) {
			always_succeed = true;
		} else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage(argv[0]);
			return (0);
		}
	}

	size_t n = 0, m = 0;
	for (struct crs_test *t = tests; t != NULL; t = t->next) {
		n++;
	}
	const struct crs_test **all = calloc(n + 1, sizeof(*all));
	if (all == NULL) {
		perror("calloc");
		return (2);
	}
	for (struct crs_test *t = tests; t != NULL; t = t->next) {
		if (wanted(t, pattern)) {
			all[m++] = t;
		}
	}
	qsort(all, m, sizeof(*all), by_name);

	if (list) {
		for (size_t i = 0; i < m; i++) {
			printf("%s::%s\n", all[i]->suite, all[i]->name);
		}
		free(all);
		return (0);
	}

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return (2);
	}

	if (verbose) {
		sayf("====", "Running %zu tests (ThreadSanitizer runner)", m);
	}
	unsigned tested = 0, passing = 0, failing = 0, crashing = 0;
	for (size_t i = 0; i < m; i++) {
		enum verdict r = run_one(all[i], timeout);
		if (r == SKIPPED) {
			continue;
		}
		tested++;
		if (r == PASSED) {
			passing++;
			continue;
		}
		failing++;
		crashing += (r == CRASHED);
		if (fail_fast) {
			break;
		}
	}
	sayf("====",
	    "Synthesis: Tested: %u | Passing: %u | Failing: %u | Crashing: %u ",
	    tested, passing, failing, crashing);
	free(all);
	munmap(sh, sizeof(*sh));
	return (failing == 0 || always_succeed ? 0 : 1);
}
