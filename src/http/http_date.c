/* HTTP dates: IMF-fixdate out; IMF-fixdate, RFC 850 and asctime in. */
#include <stdio.h>
#include <string.h>

#include "http/http_date.h"

static const char wdays[7][4]   = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri",
	  "Sat" };
static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1..12). */
static int64_t
days_of_date(int64_t y, int m, int d)
{
	/* Count years from March, so that the leap day ends a year. */
	if (m <= 2) {
		y--;
	}
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int     mp  = (m + 9) % 12; /* March is 0 */
	int64_t doy = (153 * mp + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT" (29 bytes + NUL for years 1000 to 9999). */
void
http_date_format(time_t t, char buf[HTTP_DATE_SIZE])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(buf, HTTP_DATE_SIZE, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    wdays[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

const char *
http_date_now(size_t *lenp)
{
	/* Per thread, so no lock: each I/O thread formats once a second. */
	static _Thread_local struct {
		time_t t;
		size_t len;
		char   s[HTTP_DATE_SIZE];
	} cache;
	time_t now = time(NULL);

	if (cache.len == 0 || cache.t != now) {
		http_date_format(now, cache.s);
		cache.t   = now;
		cache.len = strlen(cache.s);
	}
	*lenp = cache.len;
	return cache.s;
}

static bool
take_digits(const char **sp, int n, int *v)
{
	const char *s = *sp;
	int         x = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
		x = x * 10 + (s[i] - '0');
	}
	*v  = x;
	*sp = s + n;
	return true;
}

static bool
take_lit(const char **sp, const char *lit)
{
	size_t n = strlen(lit);
	if (strncmp(*sp, lit, n) != 0) {
		return false;
	}
	*sp += n;
	return true;
}

static bool
take_month(const char **sp, int *m)
{
	for (int i = 0; i < 12; i++) {
		if (strncmp(*sp, months[i], 3) == 0) {
			*m = i + 1;
			*sp += 3;
			return true;
		}
	}
	return false;
}

static bool
take_time(const char **sp, int *h, int *mi, int *s)
{
	return take_digits(sp, 2, h) && take_lit(sp, ":") &&
	    take_digits(sp, 2, mi) && take_lit(sp, ":") && take_digits(sp, 2, s);
}

/* Parses an HTTP-date in any of its three forms (RFC 9110, 5.6.7):
 * "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT" and
 * "Sun Nov  6 08:49:37 1994".  The day name is not checked against the
 * date.  Surrounding white space is allowed. */
bool
http_date_parse(const char *s, int64_t *tp)
{
	int d, m, y, h, mi, sec;

	while (*s == ' ' || *s == '\t') {
		s++;
	}
	const char *name = s;
	while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) {
		s++;
	}
	size_t nlen = (size_t) (s - name);
	if (nlen == 3 && *s == ',') { /* IMF-fixdate */
		s++;
		if (!take_lit(&s, " ") || !take_digits(&s, 2, &d) ||
		    !take_lit(&s, " ") || !take_month(&s, &m) ||
		    !take_lit(&s, " ") || !take_digits(&s, 4, &y) ||
		    !take_lit(&s, " ") || !take_time(&s, &h, &mi, &sec) ||
		    !take_lit(&s, " GMT")) {
			return false;
		}
	} else if (nlen > 3 && *s == ',') { /* obsolete RFC 850 */
		s++;
		if (!take_lit(&s, " ") || !take_digits(&s, 2, &d) ||
		    !take_lit(&s, "-") || !take_month(&s, &m) ||
		    !take_lit(&s, "-") || !take_digits(&s, 2, &y) ||
		    !take_lit(&s, " ") || !take_time(&s, &h, &mi, &sec) ||
		    !take_lit(&s, " GMT")) {
			return false;
		}
		/* Two-digit years: the most recent past year with those digits
		 * unless that is more than 50 years ago. */
		time_t    now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		int cur = tm.tm_year + 1900;
		y += cur - cur % 100;
		if (y > cur + 50) {
			y -= 100;
		} else if (y < cur - 50) {
			y += 100;
		}
	} else if (nlen == 3 && *s == ' ') { /* obsolete asctime */
		s++;
		if (!take_month(&s, &m) || !take_lit(&s, " ")) {
			return false;
		}
		if (*s == ' ') {
			s++;
			if (!take_digits(&s, 1, &d)) {
				return false;
			}
		} else if (!take_digits(&s, 2, &d)) {
			return false;
		}
		if (!take_lit(&s, " ") || !take_time(&s, &h, &mi, &sec) ||
		    !take_lit(&s, " ") || !take_digits(&s, 4, &y)) {
			return false;
		}
	} else {
		return false;
	}
	while (*s == ' ' || *s == '\t') {
		s++;
	}
	if (*s != '\0' || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) {
		return false;
	}
	*tp = days_of_date(y, m, d) * 86400 + h * 3600 + mi * 60 + sec;
	return true;
}

