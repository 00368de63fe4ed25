/*
 * nghttpw-get: fetch a URL over HTTP/1.1, a small curl.
 *
 * Each request goes through nghttpw_http_client_transact_stream() (TCP,
 * or TLS for https when the library has it): the client keeps the
 * connections of one origin alive between requests and sends a request
 * again when a kept-alive connection turns out dead.  The body is read
 * with nghttpw_http_conn_read_body(), framed by the library, so that a
 * body of any size streams to its destination with a progress bar
 * instead of being held in memory.
 *
 * A forward proxy is used as curl uses one: -x and --noproxy, or else
 * the environment's http_proxy, https_proxy and no_proxy.
 *
 * Only the public headers are used; the program waits for each aio in
 * turn (nghttpw_aio_wait), which is fine for a program of its own.
 */
#define _POSIX_C_SOURCE 200809L

#include <nghttpw/http.h>
#include <nghttpw/nghttpw.h>

#if defined(__has_include)
#if __has_include(<nghttpw/tls.h>)
#include <nghttpw/tls.h>
#define GET_TLS 1
/* Weak, so that the program still links against a library built without
 * TLS; the functions are then NULL and https is refused. */
#pragma weak nghttpw_tls_config_alloc
#pragma weak nghttpw_tls_config_free
#pragma weak nghttpw_tls_config_server_name
#pragma weak nghttpw_tls_config_ca_file
#pragma weak nghttpw_tls_config_auth_mode
#endif
#endif

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define PROG "nghttpw-get"
#define MAX_REDIRECTS 10
#define READ_CHUNK 65536u
#define SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

/* Exit statuses, curl's numbers where curl has one. */
enum {
	EXIT_OK          = 0,
	EXIT_FAILURE_    = 1,  /* anything else; unsupported protocol */
	EXIT_USAGE       = 2,
	EXIT_BAD_URL     = 3,
	EXIT_BAD_PROXY   = 5,  /* curl: "couldn't resolve proxy" */
	EXIT_RESOLVE     = 6,
	EXIT_CONNECT     = 7,
	EXIT_HTTP_ERROR  = 22, /* --fail and a status of 400 or more */
	EXIT_WRITE       = 23,
	EXIT_READ_FILE   = 26,
	EXIT_TIMEOUT     = 28,
	EXIT_TLS         = 35,
	EXIT_REDIRECTS   = 47,
	EXIT_EMPTY_REPLY = 52,
	EXIT_RECV        = 56,
	EXIT_PEER_CERT   = 60,
	EXIT_CA_FILE     = 77,
};

typedef struct {
	const char **urls;    /* fetched in turn */
	size_t       nurls;
	const char **outputs; /* -o, in order: the i-th for the i-th URL */
	size_t       noutputs;
	bool        head;    /* -I */
	bool        include; /* -i */
	const char *method;  /* -X */
	const char **headers; /* -H, as given */
	size_t      nheaders;
	char       *data; /* -d / --data-binary, joined with '&' */
	size_t      data_len;
	bool        have_data;
	const char *data_type;
	bool        follow; /* -L */
	bool        trusted; /* --location-trusted: credentials follow too */
	const char *cacert;
	bool        insecure;
	bool        silent;
	bool        show_error;
	bool        fail;
	double      max_time;        /* seconds; 0: none */
	double      connect_timeout; /* seconds; 0: none */
	const char *proxy;   /* -x; NULL: the environment's */
	const char *noproxy; /* --noproxy; NULL: the environment's */
} options;

typedef struct {
	const options          *opt;
	nghttpw_http_client    *client;
	nghttpw_url            *url;   /* the URL being fetched now */
	nghttpw_url            *first; /* the one given: its origin gets -H's credentials */
	const char             *output; /* its -o; NULL or "-": stdout */
	nghttpw_aio            *aio;
	nghttpw_time            deadline; /* 0: none */
#ifdef GET_TLS
	nghttpw_tls_config *tls;
#endif
	nghttpw_http_conn      *conn;  /* lent by the client for a body */
	char                   *buf;   /* READ_CHUNK bytes of body at a time */
	/* Where the body goes. */
	FILE *out;
	bool  out_opened;
	/* Progress bar. */
	bool         progress;
	uint64_t     got;
	int64_t      total; /* -1: unknown */
	nghttpw_time started;
	nghttpw_time drawn;
	bool         drawn_once;
} session;

/* ---------------------------------------------------------- messages */

static bool quiet_errors;

static void
fail_msg(const char *fmt, ...)
{
	va_list ap;

	if (quiet_errors) {
		return;
	}
	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " [options] URL...\n"
	    "\n"
	    "Fetches each URL (http:// or https://) in turn and writes the\n"
	    "bodies to standard output; one connection serves the URLs of one\n"
	    "server in a row.  Exits 0 when the transfers worked, whatever the\n"
	    "status, else with the status of the last one that failed.\n"
	    "\n"
	    "  -o, --output FILE        write the body to FILE instead (the\n"
	    "                           first -o for the first URL, and so on)\n"
	    "  -I, --head               send HEAD; print the status line and headers\n"
	    "  -i, --include            print the response head before the body\n"
	    "  -H, --header 'N: v'      add a request header (repeatable);\n"
	    "                           'N:' removes one, 'N;' sends it empty\n"
	    "  -d, --data DATA          POST DATA as application/x-www-form-\n"
	    "                           urlencoded (@FILE reads FILE, without\n"
	    "                           newlines; repeated data joins with '&')\n"
	    "      --data-binary DATA   POST DATA (or @FILE) as it is, as\n"
	    "                           application/octet-stream\n"
	    "  -X, --request METHOD     use METHOD\n"
	    "  -L, --location           follow redirects (at most %d); the\n"
	    "                           Authorization, Proxy-Authorization,\n"
	    "                           Cookie and Host given with -H go only\n"
	    "                           to the first URL's scheme, host and port\n"
	    "      --location-trusted   -L, and send them everywhere\n"
	    "  -f, --fail               exit 22, without output, when the status\n"
	    "                           is 400 or more\n"
	    "      --cacert FILE        verify https servers with the CAs in FILE\n"
	    "  -k, --insecure           do not verify https servers\n"
	    "  -m, --max-time SECONDS   give up after SECONDS in all\n"
	    "      --connect-timeout SECONDS\n"
	    "                           give up when not connected and answered\n"
	    "                           after SECONDS\n"
	    "  -x, --proxy URL          go through the HTTP proxy at URL\n"
	    "                           (http://[user:pass@]host[:port], port\n"
	    "                           1080 by default; \"\" for none) instead\n"
	    "                           of http_proxy, https_proxy, HTTPS_PROXY\n"
	    "      --noproxy LIST       reach the hosts of LIST (names, domains,\n"
	    "                           addresses, CIDR prefixes, * for all)\n"
	    "                           directly, instead of no_proxy, NO_PROXY\n"
	    "  -s, --silent             no progress bar and no error messages\n"
	    "  -S, --show-error         error messages even with -s\n"
	    "  -h, --help               print this and exit\n"
	    "  -V, --version            print the version and exit\n",
	    MAX_REDIRECTS);
}

/* ---------------------------------------------------------- arguments */

static int
add_data(options *o, const char *arg, bool binary)
{
	const char *src = arg;
	char       *file = NULL;
	size_t      len;

	if (arg[0] == '@') {
		FILE  *f = strcmp(arg + 1, "-") == 0 ? stdin : fopen(arg + 1, "rb");
		size_t cap = 0, n;
		if (f == NULL) {
			fail_msg("cannot read %s: %s", arg + 1, strerror(errno));
			return (EXIT_READ_FILE);
		}
		len = 0;
		for (;;) {
			if (len + 4096 > cap) {
				cap       = cap == 0 ? 8192 : cap * 2;
				char *big = realloc(file, cap);
				if (big == NULL) {
					free(file);
					fail_msg("out of memory");
					return (EXIT_FAILURE_);
				}
				file = big;
			}
			if ((n = fread(file + len, 1, cap - len, f)) == 0) {
				break;
			}
			len += n;
		}
		bool bad = ferror(f) != 0;
		if (f != stdin) {
			fclose(f);
		}
		if (bad) {
			fail_msg("cannot read %s", arg + 1);
			free(file);
			return (EXIT_READ_FILE);
		}
		if (!binary) {
			/* As curl does for -d @FILE: line breaks go. */
			size_t j = 0;
			for (size_t i = 0; i < len; i++) {
				if (file[i] != '\r' && file[i] != '\n') {
					file[j++] = file[i];
				}
			}
			len = j;
		}
		src = file;
	} else {
		len = strlen(arg);
	}
	size_t sep  = o->have_data ? 1 : 0;
	char  *grow = realloc(o->data, o->data_len + sep + len + 1);
	if (grow == NULL) {
		free(file);
		fail_msg("out of memory");
		return (EXIT_FAILURE_);
	}
	o->data = grow;
	if (sep) {
		o->data[o->data_len++] = '&';
	}
	if (len > 0) {
		memcpy(o->data + o->data_len, src, len);
	}
	o->data_len += len;
	o->data[o->data_len] = '\0';
	if (!o->have_data) {
		o->data_type = binary ? "application/octet-stream"
		                      : "application/x-www-form-urlencoded";
	}
	o->have_data = true;
	free(file);
	return (0);
}

static bool
parse_seconds(const char *s, double *out)
{
	char  *end;
	double v;

	errno = 0;
	v     = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0) || v > 86400.0 * 365) {
		return (false);
	}
	*out = v;
	return (true);
}

typedef enum {
	OPT_OUTPUT,
	OPT_HEAD,
	OPT_INCLUDE,
	OPT_HEADER,
	OPT_DATA,
	OPT_DATA_BINARY,
	OPT_REQUEST,
	OPT_LOCATION,
	OPT_LOCATION_TRUSTED,
	OPT_FAIL,
	OPT_CACERT,
	OPT_INSECURE,
	OPT_MAX_TIME,
	OPT_CONNECT_TIMEOUT,
	OPT_SILENT,
	OPT_SHOW_ERROR,
	OPT_PROXY,
	OPT_NOPROXY,
	OPT_HELP,
	OPT_VERSION,
} opt_id;

static const struct {
	char        short_name; /* 0: none */
	const char *long_name;
	bool        needs_arg;
	opt_id      id;
} option_table[] = {
	{ 'o', "output", true, OPT_OUTPUT },
	{ 'I', "head", false, OPT_HEAD },
	{ 'i', "include", false, OPT_INCLUDE },
	{ 'H', "header", true, OPT_HEADER },
	{ 'd', "data", true, OPT_DATA },
	{ 0, "data-binary", true, OPT_DATA_BINARY },
	{ 'X', "request", true, OPT_REQUEST },
	{ 'L', "location", false, OPT_LOCATION },
	{ 0, "location-trusted", false, OPT_LOCATION_TRUSTED },
	{ 'f', "fail", false, OPT_FAIL },
	{ 0, "cacert", true, OPT_CACERT },
	{ 'k', "insecure", false, OPT_INSECURE },
	{ 'm', "max-time", true, OPT_MAX_TIME },
	{ 0, "connect-timeout", true, OPT_CONNECT_TIMEOUT },
	{ 's', "silent", false, OPT_SILENT },
	{ 'S', "show-error", false, OPT_SHOW_ERROR },
	{ 'x', "proxy", true, OPT_PROXY },
	{ 0, "noproxy", true, OPT_NOPROXY },
	{ 'h', "help", false, OPT_HELP },
	{ 'V', "version", false, OPT_VERSION },
};

#define NOPTIONS (sizeof(option_table) / sizeof(option_table[0]))

/* Appends arg to a list of arguments; 0 or an exit status. */
static int
push_arg(const char ***listp, size_t *np, const char *arg)
{
	const char **grown = realloc((void *) *listp, (*np + 1) * sizeof(char *));

	if (grown == NULL) {
		fail_msg("out of memory");
		return (EXIT_FAILURE_);
	}
	grown[(*np)++] = arg;
	*listp         = grown;
	return (0);
}

/* Applies one option.  Returns -1 to go on, else an exit status. */
static int
apply_option(options *o, opt_id id, const char *arg, const char *spelled)
{
	int rv;

	switch (id) {
	case OPT_OUTPUT:
		if ((rv = push_arg(&o->outputs, &o->noutputs, arg)) != 0) {
			return (rv);
		}
		break;
	case OPT_HEAD:
		o->head = true;
		break;
	case OPT_INCLUDE:
		o->include = true;
		break;
	case OPT_HEADER: {
		if ((rv = push_arg(&o->headers, &o->nheaders, arg)) != 0) {
			return (rv);
		}
		if (strpbrk(arg, ":;") == NULL) {
			fail_msg("header '%s' needs 'Name: value' (see --help)", arg);
			return (EXIT_USAGE);
		}
		break;
	}
	case OPT_DATA:
	case OPT_DATA_BINARY:
		if ((rv = add_data(o, arg, id == OPT_DATA_BINARY)) != 0) {
			return (rv);
		}
		break;
	case OPT_REQUEST:
		o->method = arg;
		break;
	case OPT_LOCATION:
		o->follow = true;
		break;
	case OPT_LOCATION_TRUSTED:
		o->follow  = true;
		o->trusted = true;
		break;
	case OPT_FAIL:
		o->fail = true;
		break;
	case OPT_CACERT:
		o->cacert = arg;
		break;
	case OPT_INSECURE:
		o->insecure = true;
		break;
	case OPT_MAX_TIME:
	case OPT_CONNECT_TIMEOUT:
		if (!parse_seconds(arg, id == OPT_MAX_TIME ? &o->max_time
		                                          : &o->connect_timeout)) {
			fail_msg("option %s: '%s' is not a number of seconds",
			    spelled, arg);
			return (EXIT_USAGE);
		}
		break;
	case OPT_SILENT:
		o->silent = true;
		break;
	case OPT_SHOW_ERROR:
		o->show_error = true;
		break;
	case OPT_PROXY:
		o->proxy = arg;
		break;
	case OPT_NOPROXY:
		o->noproxy = arg;
		break;
	case OPT_HELP:
		usage(stdout);
		return (EXIT_OK);
	case OPT_VERSION:
		printf(PROG " %d.%d.%d\n", NGHTTPW_MAJOR_VERSION,
		    NGHTTPW_MINOR_VERSION, NGHTTPW_PATCH_VERSION);
		return (EXIT_OK);
	}
	return (-1);
}

/* Returns -1 when the program should run, else an exit status. */
static int
parse_args(options *o, int argc, char **argv)
{
	bool no_more_options = false;
	int  rv;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (no_more_options || a[0] != '-' || a[1] == '\0') {
			if ((rv = push_arg(&o->urls, &o->nurls, a)) != 0) {
				return (rv);
			}
			continue;
		}
		if (strcmp(a, "--") == 0) {
			no_more_options = true;
			continue;
		}
		if (a[1] == '-') {
			const char *name = a + 2;
			const char *eq   = strchr(name, '=');
			size_t      nlen = eq != NULL ? (size_t) (eq - name) : strlen(name);
			size_t      k;
			for (k = 0; k < NOPTIONS; k++) {
				if (strlen(option_table[k].long_name) == nlen &&
				    strncmp(option_table[k].long_name, name, nlen) == 0) {
					break;
				}
			}
			if (k == NOPTIONS) {
				fail_msg("unknown option '%s' (see --help)", a);
				return (EXIT_USAGE);
			}
			const char *arg = NULL;
			if (option_table[k].needs_arg) {
				if (eq != NULL) {
					arg = eq + 1;
				} else if (i + 1 < argc) {
					arg = argv[++i];
				} else {
					fail_msg("option '%s' needs an argument (see --help)", a);
					return (EXIT_USAGE);
				}
			} else if (eq != NULL) {
				fail_msg("option '--%.*s' takes no argument (see --help)",
				    (int) nlen, name);
				return (EXIT_USAGE);
			}
			if ((rv = apply_option(o, option_table[k].id, arg, a)) >= 0) {
				return (rv);
			}
			continue;
		}
		/* One or more short options: -sSL, -o FILE, -oFILE. */
		for (const char *p = a + 1; *p != '\0'; p++) {
			size_t k;
			char   spelled[3] = { '-', *p, '\0' };
			for (k = 0; k < NOPTIONS; k++) {
				if (option_table[k].short_name == *p) {
					break;
				}
			}
			if (k == NOPTIONS) {
				fail_msg("unknown option '-%c' (see --help)", *p);
				return (EXIT_USAGE);
			}
			const char *arg = NULL;
			if (option_table[k].needs_arg) {
				if (p[1] != '\0') {
					arg = p + 1;
				} else if (i + 1 < argc) {
					arg = argv[++i];
				} else {
					fail_msg("option '-%c' needs an argument (see --help)", *p);
					return (EXIT_USAGE);
				}
			}
			if ((rv = apply_option(o, option_table[k].id, arg, spelled)) >= 0) {
				return (rv);
			}
			if (arg != NULL) {
				break;
			}
		}
	}
	if (o->nurls == 0) {
		fail_msg("no URL given (see --help)");
		return (EXIT_USAGE);
	}
	if (o->noutputs > o->nurls) {
		fail_msg("%zu -o for %zu URL%s: one -o goes with each URL, in order",
		    o->noutputs, o->nurls, o->nurls == 1 ? "" : "s");
		return (EXIT_USAGE);
	}
	if (o->head && o->have_data) {
		fail_msg("-I and -d cannot go together: HEAD has no body");
		return (EXIT_USAGE);
	}
	return (-1);
}

/* ---------------------------------------------------------- progress */

static void
human_size(char *buf, size_t len, double v)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int                      u      = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0) {
		snprintf(buf, len, "%.0f %s", v, unit[u]);
	} else {
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	}
}

static void
progress_draw(session *s, bool last)
{
	nghttpw_time now = nghttpw_clock();
	char         got[32], rate[32];
	double       secs;

	if (!s->progress || (!last && s->drawn_once && now - s->drawn < 100)) {
		return;
	}
	s->drawn      = now;
	s->drawn_once = true;
	secs          = (double) (now - s->started) / 1000.0;
	human_size(got, sizeof(got), (double) s->got);
	human_size(rate, sizeof(rate), secs > 0 ? (double) s->got / secs : 0);
	if (s->total > 0) {
		int  width = 30;
		int  pct   = (int) ((double) s->got * 100.0 / (double) s->total);
		int  fill  = (int) ((double) s->got * width / (double) s->total);
		char bar[64];
		char total[32];
		if (pct > 100) {
			pct = 100;
		}
		if (fill > width) {
			fill = width;
		}
		memset(bar, '#', (size_t) fill);
		memset(bar + fill, ' ', (size_t) (width - fill));
		bar[width] = '\0';
		human_size(total, sizeof(total), (double) s->total);
		fprintf(stderr, "\r[%s] %3d%%  %s / %s  %s/s   ", bar, pct, got,
		    total, rate);
	} else {
		fprintf(stderr, "\r%s  %s/s   ", got, rate);
	}
	if (last) {
		fputc('\n', stderr);
	}
	fflush(stderr);
}

/* ---------------------------------------------------------- network */

static void
aio_bound(session *s)
{
	if (s->deadline != 0) {
		nghttpw_aio_set_expire(s->aio, s->deadline);
	} else {
		nghttpw_aio_set_timeout(s->aio, NGHTTPW_DURATION_INFINITE);
	}
}

static int
wait_aio(session *s)
{
	nghttpw_aio_wait(s->aio);
	return (nghttpw_aio_result(s->aio));
}

/* "host:port" for messages, with brackets around an IPv6 address. */
static void
origin_name(const nghttpw_url *u, char *buf, size_t len)
{
	bool v6 = strchr(u->u_hostname, ':') != NULL;

	snprintf(buf, len, "%s%s%s:%s", v6 ? "[" : "", u->u_hostname,
	    v6 ? "]" : "", u->u_port);
}

static bool
same_origin(const nghttpw_url *a, const nghttpw_url *b)
{
	return (strcmp(a->u_scheme, b->u_scheme) == 0 &&
	    strcasecmp(a->u_hostname, b->u_hostname) == 0 &&
	    strcmp(a->u_port, b->u_port) == 0);
}

/* The client and its idle connections go with their origin. */
static void
drop_client(session *s)
{
	if (s->client != NULL) {
		nghttpw_http_client_free(s->client);
		s->client = NULL;
	}
#ifdef GET_TLS
	if (s->tls != NULL) {
		nghttpw_tls_config_free(s->tls);
		s->tls = NULL;
	}
#endif
}
#ifdef GET_TLS
static int
setup_tls(session *s)
{
	const options *o = s->opt;
	int            rv;

	if (nghttpw_tls_config_alloc == NULL) {
		fail_msg("https is not supported: the nghttpw library was built "
		         "without TLS");
		return (EXIT_FAILURE_);
	}
	if ((rv = nghttpw_tls_config_alloc(&s->tls, NGHTTPW_TLS_MODE_CLIENT)) != 0 ||
	    (rv = nghttpw_tls_config_server_name(s->tls, s->url->u_hostname)) != 0) {
		fail_msg("cannot set up TLS: %s", nghttpw_strerror(rv));
		return (EXIT_TLS);
	}
	if (o->cacert != NULL) {
		if ((rv = nghttpw_tls_config_ca_file(s->tls, o->cacert)) != 0) {
			fail_msg("cannot use the CA file %s: %s", o->cacert,
			    nghttpw_strerror(rv));
			return (EXIT_CA_FILE);
		}
	} else if (!o->insecure && access(SYSTEM_CA_FILE, R_OK) == 0) {
		/* Without --cacert, the system's CAs when there are some. */
		(void) nghttpw_tls_config_ca_file(s->tls, SYSTEM_CA_FILE);
	}
	rv = nghttpw_tls_config_auth_mode(s->tls,
	    o->insecure ? NGHTTPW_TLS_AUTH_MODE_NONE : NGHTTPW_TLS_AUTH_MODE_REQUIRED);
	if (rv == 0) {
		rv = nghttpw_http_client_set_tls(s->client, s->tls);
	}
	if (rv == NGHTTPW_ENOTSUP) {
		fail_msg("https is not supported by this build of nghttpw");
		return (EXIT_FAILURE_);
	}
	if (rv != 0) {
		fail_msg("cannot set up TLS: %s", nghttpw_strerror(rv));
		return (EXIT_TLS);
	}
	return (0);
}
#endif

/* Makes sure there is a client for the current URL's origin and a
 * connection to it.  Returns 0 or an exit status. */

/* The proxy of the new client, as curl picks it: -x and --noproxy, or
 * else the environment's variables.  Returns 0 or an exit status. */
static int
setup_proxy(session *s, bool https)
{
	const options *o = s->opt;
	const char    *proxy;
	const char    *noproxy;
	int            rv;

	if (o->proxy == NULL && o->noproxy == NULL) {
		rv = nghttpw_http_client_set_proxy_env(s->client);
		proxy = "the proxy of the environment";
	} else {
		proxy = o->proxy;
		if (proxy == NULL && https) {
			proxy = getenv("https_proxy") != NULL ? getenv("https_proxy")
			                                      : getenv("HTTPS_PROXY");
		} else if (proxy == NULL) {
			proxy = getenv("http_proxy"); /* not HTTP_PROXY: httpoxy */
		}
		noproxy = o->noproxy;
		if (noproxy == NULL) {
			noproxy = getenv("no_proxy") != NULL ? getenv("no_proxy")
			                                     : getenv("NO_PROXY");
		}
		rv = nghttpw_http_client_set_proxy(s->client, proxy, noproxy);
	}
	if (rv == NGHTTPW_ENOTSUP) {
		fail_msg("%s: only http:// proxies are supported", proxy);
		return (EXIT_FAILURE_);
	}
	if (rv != 0) {
		fail_msg("cannot use %s: %s", proxy, nghttpw_strerror(rv));
		return (EXIT_BAD_PROXY);
	}
	return (0);
}

/* Makes sure there is a client for the current URL's origin; the client
 * connects, or reuses one of its connections, for each request.
 * Returns 0 or an exit status. */
static int
ensure_client(session *s)
{
	int rv;

	if (s->client != NULL) {
		return (0);
	}
	bool https = strcmp(s->url->u_scheme, "https") == 0;
	if (!https && strcmp(s->url->u_scheme, "http") != 0) {
		fail_msg("unsupported protocol '%s' (use http or https)",
		    s->url->u_scheme);
		return (EXIT_FAILURE_);
	}
	if ((rv = nghttpw_http_client_alloc(&s->client, s->url)) != 0) {
		if (rv == NGHTTPW_ENOTSUP) {
			fail_msg("%s is not supported by this build of nghttpw",
			    s->url->u_scheme);
			return (EXIT_FAILURE_);
		}
		fail_msg("cannot use %s: %s", s->url->u_rawurl, nghttpw_strerror(rv));
		return (rv == NGHTTPW_EADDRINVAL ? EXIT_BAD_URL : EXIT_FAILURE_);
	}
	if (s->opt->connect_timeout > 0) {
		/* At least 1 ms: the client refuses zero. */
		double ms = s->opt->connect_timeout * 1000;
		nghttpw_http_client_set_connect_timeout(s->client,
		    ms < 1 ? 1 : ms > INT32_MAX ? INT32_MAX : (nghttpw_duration) ms);
	}
	if ((rv = setup_proxy(s, https)) != 0) {
		return (rv);
	}
	if (https) {
#ifdef GET_TLS
		return (setup_tls(s));
#else
		fail_msg("https is not supported: " PROG " was built without TLS");
		return (EXIT_FAILURE_);
#endif
	}
	return (0);
}

/* An exit status for an exchange that failed before the response head:
 * the connection could not be made, or the answer was not one. */
static int
exchange_failed(session *s, int rv)
{
	char where[300];

	switch (rv) {
	case NGHTTPW_EADDRINVAL:
	case NGHTTPW_ECONNREFUSED:
	case NGHTTPW_EUNREACHABLE:
		origin_name(s->url, where, sizeof(where));
		fail_msg("connect to %s failed: %s", where, nghttpw_strerror(rv));
		return (rv == NGHTTPW_EADDRINVAL ? EXIT_RESOLVE : EXIT_CONNECT);
	case NGHTTPW_ECLOSED:
		fail_msg("%s: the server closed the connection without an answer",
		    s->url->u_rawurl);
		return (EXIT_EMPTY_REPLY);
	case NGHTTPW_EPERM:
		/* Only a proxy's CONNECT gives this: 407, as curl says. */
		fail_msg("%s: the proxy wants credentials (407)", s->url->u_rawurl);
		return (EXIT_RECV);
	case NGHTTPW_EPROTO:
		fail_msg("%s: the server's answer is not a valid HTTP response",
		    s->url->u_rawurl);
		return (EXIT_RECV);
	case NGHTTPW_EMSGSIZE:
		fail_msg("%s: the response head is too large", s->url->u_rawurl);
		return (EXIT_RECV);
	default:
		break;
	}
	fail_msg("fetching %s failed: %s", s->url->u_rawurl, nghttpw_strerror(rv));
	switch (rv) {
	case NGHTTPW_ETIMEDOUT:
		return (EXIT_TIMEOUT);
	case NGHTTPW_ECRYPTO:
		return (EXIT_TLS);
	case NGHTTPW_EPEERAUTH:
		return (EXIT_PEER_CERT);
	default:
		return (EXIT_RECV);
	}
}

/* Writes body bytes to the output, or drops them when out is NULL. */
static int
emit(session *s, const char *p, size_t n)
{
	if (n == 0) {
		return (0);
	}
	if (s->out != NULL && fwrite(p, 1, n, s->out) != n) {
		fail_msg("cannot write the output: %s", strerror(errno));
		return (EXIT_WRITE);
	}
	s->got += n;
	progress_draw(s, false);
	return (0);
}

/* Reads the body of the response on s->conn, as the library frames it,
 * into the output (or dropped when s->out is NULL), each read bounded by
 * -m.  Returns 0 or an exit status. */
static int
read_body(session *s, nghttpw_http_res *res)
{
	const char *cl = nghttpw_http_res_get_header(res, "Content-Length");
	nghttpw_iov iov;
	int         rv;

	s->got   = 0;
	s->total = -1;
	if (cl != NULL && nghttpw_http_res_get_header(res, "Transfer-Encoding") == NULL) {
		s->total = (int64_t) strtoll(cl, NULL, 10); /* for the bar only */
	}
	if (s->buf == NULL && (s->buf = malloc(READ_CHUNK)) == NULL) {
		fail_msg("out of memory");
		return (EXIT_FAILURE_);
	}
	iov.iov_buf = s->buf;
	iov.iov_len = READ_CHUNK;
	for (;;) {
		nghttpw_aio_set_iov(s->aio, 1, &iov);
		aio_bound(s);
		nghttpw_http_conn_read_body(s->conn, s->aio);
		if ((rv = wait_aio(s)) != 0) {
			if (rv == NGHTTPW_ECLOSED) {
				fail_msg("%s: the connection closed before the end of the "
				         "body",
				    s->url->u_rawurl);
				return (EXIT_RECV);
			}
			fail_msg("receiving from %s failed: %s", s->url->u_rawurl,
			    nghttpw_strerror(rv));
			return (rv == NGHTTPW_ETIMEDOUT ? EXIT_TIMEOUT
			        : rv == NGHTTPW_ECRYPTO ? EXIT_TLS
			                                 : EXIT_RECV);
		}
		size_t n = nghttpw_aio_count(s->aio);
		if (n == 0) {
			return (0);
		}
		if ((rv = emit(s, s->buf, n)) != 0) {
			return (rv);
		}
	}
}

/* Gives the lent connection back: kept for the next request when the
 * body was read and the exchange lets it persist, else closed. */
static void
release_conn(session *s, bool failed)
{
	if (s->conn == NULL) {
		return;
	}
	if (failed) {
		nghttpw_http_conn_close(s->conn);
	} else {
		nghttpw_http_client_release_conn(s->client, s->conn);
	}
	s->conn = NULL;
}

/* Writes the response head byte for byte as it came (the library keeps
 * it when asked: see run). */
static int
print_head(session *s, nghttpw_http_res *res)
{
	void  *head;
	size_t len;

	nghttpw_http_res_get_raw_head(res, &head, &len);
	if (fwrite(head, 1, len, s->out) != len) {
		fail_msg("cannot write the output: %s", strerror(errno));
		return (EXIT_WRITE);
	}
	return (0);
}
/* --------------------------------------------------------- redirects */

/* RFC 3986 section 5.2.4, in place. */
static void
remove_dot_segments(char *path)
{
	char *in  = path;
	char *out = path;

	while (*in != '\0') {
		if (strncmp(in, "../", 3) == 0) {
			in += 3;
		} else if (strncmp(in, "./", 2) == 0) {
			in += 2;
		} else if (strncmp(in, "/./", 3) == 0) {
			in += 2;
		} else if (strcmp(in, "/.") == 0) {
			in[1] = '\0';
		} else if (strncmp(in, "/../", 4) == 0 || strcmp(in, "/..") == 0) {
			if (in[3] == '/') {
				in += 3;
			} else {
				in += 2;
				*in = '/';
			}
			while (out > path && *--out != '/') {
			}
		} else if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0) {
			in += strlen(in);
		} else {
			do {
				*out++ = *in++;
			} while (*in != '\0' && *in != '/');
		}
	}
	*out = '\0';
}

/* The absolute URL a Location names, relative to base.  NULL when out of
 * memory. */
static char *
resolve_location(const nghttpw_url *base, const char *loc)
{
	const char *p = loc;
	char       *out;
	size_t      need;

	/* Absolute: a scheme comes first. */
	if (isalpha((unsigned char) *p)) {
		while (isalnum((unsigned char) *p) || *p == '+' || *p == '-' ||
		    *p == '.') {
			p++;
		}
		if (*p == ':') {
			return (strdup(loc));
		}
	}
	need = strlen(base->u_scheme) + strlen(base->u_host) +
	    strlen(base->u_path) + strlen(loc) +
	    (base->u_query != NULL ? strlen(base->u_query) : 0) + 16;
	if ((out = malloc(need)) == NULL) {
		return (NULL);
	}
	if (loc[0] == '/' && loc[1] == '/') {
		snprintf(out, need, "%s:%s", base->u_scheme, loc);
		return (out);
	}
	/* The path part of loc is resolved; its query comes along. */
	const char *q     = strpbrk(loc, "?#");
	size_t      plen  = q != NULL ? (size_t) (q - loc) : strlen(loc);
	const char *bpath = base->u_path[0] != '\0' ? base->u_path : "/";
	char       *path  = malloc(strlen(bpath) + plen + 2);
	if (path == NULL) {
		free(out);
		return (NULL);
	}
	if (plen == 0) {
		strcpy(path, bpath); /* "?x" or "#x": the same path */
	} else if (loc[0] == '/') {
		memcpy(path, loc, plen);
		path[plen] = '\0';
	} else {
		const char *slash = strrchr(bpath, '/');
		size_t      dlen  = (size_t) (slash - bpath) + 1;
		memcpy(path, bpath, dlen);
		memcpy(path + dlen, loc, plen);
		path[dlen + plen] = '\0';
	}
	remove_dot_segments(path);
	/* The query: the reference's own, or the base's for a reference
	 * that is empty or only a fragment.  Fragments are dropped: they
	 * are for the client alone. */
	const char *query = NULL;
	size_t      qlen  = 0;
	if (q != NULL && *q == '?') {
		query = q + 1;
		qlen  = strcspn(query, "#");
	} else if (plen == 0 && base->u_query != NULL) {
		query = base->u_query;
		qlen  = strlen(query);
	}
	snprintf(out, need, "%s://%s%s%s%.*s",
	    base->u_scheme, base->u_host, path, query != NULL ? "?" : "",
	    (int) qlen, query != NULL ? query : "");
	free(path);
	return (out);
}

static bool
is_redirect(int status)
{
	return (status == 301 || status == 302 || status == 303 ||
	    status == 307 || status == 308);
}

/* ---------------------------------------------------------- requests */

/* Fields of -H that a redirect carries to another origin only when the
 * user trusts it (curl's rule): they authenticate, or name the host. */
static bool
header_stays_home(const char *name, size_t len)
{
	static const char *const names[] = { "Authorization",
		"Proxy-Authorization", "Cookie", "Host" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i]) == len && strncasecmp(names[i], name, len) == 0) {
			return (true);
		}
	}
	return (false);
}

/* Builds the request for s->url.  Returns 0 or an exit status. */
static int
build_request(session *s, nghttpw_http_req **reqp, const char *method,
    bool with_body)
{
	/* A Host of the user's names the first host whatever --location-
	 * trusted says; the credentials follow only when it says so. */
	bool home = same_origin(s->first, s->url);
	const options    *o = s->opt;
	nghttpw_http_req *req;
	int               rv;

	if ((rv = nghttpw_http_req_alloc(&req, s->url)) != 0) {
		fail_msg("bad URL %s: %s", s->url->u_rawurl, nghttpw_strerror(rv));
		return (EXIT_BAD_URL);
	}
	if ((rv = nghttpw_http_req_set_method(req, method)) != 0) {
		fail_msg("bad method '%s'", method);
		nghttpw_http_req_free(req);
		return (EXIT_USAGE);
	}
	nghttpw_http_req_set_header(req, "User-Agent", PROG "/" "0.1");
	nghttpw_http_req_set_header(req, "Accept", "*/*");
	if (with_body) {
		nghttpw_http_req_set_data(req, o->data, o->data_len);
		nghttpw_http_req_set_header(req, "Content-Type", o->data_type);
	}
	for (size_t i = 0; i < o->nheaders; i++) {
		const char *h     = o->headers[i];
		size_t      nlen  = strcspn(h, ":;");
		char       *name  = strndup(h, nlen);
		const char *value = h + nlen + 1;
		bool        seen  = false;

		if (name == NULL) {
			nghttpw_http_req_free(req);
			fail_msg("out of memory");
			return (EXIT_FAILURE_);
		}
		if (!home && header_stays_home(name, nlen) &&
		    (!o->trusted || strcasecmp(name, "Host") == 0)) {
			free(name); /* a redirect to another origin */
			continue;
		}
		while (*value == ' ' || *value == '\t') {
			value++;
		}
		for (size_t j = 0; j < i; j++) {
			size_t jlen = strcspn(o->headers[j], ":;");
			if (jlen == nlen && strncasecmp(o->headers[j], name, nlen) == 0) {
				seen = true;
			}
		}
		if (h[nlen] == ':' && *value == '\0') {
			rv = nghttpw_http_req_del_header(req, name);
			rv = rv == NGHTTPW_ENOENT ? 0 : rv;
		} else if (h[nlen] == ';') {
			rv = nghttpw_http_req_set_header(req, name, "");
		} else if (seen) {
			rv = nghttpw_http_req_add_header(req, name, value);
		} else {
			rv = nghttpw_http_req_set_header(req, name, value);
		}
		free(name);
		if (rv != 0) {
			fail_msg("bad header '%s': %s", h, nghttpw_strerror(rv));
			nghttpw_http_req_free(req);
			return (EXIT_USAGE);
		}
	}
	*reqp = req;
	return (0);
}

static int
open_output(session *s)
{
	if (s->out_opened) {
		return (0);
	}
	s->out_opened = true;
	if (s->output == NULL || strcmp(s->output, "-") == 0) {
		s->out = stdout;
		return (0);
	}
	if ((s->out = fopen(s->output, "wb")) == NULL) {
		fail_msg("cannot open %s: %s", s->output, strerror(errno));
		return (EXIT_WRITE);
	}
	return (0);
}

/* quiet: a failure was reported already. */
static int
close_output(session *s, bool quiet)
{
	int rv = 0;

	if (!s->out_opened || s->out == NULL) {
		return (0);
	}
	if (fflush(s->out) != 0 || ferror(s->out)) {
		if (!quiet) {
			fail_msg("cannot write the output: %s", strerror(errno));
		}
		rv = EXIT_WRITE;
	}
	if (s->out != stdout && fclose(s->out) != 0 && rv == 0) {
		if (!quiet) {
			fail_msg("cannot write %s: %s", s->output, strerror(errno));
		}
		rv = EXIT_WRITE;
	}
	s->out        = NULL;
	s->out_opened = false;
	return (rv);
}

/* One request and the head of its final response: the client connects
 * or reuses a connection, retries a dead kept-alive one, skips interim
 * answers, and lends the connection (s->conn) for the body.  Returns 0
 * or an exit status. */
static int
exchange(session *s, nghttpw_http_req *req, nghttpw_http_res *res)
{
	int rv;

	if ((rv = ensure_client(s)) != 0) {
		return (rv);
	}
	aio_bound(s);
	nghttpw_http_client_transact_stream(s->client, req, res, s->aio);
	if ((rv = wait_aio(s)) != 0) {
		return (exchange_failed(s, rv));
	}
	s->conn = nghttpw_aio_get_output(s->aio, 0);
	return (0);
}

/* The whole transfer, following redirects when asked.  Returns an exit
 * status. */
static int
run(session *s)
{
	const options *o         = s->opt;
	const char    *method    = o->method != NULL ? o->method
	                         : o->head         ? "HEAD"
	                         : o->have_data    ? "POST"
	                                           : "GET";
	bool           with_body  = o->have_data;
	int            rv;

	for (int hops = 0;; hops++) {
		nghttpw_http_req *req = NULL;
		nghttpw_http_res *res = NULL;
		bool              follow;

		if ((rv = build_request(s, &req, method, with_body)) != 0) {
			break;
		}
		if ((rv = nghttpw_http_res_alloc(&res)) != 0) {
			fail_msg("out of memory");
			nghttpw_http_req_free(req);
			rv = EXIT_FAILURE_;
			break;
		}
		nghttpw_http_res_keep_raw_head(res, o->head || o->include);
		rv = exchange(s, req, res);
		nghttpw_http_req_free(req);
		if (rv != 0) {
			nghttpw_http_res_free(res);
			break;
		}
		int         status   = nghttpw_http_res_get_status(res);
		const char *location = nghttpw_http_res_get_header(res, "Location");
		follow = o->follow && is_redirect(status) && location != NULL;
		if (follow && hops == MAX_REDIRECTS) {
			fail_msg("more than %d redirects, the last to %s", MAX_REDIRECTS,
			    location);
			rv = EXIT_REDIRECTS;
		} else if (!follow && o->fail && status >= 400) {
			fail_msg("%s: the server answered %d %s", s->url->u_rawurl,
			    status, nghttpw_http_res_get_reason(res));
			rv = EXIT_HTTP_ERROR;
		} else if (o->head || o->include || !follow) {
			rv = open_output(s);
		}
		if (rv == 0 && (o->head || o->include)) {
			rv = print_head(s, res);
		}
		if (rv != 0) {
			release_conn(s, true);
			nghttpw_http_res_free(res);
			break;
		}
		/* The body: to the output for the last answer (unless -I),
		 * else read and dropped, to keep the connection usable. */
		FILE *out = s->out;
		if (follow || o->head) {
			s->out = NULL;
		}
		s->started    = nghttpw_clock();
		s->drawn_once = false;
		bool bar      = s->progress;
		s->progress   = bar && !follow && !o->head;
		rv            = read_body(s, res);
		if (s->progress && rv == 0) {
			progress_draw(s, true);
		} else if (s->progress && s->drawn_once) {
			fputc('\n', stderr);
		}
		s->progress = bar;
		s->out      = out;
		release_conn(s, rv != 0);
		if (rv != 0 || !follow) {
			nghttpw_http_res_free(res);
			break;
		}

		/* On to the next URL. */
		char        *next = resolve_location(s->url, location);
		nghttpw_url *nu   = NULL;
		if (next == NULL || (rv = nghttpw_url_parse(&nu, next)) != 0) {
			fail_msg("cannot follow the redirect to '%s'", location);
			free(next);
			nghttpw_http_res_free(res);
			rv = EXIT_BAD_URL;
			break;
		}
		free(next);
		nghttpw_http_res_free(res);
		if (status == 303 && strcmp(method, "HEAD") != 0) {
			method    = "GET";
			with_body = false;
		} else if ((status == 301 || status == 302) &&
		    strcmp(method, "POST") == 0) {
			/* What browsers and curl do. */
			method    = "GET";
			with_body = false;
		}
		if (!same_origin(s->url, nu)) {
			drop_client(s);
		}
		nghttpw_url_free(s->url);
		s->url = nu;
	}
	int crv = close_output(s, rv != 0);
	return (rv != 0 ? rv : crv);
}

/* Fetches one URL of the command line into output; a connection to the
 * same origin as the previous URL's is used again.  An exit status. */
static int
fetch(session *s, const char *url, const char *output)
{
	const options *o = s->opt;
	nghttpw_url   *u;
	int            rv;

	if ((rv = nghttpw_url_parse(&u, url)) != 0) {
		fail_msg("bad URL '%s': %s", url, nghttpw_strerror(rv));
		return (EXIT_BAD_URL);
	}
	if (s->url != NULL && !same_origin(s->url, u)) {
		drop_client(s);
	}
	nghttpw_url_free(s->url);
	nghttpw_url_free(s->first);
	s->url    = u;
	s->output = output;
	if ((rv = nghttpw_url_clone(&s->first, u)) != 0) {
		fail_msg("cannot start: %s", nghttpw_strerror(rv));
		return (EXIT_FAILURE_);
	}
	/* A progress bar only where a person watches, and not over a body
	 * being written to the same terminal. */
	s->progress = !o->silent && !o->head && isatty(STDERR_FILENO) &&
	    !((output == NULL || strcmp(output, "-") == 0) && isatty(STDOUT_FILENO));
	s->deadline = o->max_time > 0
	    ? nghttpw_clock() + (nghttpw_time) (o->max_time * 1000)
	    : 0;
	return (run(s));
}

static void
options_free(options *o)
{
	free((void *) o->urls);
	free((void *) o->outputs);
	free((void *) o->headers);
	free(o->data);
}

int
main(int argc, char **argv)
{
	options o = { 0 };
	session s = { 0 };
	int     rv;

	if ((rv = parse_args(&o, argc, argv)) >= 0) {
		options_free(&o);
		return (rv);
	}
	quiet_errors = o.silent && !o.show_error;
	/* A reader that goes away (| head) is a write error, not a signal. */
	struct sigaction sa = { .sa_handler = SIG_IGN };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);
	s.opt = &o;
	if ((rv = nghttpw_aio_alloc(&s.aio, NULL, NULL)) != 0) {
		fail_msg("cannot start: %s", nghttpw_strerror(rv));
		rv = EXIT_FAILURE_;
	} else {
		/* Each URL in turn, as curl does: a failure does not stop the
		 * next one, and the last failure gives the exit status. */
		for (size_t i = 0; i < o.nurls; i++) {
			int one = fetch(&s, o.urls[i], i < o.noutputs ? o.outputs[i] : NULL);
			rv      = one != 0 ? one : rv;
		}
	}
	drop_client(&s);
	nghttpw_aio_free(s.aio);
	nghttpw_url_free(s.url);
	nghttpw_url_free(s.first);
	free(s.buf);
	options_free(&o);
	nghttpw_fini();
	return (rv);
}

