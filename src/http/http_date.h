/* HTTP dates (RFC 9110 section 5.6.7): formatting as IMF-fixdate and
 * parsing of the three forms a recipient must accept. */
#ifndef NGHTTPW_HTTP_DATE_H
#define NGHTTPW_HTTP_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define HTTP_DATE_SIZE 64

/* "Sun, 06 Nov 1994 08:49:37 GMT" for t (UTC). */
void http_date_format(time_t t, char buf[HTTP_DATE_SIZE]);

/* The same for the current time, with its length.  The string belongs
 * to the calling thread and stays valid until its next call. */
const char *http_date_now(size_t *lenp);

/* IMF-fixdate, RFC 850 or asctime form into seconds since the epoch;
 * false when s is none of them. */
bool http_date_parse(const char *s, int64_t *tp);

#endif
