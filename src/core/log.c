/* Logging, as nng 1.9 and later have it: a level, a default facility and
 * one logger for the whole process, and three loggers to choose from.
 * The settings are atomics: a program may change them while other threads
 * log. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "nghttpw/nghttpw.h"

/* nng formats into this much; longer messages are cut. */
#define LOG_MSG_MAX 512

static atomic_int               log_level    = NGHTTPW_LOG_NOTICE;
static atomic_int               log_facility = NGHTTPW_LOG_USER;
static _Atomic(nghttpw_logger)  log_logger   = nghttpw_null_logger;

void
nghttpw_log_set_facility(nghttpw_log_facility facility)
{
	atomic_store(&log_facility, (int) facility);
}

void
nghttpw_log_set_level(nghttpw_log_level level)
{
	atomic_store(&log_level, (int) level);
}

nghttpw_log_level
nghttpw_log_get_level(void)
{
	return ((nghttpw_log_level) atomic_load(&log_level));
}

void
nghttpw_log_set_logger(nghttpw_logger logger)
{
	atomic_store(&log_logger, logger != NULL ? logger : nghttpw_null_logger);
}

void
nghttpw_null_logger(nghttpw_log_level level, nghttpw_log_facility facility,
    const char *msgid, const char *msg)
{
	(void) level;
	(void) facility;
	(void) msgid;
	(void) msg;
}

/* What nng's stderr logger shows for a level, and in which colour. */
static const char *
level_name(nghttpw_log_level level, const char **sgr)
{
	switch (level) {
	case NGHTTPW_LOG_ERR:
		*sgr = "\x1b[31m"; /* red */
		return ("ERROR");
	case NGHTTPW_LOG_WARN:
		*sgr = "\x1b[33m"; /* yellow */
		return ("WARN");
	case NGHTTPW_LOG_NOTICE:
		*sgr = "\x1b[1m"; /* bold */
		return ("NOTICE");
	case NGHTTPW_LOG_INFO:
		*sgr = "";
		return ("INFO");
	case NGHTTPW_LOG_DEBUG:
		*sgr = "\x1b[36m"; /* cyan */
		return ("DEBUG");
	default:
		*sgr = "";
		return ("NONE");
	}
}

/* Colour only on a terminal that says what it is, and never when the
 * user asks for none (no-color.org, or for this library alone). */
static bool
stderr_colors(void)
{
	const char *term = getenv("TERM");

	return (isatty(STDERR_FILENO) && term != NULL && term[0] != '\0' &&
	    getenv("NO_COLOR") == NULL && getenv("NGHTTPW_LOG_NO_COLOR") == NULL);
}

static void
stderr_line(nghttpw_log_level level, const struct tm *tm, long ms,
    const char *msgid, const char *msg)
{
	const char *sgr;
	const char *name = level_name(level, &sgr);
	bool        colors = stderr_colors() && sgr[0] != '\0';
	size_t      len    = strlen(msg);
	char        when[16];

	strftime(when, sizeof(when), "%H:%M:%S", tm);
	fprintf(stderr, "%s[%-6s]: %s.%03ld: %s%s%s%s%s", colors ? sgr : "", name,
	    when, ms, msgid != NULL ? msgid : "", msgid != NULL ? ": " : "", msg,
	    colors ? "\x1b[0m" : "", len > 0 && msg[len - 1] == '\n' ? "" : "\n");
}

/* The lines give only the time of day, so, as nng's does, the logger says
 * when the date changes (and the date of its first line), whatever the
 * level.  The lock also keeps lines whole. */
static pthread_mutex_t stderr_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct tm       stderr_last_day;

void
nghttpw_stderr_logger(nghttpw_log_level level, nghttpw_log_facility facility,
    const char *msgid, const char *msg)
{
	struct timespec ts;
	struct tm       tm;
	time_t          now;

	(void) facility;
	clock_gettime(CLOCK_REALTIME, &ts);
	now = ts.tv_sec;
	localtime_r(&now, &tm);
	pthread_mutex_lock(&stderr_mtx);
	if (tm.tm_mday != stderr_last_day.tm_mday ||
	    tm.tm_mon != stderr_last_day.tm_mon ||
	    tm.tm_year != stderr_last_day.tm_year) {
		char day[64];
		strftime(day, sizeof(day), "Date changed to %Y-%m-%d, TZ is %z", &tm);
		stderr_line(NGHTTPW_LOG_DEBUG, &tm, ts.tv_nsec / 1000000,
		    "NGHTTPW-DATE", day);
		stderr_last_day = tm;
	}
	stderr_line(level, &tm, ts.tv_nsec / 1000000, msgid, msg);
	pthread_mutex_unlock(&stderr_mtx);
}

static int
syslog_priority(nghttpw_log_level level, nghttpw_log_facility facility)
{
	static const int levels[] = {
		[NGHTTPW_LOG_ERR] = LOG_ERR,
		[NGHTTPW_LOG_WARN] = LOG_WARNING,
		[NGHTTPW_LOG_NOTICE] = LOG_NOTICE,
		[NGHTTPW_LOG_INFO] = LOG_INFO,
		[NGHTTPW_LOG_DEBUG] = LOG_DEBUG,
	};
	int pri = LOG_INFO;

	if (level >= NGHTTPW_LOG_ERR && level <= NGHTTPW_LOG_DEBUG) {
		pri = levels[level];
	}
	switch (facility) {
	case NGHTTPW_LOG_USER:
		return (pri | LOG_USER);
	case NGHTTPW_LOG_DAEMON:
		return (pri | LOG_DAEMON);
	case NGHTTPW_LOG_AUTH:
		return (pri | LOG_AUTHPRIV);
	default:
		if (facility >= NGHTTPW_LOG_LOCAL0 && facility <= NGHTTPW_LOG_LOCAL7) {
			/* syslog's LOCAL0 to LOCAL7 are consecutive too. */
			return (pri | (LOG_LOCAL0 + ((int) facility - NGHTTPW_LOG_LOCAL0) * 8));
		}
		return (pri); /* openlog's facility */
	}
}

void
nghttpw_system_logger(nghttpw_log_level level, nghttpw_log_facility facility,
    const char *msgid, const char *msg)
{
	int pri = syslog_priority(level, facility);

	if (msgid != NULL) {
		syslog(pri, "%s: %s", msgid, msg);
	} else {
		syslog(pri, "%s", msg);
	}
}

static nghttpw_log_facility
log_facility_now(void)
{
	return ((nghttpw_log_facility) atomic_load(&log_facility));
}

/* Nothing at syslog's emergency levels (NONE and below), nothing when the
 * level is NONE, and nothing to format for the null logger. */
bool
log_wants(nghttpw_log_level level)
{
	return ((int) level > NGHTTPW_LOG_NONE &&
	    (int) level <= atomic_load(&log_level) &&
	    atomic_load(&log_logger) != nghttpw_null_logger);
}

static void
log_v(nghttpw_log_level level, nghttpw_log_facility facility,
    const char *msgid, const char *msg, va_list ap)
{
	char text[LOG_MSG_MAX];

	/* Nothing for the kernel's facility (0). */
	if (!log_wants(level) || facility == 0) {
		return;
	}
	vsnprintf(text, sizeof(text), msg, ap);
	atomic_load(&log_logger)(level, facility, msgid, text);
}

void
nghttpw_log_err(const char *msgid, const char *msg, ...)
{
	va_list ap;

	va_start(ap, msg);
	log_v(NGHTTPW_LOG_ERR, log_facility_now(), msgid, msg, ap);
	va_end(ap);
}

void
nghttpw_log_warn(const char *msgid, const char *msg, ...)
{
	va_list ap;

	va_start(ap, msg);
	log_v(NGHTTPW_LOG_WARN, log_facility_now(), msgid, msg, ap);
	va_end(ap);
}

void
nghttpw_log_notice(const char *msgid, const char *msg, ...)
{
	va_list ap;

	va_start(ap, msg);
	log_v(NGHTTPW_LOG_NOTICE, log_facility_now(), msgid, msg, ap);
	va_end(ap);
}

void
nghttpw_log_info(const char *msgid, const char *msg, ...)
{
	va_list ap;

	va_start(ap, msg);
	log_v(NGHTTPW_LOG_INFO, log_facility_now(), msgid, msg, ap);
	va_end(ap);
}

void
nghttpw_log_debug(const char *msgid, const char *msg, ...)
{
	va_list ap;

	va_start(ap, msg);
	log_v(NGHTTPW_LOG_DEBUG, log_facility_now(), msgid, msg, ap);
	va_end(ap);
}

void
nghttpw_log_auth(
    nghttpw_log_level level, const char *msgid, const char *msg, ...)
{
	va_list ap;

	va_start(ap, msg);
	log_v(level, NGHTTPW_LOG_AUTH, msgid, msg, ap);
	va_end(ap);
}
