/*
 * nghttpw-serve: serve a directory over HTTP or HTTPS, in the manner of
 * "python3 -m http.server", with nghttpw's directory handler.
 *
 *   nghttpw-serve [--listen URL] [--cert FILE --key FILE] [--threads N]
 *                 [--tls-ciphers LIST] [--tls-curves LIST] [--hsts SECONDS]
 *                 [--no-listing] [--dotfiles] [--outside-links]
 *                 [--health PATH] [--workers N] [--reuseport]
 *                 [--stop-timeout MS] [--proxy-protocol]
 *                 [--trusted-proxies LIST]
 *                 [--cache-revalidate MS] [--cache-entries N]
 *                 [--cache-bytes N] [--cache-small N] [--ws-echo PATH]
 *                 [--log-buffer SIZE] [--log-flush MS] [DIR]
 *
 * With --ws-echo, a WebSocket echo endpoint at PATH on the same port: a
 * ws:// (wss://) listener whose URL names the server's host and bound
 * port, so that the library gives it the HTTP server the files are
 * served from.
 *
 * Only the public API (include/nghttpw/) is used.  SIGINT and SIGTERM are
 * blocked in every thread and taken with sigwait() by the main thread,
 * which then stops the server and exits 0.  While it waits, it writes
 * the access log's buffers out every --log-flush milliseconds; it
 * writes what is left of them once the server has stopped.
 *
 * Exit status: 0 after a signal, 1 when the server cannot start (the
 * port is taken, say), 2 for bad arguments.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nghttpw/http.h>
#include <nghttpw/nghttpw.h>
#include <nghttpw/tls.h>
#include <nghttpw/ws.h>

#include "serve/access_log.h"
#include "serve/listen_socket.h"
#include "serve/workers.h"

#define PROG "nghttpw-serve"
#define DEFAULT_HTTP "http://127.0.0.1:8080"
#define DEFAULT_HTTPS "https://127.0.0.1:8443"
#define MAX_THREADS 256 /* the library's most I/O threads */
#define MAX_WORKERS 256
#define DRAIN_MARGIN_MS 2000 /* beyond a worker's stop timeout */
#define STOP_TIMEOUT_DEFAULT_MS 5000 /* the library's */
#define WS_ECHO_MAX (1u << 20) /* the largest message echoed */
#define WS_CLOSE_MS 3000       /* for the closing handshakes at the end */
#define LOG_BUFFER_MAX (64u << 20)
#define LOG_FLUSH_MS 1000

/* Long options without a short form. */
enum {
	OPT_NO_LISTING = 256,
	OPT_DOTFILES,
	OPT_OUTSIDE_LINKS,
	OPT_HEALTH,
	OPT_WORKERS,
	OPT_REUSEPORT,
	OPT_STOP_TIMEOUT,
	OPT_PROXY_PROTOCOL,
	OPT_TRUSTED_PROXIES,
	OPT_WS_ECHO,
	OPT_WS_DEFLATE,
	OPT_TLS_HS_TIMEOUT,
	OPT_TLS_CIPHERS,
	OPT_TLS_CURVES,
	OPT_HSTS,
	OPT_LOG_BUFFER,
	OPT_LOG_FLUSH,
	OPT_CACHE_REVALIDATE,
	OPT_CACHE_ENTRIES,
	OPT_CACHE_BYTES,
	OPT_CACHE_SMALL,
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " [OPTIONS] [DIR]\n"
	    "\n"
	    "Serves the files under DIR (default: the current directory) over\n"
	    "HTTP, or HTTPS with --cert and --key, until interrupted (Ctrl-C).\n"
	    "A directory is answered with its index.html, or else with a list\n"
	    "of its entries (unless --no-listing).\n"
	    "\n"
	    "  -l, --listen URL   where to listen (default " DEFAULT_HTTP ",\n"
	    "                     or " DEFAULT_HTTPS " with --cert); port 0\n"
	    "                     picks a free port; a path mounts DIR there\n"
	    "  -c, --cert FILE    certificate chain (PEM) for https\n"
	    "  -k, --key FILE     private key (PEM) for https\n"
	    "      --tls-handshake-timeout MS\n"
	    "                     time a client has for its TLS handshake\n"
	    "                     (default 5000)\n"
	    "      --tls-ciphers LIST\n"
	    "                     cipher suites allowed, in order, separated by\n"
	    "                     ':' (OpenSSL, IANA or mbedTLS names; default\n"
	    "                     ECDHE with AES-GCM or ChaCha20-Poly1305)\n"
	    "      --tls-curves LIST\n"
	    "                     curves allowed, in order (default\n"
	    "                     x25519:p256:p384; ffdhe2048/3072/4096 picks\n"
	    "                     the group of DHE suites)\n"
	    "      --hsts SECONDS add Strict-Transport-Security: max-age=SECONDS\n"
	    "                     to every https answer\n"
	    "  -t, --threads N    I/O threads (default: one per CPU)\n"
	    "      --no-listing   404 for a directory without index.html,\n"
	    "                     instead of a list of its entries\n"
	    "      --dotfiles     serve and list names that start with a dot\n"
	    "                     (by default 404 and left out of listings,\n"
	    "                     but /.well-known/)\n"
	    "      --outside-links\n"
	    "                     follow symbolic links that lead out of DIR\n"
	    "                     (by default 404)\n"
	    "      --health PATH  answer GET PATH with 200 ok, for a load\n"
	    "                     balancer's health checks\n"
	    "      --workers N    N processes serving one socket; one that\n"
	    "                     dies is started again; SIGTERM drains them\n"
	    "      --reuseport    SO_REUSEPORT: other processes may listen on\n"
	    "                     the same port\n"
	    "      --stop-timeout MS\n"
	    "                     on SIGINT or SIGTERM, let requests in flight\n"
	    "                     finish for up to MS ms (default 5000)\n"
	    "      --proxy-protocol\n"
	    "                     every connection starts with a PROXY header\n"
	    "                     (HAProxy's, v1 or v2): the client's address\n"
	    "                     is logged; no header, no answer\n"
	    "      --trusted-proxies LIST\n"
	    "                     addresses and prefixes (10.0.0.0/8, ::1) whose\n"
	    "                     X-Forwarded-For / Forwarded name the client\n"
	    "                     that is logged\n"
	    "      --ws-echo PATH a WebSocket echo endpoint at PATH on the\n"
	    "                     same port (messages of up to 1 MiB)\n"
	    "      --ws-deflate   accept permessage-deflate on it\n"
	    "      --cache-revalidate MS\n"
	    "                     look at a cached file again after MS ms\n"
	    "                     (default 1000); 0 turns the cache off\n"
	    "      --cache-entries N  files kept at most (default 1000)\n"
	    "      --cache-bytes N    bytes of small files kept in memory at\n"
	    "                     most (default 67108864)\n"
	    "      --cache-small N    files of N bytes or less are kept in\n"
	    "                     memory, larger ones open (default 16384)\n"
	    "  -q, --quiet        no access log\n"
	    "      --log-buffer SIZE\n"
	    "                     the size of each buffer of the access log,\n"
	    "                     two per I/O thread (default 64k, or 0 on a\n"
	    "                     terminal; k or m counts KiB or MiB; 0\n"
	    "                     writes each line at once)\n"
	    "      --log-flush MS the longest a line waits in a buffer\n"
	    "                     (default 1000)\n"
	    "  -h, --help         print this and exit\n"
	    "\n"
	    "Prints the URL served at start, then an access log in Common Log\n"
	    "Format on standard output.  Exits 0 when stopped by SIGINT or\n"
	    "SIGTERM, after writing out the whole log, 1 if it cannot serve\n"
	    "(address in use, ...), 2 on a usage error.\n");
}

/* A one-line error about the arguments, and exit 2. */
static void
bad_usage(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see " PROG " --help)\n", stderr);
	exit(2);
}

/* Reads a whole (small) file as a string; exits 2 when it cannot. */
static char *
slurp(const char *what, const char *path)
{
	FILE  *f = fopen(path, "rb");
	char  *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL) {
		bad_usage("cannot read %s %s: %s", what, path, strerror(errno));
	}
	do {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			if (cap > (16u << 20) || (buf = realloc(buf, cap)) == NULL) {
				fclose(f);
				bad_usage("%s %s is too large", what, path);
			}
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		int err = errno;
		fclose(f);
		bad_usage("cannot read %s %s: %s", what, path, strerror(err));
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static void
fail(const char *what, const char *detail, int rv)
{
	fprintf(stderr, PROG ": %s%s%s: %s\n", what, detail ? " " : "",
	    detail ? detail : "", nghttpw_strerror(rv));
}

/* Globals, so that an early exit leaves nothing unreachable behind. */
static nghttpw_url          *url;
static nghttpw_tls_config   *tls;
static nghttpw_http_server  *srv;

/* The directory handler's open-file cache (--cache-*); the library's
 * defaults until an option is given. */
struct cache_options {
	long   revalidate; /* ms */
	size_t entries;
	size_t bytes;
	size_t small;
};

struct options {
	const char *listen;
	const char *cert;
	const char *key;
	const char *dir;
	const char *ws_echo; /* the endpoint's path, or NULL */
	bool        ws_deflate;
	long        threads; /* 0: the library's default */
	long        tls_hs_ms; /* 0: the library's default */
	const char *tls_ciphers; /* NULL: the library's defaults */
	const char *tls_curves;
	long        hsts; /* max-age in seconds; -1: none */
	bool        quiet;
	bool        no_listing;
	bool        dotfiles;
	bool        outside_links;
	const char *health; /* the health check's path, or NULL */
	long        workers; /* 0: serve in this process */
	bool        reuseport;
	long        stop_ms; /* -1: the library's default */
	bool        proxy_protocol;
	const char *trusted_proxies; /* NULL: none */
	long        log_buffer; /* bytes; -1: the default */
	long        log_flush_ms; /* -1: the default */
	struct cache_options cache;
};

/* --log-buffer SIZE (bytes, or KiB and MiB with k and m) or --log-flush
 * MS, from optarg. */
static void
parse_log_option(bool buffer, struct options *o)
{
	char *end;
	long  v, unit = 1;

	errno = 0;
	v     = strtol(optarg, &end, 10);
	if (buffer && (*end == 'k' || *end == 'K')) {
		unit = 1024;
		end++;
	} else if (buffer && (*end == 'm' || *end == 'M')) {
		unit = 1024 * 1024;
		end++;
	}
	if (buffer && (errno != 0 || end == optarg || *end != '\0' ||
	                  optarg[0] == '-' || v < 0 || v > LOG_BUFFER_MAX / unit)) {
		bad_usage("--log-buffer: '%s' is not a size from 0 to %um", optarg,
		    LOG_BUFFER_MAX >> 20);
	}
	if (!buffer && (errno != 0 || end == optarg || *end != '\0' || v < 1 ||
	                   v > INT32_MAX)) {
		bad_usage("--log-flush: '%s' is not a number of milliseconds", optarg);
	}
	if (buffer) {
		o->log_buffer = v * unit;
	} else {
		o->log_flush_ms = v;
	}
}

/* A --cache-* option (c) and its argument into o; false for another
 * option. */
static bool
parse_cache_option(int c, const char *arg, struct cache_options *o)
{
	static const char *const names[] = { "--cache-revalidate",
		"--cache-entries", "--cache-bytes", "--cache-small" };
	unsigned long long v;
	char              *end;
	int                i = c - OPT_CACHE_REVALIDATE;

	if (c < OPT_CACHE_REVALIDATE || c > OPT_CACHE_SMALL) {
		return false;
	}
	errno = 0;
	v     = strtoull(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' ||
	    v > (c == OPT_CACHE_REVALIDATE ? INT32_MAX : SIZE_MAX)) {
		bad_usage("%s: '%s' is not a number%s", names[i], arg,
		    c == OPT_CACHE_REVALIDATE ? " of milliseconds" : "");
	}
	switch (c) {
	case OPT_CACHE_REVALIDATE:
		o->revalidate = (long) v;
		break;
	case OPT_CACHE_ENTRIES:
		o->entries = (size_t) v;
		break;
	case OPT_CACHE_BYTES:
		o->bytes = (size_t) v;
		break;
	default:
		o->small = (size_t) v;
		break;
	}
	return true;
}

static void
cache_defaults(struct cache_options *o)
{
	/* As nghttpw_http_handler_set_file_cache(3) gives them. */
	o->revalidate = 1000;
	o->entries    = 1000;
	o->bytes      = 64u * 1024u * 1024u;
	o->small      = 16u * 1024u;
}

/* optarg as a decimal number from min to max; exits 2 otherwise. */
static long
number_arg(const char *opt, long min, long max)
{
	char *end;
	long  v;

	errno = 0;
	v     = strtol(optarg, &end, 10);
	if (errno != 0 || end == optarg || *end != '\0' || v < min || v > max) {
		bad_usage("%s: '%s' is not a number from %ld to %ld", opt, optarg,
		    min, max);
	}
	return (v);
}

static void
parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "threads", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "no-listing", no_argument, NULL, OPT_NO_LISTING },
		{ "dotfiles", no_argument, NULL, OPT_DOTFILES },
		{ "health", required_argument, NULL, OPT_HEALTH },
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ "reuseport", no_argument, NULL, OPT_REUSEPORT },
		{ "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
		{ "proxy-protocol", no_argument, NULL, OPT_PROXY_PROTOCOL },
		{ "trusted-proxies", required_argument, NULL, OPT_TRUSTED_PROXIES },
		{ "outside-links", no_argument, NULL, OPT_OUTSIDE_LINKS },
		{ "ws-echo", required_argument, NULL, OPT_WS_ECHO },
		{ "ws-deflate", no_argument, NULL, OPT_WS_DEFLATE },
		{ "tls-handshake-timeout", required_argument, NULL,
		    OPT_TLS_HS_TIMEOUT },
		{ "tls-ciphers", required_argument, NULL, OPT_TLS_CIPHERS },
		{ "tls-curves", required_argument, NULL, OPT_TLS_CURVES },
		{ "hsts", required_argument, NULL, OPT_HSTS },
		{ "log-buffer", required_argument, NULL, OPT_LOG_BUFFER },
		{ "log-flush", required_argument, NULL, OPT_LOG_FLUSH },
		{ "cache-revalidate", required_argument, NULL, OPT_CACHE_REVALIDATE },
		{ "cache-entries", required_argument, NULL, OPT_CACHE_ENTRIES },
		{ "cache-bytes", required_argument, NULL, OPT_CACHE_BYTES },
		{ "cache-small", required_argument, NULL, OPT_CACHE_SMALL },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int   c;
	char *end;

	memset(o, 0, sizeof(*o));
	o->hsts         = -1;
	o->log_buffer   = -1;
	o->log_flush_ms = -1;
	o->stop_ms      = -1;
	cache_defaults(&o->cache);
	opterr = 0; /* our own messages */
	while ((c = getopt_long(argc, argv, ":l:c:k:t:qh", longopts, NULL)) != -1) {
		if (parse_cache_option(c, optarg, &o->cache)) {
			continue;
		}
		switch (c) {
		case 'l':
			o->listen = optarg;
			break;
		case 'c':
			o->cert = optarg;
			break;
		case 'k':
			o->key = optarg;
			break;
		case 't':
			o->threads = number_arg("--threads", 1, MAX_THREADS);
			break;
		case 'q':
			o->quiet = true;
			break;
		case OPT_NO_LISTING:
			o->no_listing = true;
			break;
		case OPT_DOTFILES:
			o->dotfiles = true;
			break;
		case OPT_OUTSIDE_LINKS:
			o->outside_links = true;
			break;
		case OPT_HEALTH:
			if (optarg[0] != '/' || strpbrk(optarg, "?# \t\r\n") != NULL) {
				bad_usage("--health: '%s' is not a path such as /healthz",
				    optarg);
			}
			o->health = optarg;
			break;
		case OPT_WORKERS:
			o->workers = number_arg("--workers", 1, MAX_WORKERS);
			break;
		case OPT_REUSEPORT:
			o->reuseport = true;
			break;
		case OPT_STOP_TIMEOUT:
			o->stop_ms = number_arg("--stop-timeout", 0, INT32_MAX);
			break;
		case OPT_PROXY_PROTOCOL:
			o->proxy_protocol = true;
			break;
		case OPT_TRUSTED_PROXIES:
			o->trusted_proxies = optarg;
			break;
		case OPT_WS_ECHO:
			if (optarg[0] != '/' || strpbrk(optarg, "?# \t\r\n") != NULL) {
				bad_usage("--ws-echo: '%s' is not a path such as /ws", optarg);
			}
			o->ws_echo = optarg;
			break;
		case OPT_WS_DEFLATE:
			o->ws_deflate = true;
			break;
		case OPT_TLS_HS_TIMEOUT:
			errno        = 0;
			o->tls_hs_ms = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    o->tls_hs_ms < 1 || o->tls_hs_ms > INT32_MAX) {
				bad_usage("--tls-handshake-timeout: '%s' is not a "
				          "number of milliseconds",
				    optarg);
			}
			break;
		case OPT_TLS_CIPHERS:
			o->tls_ciphers = optarg;
			break;
		case OPT_TLS_CURVES:
			o->tls_curves = optarg;
			break;
		case OPT_HSTS:
			errno   = 0;
			o->hsts = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    optarg[0] == '-' || o->hsts < 0 || o->hsts > INT32_MAX) {
				bad_usage("--hsts: '%s' is not a number of seconds", optarg);
			}
			break;
		case OPT_LOG_BUFFER:
		case OPT_LOG_FLUSH:
			parse_log_option(c == OPT_LOG_BUFFER, o);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			bad_usage("%s needs an argument", argv[optind - 1]);
			break;
		default:
			if (optopt != 0) {
				bad_usage("unknown option '-%c'", optopt);
			}
			bad_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind > 1) {
		bad_usage("one directory at most ('%s' is extra)", argv[optind + 1]);
	}
	o->dir = (optind < argc) ? argv[optind] : ".";
	if ((o->cert == NULL) != (o->key == NULL)) {
		bad_usage("--cert and --key go together");
	}
	if (o->ws_deflate && o->ws_echo == NULL) {
		bad_usage("--ws-deflate needs --ws-echo");
	}
	if (o->tls_hs_ms != 0 && o->cert == NULL) {
		bad_usage("--tls-handshake-timeout needs --cert and --key");
	}
	if (o->tls_ciphers != NULL && o->cert == NULL) {
		bad_usage("--tls-ciphers needs --cert and --key");
	}
	if (o->tls_curves != NULL && o->cert == NULL) {
		bad_usage("--tls-curves needs --cert and --key");
	}
	/* Browsers ignore the field over plain http (RFC 6797). */
	if (o->hsts >= 0 && o->cert == NULL) {
		bad_usage("--hsts needs --cert and --key");
	}
	if (o->quiet && (o->log_buffer >= 0 || o->log_flush_ms >= 0)) {
		bad_usage("--log-buffer and --log-flush are for the log, which "
		          "--quiet turns off");
	}
	if (o->listen == NULL) {
		o->listen = (o->cert != NULL) ? DEFAULT_HTTPS : DEFAULT_HTTP;
	}
}

/* TLS from the two PEM files and the lists; exits 2 on bad ones.  It
 * offers http/1.1 by ALPN, as browsers and curl expect of https. */
static nghttpw_tls_config *
tls_setup(const struct options *o)
{
	static const char *const alpn[] = { "http/1.1", NULL };
	nghttpw_tls_config      *cfg;
	char                    *cert = slurp("certificate", o->cert);
	char                    *key  = slurp("key", o->key);
	int                      rv;

	if ((rv = nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_SERVER)) != 0) {
		fail("TLS", NULL, rv);
		exit(1);
	}
	if ((rv = nghttpw_tls_config_own_cert(cfg, cert, key, NULL)) != 0) {
		free(cert);
		free(key);
		nghttpw_tls_config_free(cfg);
		bad_usage("--cert %s / --key %s: %s", o->cert, o->key,
		    nghttpw_strerror(rv));
	}
	free(cert);
	free(key);
	if (o->tls_ciphers != NULL &&
	    (rv = nghttpw_tls_config_ciphers(cfg, o->tls_ciphers)) != 0) {
		nghttpw_tls_config_free(cfg);
		bad_usage("--tls-ciphers '%s': %s", o->tls_ciphers,
		    rv == NGHTTPW_EINVAL ? "a name is not that of a known cipher suite"
		                         : nghttpw_strerror(rv));
	}
	if (o->tls_curves != NULL &&
	    (rv = nghttpw_tls_config_curves(cfg, o->tls_curves)) != 0) {
		nghttpw_tls_config_free(cfg);
		bad_usage("--tls-curves '%s': %s", o->tls_curves,
		    rv == NGHTTPW_EINVAL ? "a name is not that of a known curve"
		                         : nghttpw_strerror(rv));
	}
	if ((rv = nghttpw_tls_config_alpn(cfg, alpn)) != 0) {
		nghttpw_tls_config_free(cfg);
		fail("TLS ALPN", NULL, rv);
		exit(1);
	}
	return cfg;
}

/* The handler's path: the URL's path, "/" when it has none. */
static const char *
mount_path(const nghttpw_url *u)
{
	return (u->u_path != NULL && u->u_path[0] == '/') ? u->u_path : "/";
}

/* The port the server is bound to (the chosen one for port 0). */
static unsigned
bound_port(nghttpw_http_server *s, const nghttpw_url *u)
{
	nghttpw_sockaddr sa;
	unsigned         port = 0;

	if (nghttpw_http_server_get_addr(s, &sa) == 0) {
		if (sa.s_family == NGHTTPW_AF_INET) {
			port = ntohs(sa.s_in.sa_port);
		} else if (sa.s_family == NGHTTPW_AF_INET6) {
			port = ntohs(sa.s_in6.sa_port);
		}
	}
	return port != 0 ? port : (unsigned) strtoul(u->u_port, NULL, 10);
}

/* "http://127.0.0.1:8080/" with the port actually bound. */
static void
print_url(unsigned port, const nghttpw_url *u, const char *dir)
{
	const char *host = u->u_hostname;
	const char *path = mount_path(u);
	bool        v6   = strchr(host, ':') != NULL;
	size_t      plen = strlen(path);

	if (*host == '\0') {
		host = "0.0.0.0";
	}
	printf("Serving %s on %s://%s%s%s:%u%s%s\n", dir, u->u_scheme,
	    v6 ? "[" : "", host, v6 ? "]" : "", port, path,
	    (plen > 0 && path[plen - 1] == '/') ? "" : "/");
	fflush(stdout);
}

/* ---------------------------------------------------- --ws-echo */

/* One WebSocket connection: its aio receives a message into buf, then
 * sends it back, in turn.  Everything here is under ws_mtx. */
typedef struct echo_conn {
	struct echo_conn *next;
	struct echo_conn *prev;
	nghttpw_stream   *s;
	nghttpw_aio      *aio;
	nghttpw_aio      *cl; /* the closing handshake at the end */
	unsigned          flags;
	bool              sending;
	uint8_t           buf[]; /* WS_ECHO_MAX */
} echo_conn;

static pthread_mutex_t          ws_mtx = PTHREAD_MUTEX_INITIALIZER;
static nghttpw_stream_listener *ws_l;
static nghttpw_aio             *ws_acc;
static echo_conn                ws_conns = { .next = &ws_conns, .prev = &ws_conns };
static bool                     ws_stopping; /* main closes them all */

static void
echo_recv(echo_conn *c)
{
	nghttpw_iov iov = { c->buf, WS_ECHO_MAX };

	c->sending = false;
	nghttpw_aio_set_iov(c->aio, 1, &iov);
	nghttpw_ws_recv_msg(c->s, &c->flags, c->aio);
}

static void
echo_free(echo_conn *c, bool reap)
{
	if (reap) {
		/* From its own callback: the library frees them later. */
		nghttpw_aio_reap(c->aio);
		nghttpw_aio_reap(c->cl);
	} else {
		nghttpw_aio_free(c->aio);
		nghttpw_aio_free(c->cl);
	}
	if (c->s != NULL) {
		nghttpw_stream_free(c->s);
	}
	free(c);
}

static void
echo_cb(void *arg)
{
	echo_conn *c  = arg;
	int        rv = nghttpw_aio_result(c->aio);

	pthread_mutex_lock(&ws_mtx);
	if (ws_stopping) {
		/* ws_echo_stop closes and frees it. */
	} else if (rv != 0) {
		/* Closed, or failed: either way it is over. */
		c->prev->next = c->next;
		c->next->prev = c->prev;
		echo_free(c, true);
	} else if (!c->sending) {
		nghttpw_iov iov = { c->buf, nghttpw_aio_count(c->aio) };
		nghttpw_aio_set_iov(c->aio, 1, &iov);
		c->sending = true;
		nghttpw_ws_send_msg(c->s, c->flags, c->aio);
	} else {
		echo_recv(c);
	}
	pthread_mutex_unlock(&ws_mtx);
}

static void
echo_accept_cb(void *arg)
{
	int             rv = nghttpw_aio_result(ws_acc);
	nghttpw_stream *s  = rv == 0 ? nghttpw_aio_get_output(ws_acc, 0) : NULL;
	echo_conn      *c;

	(void) arg;
	pthread_mutex_lock(&ws_mtx);
	/* Even once stopping: ws_echo_stop, which waits for this callback,
	 * then gives it its 1001 too. */
	if (rv != 0) {
		if (rv != NGHTTPW_ECLOSED) {
			fail("WebSocket accept", NULL, rv);
		}
	} else if ((c = calloc(1, sizeof(*c) + WS_ECHO_MAX)) == NULL ||
	    nghttpw_aio_alloc(&c->aio, echo_cb, c) != 0 ||
	    nghttpw_aio_alloc(&c->cl, NULL, NULL) != 0) {
		fail("WebSocket connection", NULL, NGHTTPW_ENOMEM);
		if (c != NULL) {
			echo_free(c, false);
		}
		nghttpw_stream_free(s);
	} else {
		c->s                = s;
		c->prev             = ws_conns.prev;
		c->next             = &ws_conns;
		ws_conns.prev->next = c;
		ws_conns.prev       = c;
		echo_recv(c);
	}
	if (!ws_stopping && rv != NGHTTPW_ECLOSED) {
		nghttpw_stream_listener_accept(ws_l, ws_acc);
	}
	pthread_mutex_unlock(&ws_mtx);
}

/* The echo endpoint at path, on the server of u, bound to port.  The
 * library gives a ws:// listener the HTTP server that serves its URL's
 * address: the same host and the port bound (not 0, which would ask for
 * a port of its own). */
static int
ws_echo_start(const nghttpw_url *u, unsigned port, const char *path, bool deflate)
{
	const char *host = u->u_hostname;
	bool        v6   = strchr(host, ':') != NULL;
	char       *ws_url;
	size_t      len = strlen(host) + strlen(path) + 32;
	int         rv;

	if ((ws_url = malloc(len)) == NULL) {
		return NGHTTPW_ENOMEM;
	}
	snprintf(ws_url, len, "%s://%s%s%s:%u%s",
	    strcmp(u->u_scheme, "https") == 0 ? "wss" : "ws", v6 ? "[" : "", host,
	    v6 ? "]" : "", port, path);
	rv = nghttpw_stream_listener_alloc(&ws_l, ws_url);
	free(ws_url);
	if (rv != 0) {
		return rv;
	}
	/* Messages whole in one buffer, in frames of any size up to it. */
	if ((rv = nghttpw_stream_listener_set_size(ws_l, NGHTTPW_OPT_RECVMAXSZ, WS_ECHO_MAX)) != 0 ||
	    (rv = nghttpw_stream_listener_set_size(
	         ws_l, NGHTTPW_OPT_WS_RECVMAXFRAME, WS_ECHO_MAX)) != 0 ||
	    (rv = nghttpw_stream_listener_set_bool(ws_l, NGHTTPW_OPT_WS_DEFLATE, deflate)) != 0 ||
	    (rv = nghttpw_aio_alloc(&ws_acc, echo_accept_cb, NULL)) != 0 ||
	    (rv = nghttpw_stream_listener_listen(ws_l)) != 0) {
		return rv;
	}
	nghttpw_stream_listener_accept(ws_l, ws_acc);
	return 0;
}

/* Closes every WebSocket with 1001 at once, waits (WS_CLOSE_MS at most),
 * and frees them and the listener. */
static void
ws_echo_stop(void)
{
	echo_conn *c, *next;

	pthread_mutex_lock(&ws_mtx);
	ws_stopping = true; /* the callbacks leave the list alone now */
	pthread_mutex_unlock(&ws_mtx);
	nghttpw_stream_listener_close(ws_l);
	nghttpw_aio_stop(ws_acc);
	for (c = ws_conns.next; c != &ws_conns; c = c->next) {
		nghttpw_aio_set_timeout(c->cl, WS_CLOSE_MS);
		nghttpw_ws_close(c->s, NGHTTPW_WS_STATUS_GOING_AWAY, NULL, c->cl);
	}
	for (c = ws_conns.next; c != &ws_conns; c = next) {
		next = c->next;
		nghttpw_aio_wait(c->cl);
		echo_free(c, false);
	}
	ws_conns.next = ws_conns.prev = &ws_conns;
	nghttpw_aio_free(ws_acc);
	nghttpw_stream_listener_free(ws_l); /* and its hold on the server */
}

/* ------------------------------------------------------- the log */

/* The access log on standard output, in buffers of --log-buffer bytes;
 * by default none on a terminal, where someone reads the lines as they
 * come (as stdio buffers by lines there). */
static int
log_start(nghttpw_http_server *s, struct options *o)
{
	long threads = o->threads > 0 ? o->threads : sysconf(_SC_NPROCESSORS_ONLN);
	int  rv;

	if (o->log_buffer < 0) {
		o->log_buffer = isatty(STDOUT_FILENO) ? 0 : ACCESS_LOG_BUFFER;
	}
	/* As the library counts its threads. */
	threads = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
	if ((rv = access_log_open(STDOUT_FILENO, (size_t) o->log_buffer,
	         (unsigned) threads)) != 0) {
		return rv;
	}
	return nghttpw_http_server_set_log(s, access_log_line, NULL);
}

/* How often the buffers are written out, in ms: 0 when lines are
 * written at once. */
static long
flush_ms(const struct options *o)
{
	if (o->log_buffer == 0) {
		return 0;
	}
	return o->log_flush_ms >= 0 ? o->log_flush_ms : LOG_FLUSH_MS;
}

/* ---------------------------------------------------------- --health */

/* 200 "ok": the process serves.  A draining one has stopped listening,
 * which a balancer sees as a failed check. */
static void
health_cb(nghttpw_aio *aio)
{
	nghttpw_http_res *res;
	int               rv;

	if ((rv = nghttpw_http_res_alloc(&res)) != 0 ||
	    (rv = nghttpw_http_res_set_header(res, "Content-Type", "text/plain")) != 0 ||
	    (rv = nghttpw_http_res_set_header(res, "Cache-Control", "no-store")) != 0 ||
	    (rv = nghttpw_http_res_set_data(res, "ok\n", 3)) != 0) {
		nghttpw_http_res_free(res);
		nghttpw_aio_finish(aio, rv);
		return;
	}
	nghttpw_aio_set_output(aio, 0, res);
	nghttpw_aio_finish(aio, 0);
}

static int
health_start(nghttpw_http_server *s, const char *path)
{
	nghttpw_http_handler *h;
	int                   rv;

	if ((rv = nghttpw_http_handler_alloc(&h, path, health_cb)) != 0) {
		return (rv);
	}
	if ((rv = nghttpw_http_server_add_handler(s, h)) != 0) {
		nghttpw_http_handler_free(h);
	}
	return (rv);
}

/* ------------------------------------------------------------- main */

/* Waits for SIGINT or SIGTERM and returns it, writing out the log every
 * ms milliseconds meanwhile (never when ms is 0). */
static int
wait_for_signal(const sigset_t *sigs, long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	int             sig;

	for (;;) {
		if (ms == 0) {
			if (sigwait(sigs, &sig) == 0) {
				return sig;
			}
		} else if ((sig = sigtimedwait(sigs, NULL, &ts)) > 0) {
			return sig;
		} else if (errno == EAGAIN) {
			access_log_flush();
		}
	}
}

int
main(int argc, char **argv)
{
	struct options        o;
	sigset_t              sigs;
	nghttpw_http_handler *h = NULL;
	struct stat           st;
	bool                  https;
	bool                  worker = false;
	int                   listen_fd, sig, rv;

	/* Before any thread exists, so that every thread inherits it: the
	 * signals are taken by sigwait() below and nowhere else. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGCHLD); /* for the supervisor of --workers */
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sigdelset(&sigs, SIGCHLD);
	signal(SIGPIPE, SIG_IGN);

	parse_args(argc, argv, &o);

	if (nghttpw_url_parse(&url, o.listen) != 0) {
		bad_usage("--listen: '%s' is not a valid http:// or https:// URL", o.listen);
	}
	https = strcmp(url->u_scheme, "https") == 0;
	if (!https && strcmp(url->u_scheme, "http") != 0) {
		bad_usage("--listen: '%s' is neither http:// nor https://", o.listen);
	}
	if (https && o.cert == NULL) {
		bad_usage("--listen %s needs --cert and --key", o.listen);
	}
	if (!https && o.cert != NULL) {
		bad_usage("--cert and --key need an https:// URL, not %s", o.listen);
	}
	if (stat(o.dir, &st) != 0) {
		bad_usage("%s: %s", o.dir, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode)) {
		bad_usage("%s is not a directory", o.dir);
	}
	listen_fd = listen_socket_from_systemd();
	if (o.workers > 0) {
		/* Before nghttpw starts a thread: the workers fork from here. */
		if (listen_fd < 0 &&
		    (listen_fd = listen_socket_bind(url->u_hostname,
		         url->u_port[0] != '\0' ? url->u_port : (https ? "443" : "80"),
		         o.reuseport)) < 0) {
			nghttpw_url_free(url);
			return (1);
		}
		print_url(listen_socket_port(listen_fd), url, o.dir);
		workers_run((int) o.workers, listen_fd,
		    (o.stop_ms >= 0 ? o.stop_ms : STOP_TIMEOUT_DEFAULT_MS) +
		        DRAIN_MARGIN_MS);
		worker = true;
	}
	if (o.threads > 0) {
		nghttpw_init_set_parameter(
		    NGHTTPW_INIT_NUM_POLLER_THREADS, (uint64_t) o.threads);
	}
	if (https) {
		tls = tls_setup(&o);
	}

	if ((rv = nghttpw_http_server_hold(&srv, url)) != 0) {
		fail("cannot serve", o.listen, rv);
		goto out;
	}
	if ((listen_fd >= 0 &&
	        (rv = nghttpw_http_server_set_listen_fd(srv, listen_fd)) != 0) ||
	    (o.reuseport && (rv = nghttpw_http_server_set_reuseport(srv, true)) != 0) ||
	    (o.proxy_protocol &&
	        (rv = nghttpw_http_server_set_proxy_protocol(srv, true)) != 0) ||
	    (o.stop_ms >= 0 &&
	        (rv = nghttpw_http_server_set_stop_timeout(
	             srv, (nghttpw_duration) o.stop_ms)) != 0)) {
		fail("the listening socket", NULL, rv);
		goto out;
	}
	if (nghttpw_http_server_set_trusted_proxies(srv, o.trusted_proxies) != 0) {
		bad_usage("--trusted-proxies: '%s' is not a list of addresses and "
		          "prefixes such as 10.0.0.0/8,::1",
		    o.trusted_proxies);
	}
	if (tls != NULL && (rv = nghttpw_http_server_set_tls(srv, tls)) != 0) {
		fail("TLS", NULL, rv);
		goto out;
	}
	if (o.tls_hs_ms != 0 &&
	    (rv = nghttpw_http_server_set_tls_handshake_timeout(
	         srv, (nghttpw_duration) o.tls_hs_ms)) != 0) {
		fail("TLS handshake timeout", NULL, rv);
		goto out;
	}
	if (o.hsts >= 0) {
		char value[32];
		snprintf(value, sizeof(value), "max-age=%ld", o.hsts);
		/* On every answer, the server's own error pages too. */
		if ((rv = nghttpw_http_server_set_header(
		         srv, "Strict-Transport-Security", value)) != 0) {
			fail("HSTS", NULL, rv);
			goto out;
		}
	}
	if (!o.quiet && (rv = log_start(srv, &o)) != 0) {
		fail("access log", NULL, rv);
		goto out;
	}
	if ((rv = nghttpw_http_handler_alloc_directory(&h, mount_path(url), o.dir)) != 0) {
		fail("directory handler for", mount_path(url), rv);
		goto out;
	}
	/* A directory owns its tree (as in nng); the echo endpoint goes
	 * inside it, so the tree is made an ordinary one. */
	if ((o.ws_echo != NULL || o.health != NULL) &&
	    (rv = nghttpw_http_handler_set_tree(h)) != 0) {
		nghttpw_http_handler_free(h);
		fail("directory handler for", mount_path(url), rv);
		goto out;
	}
	if (!o.no_listing && (rv = nghttpw_http_handler_set_listing(h, true)) != 0) {
		nghttpw_http_handler_free(h);
		fail("directory listings", NULL, rv);
		goto out;
	}
	if ((rv = nghttpw_http_handler_set_dotfiles(h, o.dotfiles)) != 0 ||
	    (rv = nghttpw_http_handler_set_outside_links(h, o.outside_links)) != 0) {
		nghttpw_http_handler_free(h);
		fail("directory settings", NULL, rv);
		goto out;
	}
	if ((rv = nghttpw_http_handler_set_file_cache(h,
	         (nghttpw_duration) o.cache.revalidate, o.cache.entries,
	         o.cache.bytes, o.cache.small)) != 0) {
		nghttpw_http_handler_free(h);
		fail("the file cache", NULL, rv);
		goto out;
	}
	if ((rv = nghttpw_http_server_add_handler(srv, h)) != 0) {
		nghttpw_http_handler_free(h);
		fail("adding the handler", NULL, rv);
		goto out;
	}
	if (o.health != NULL && (rv = health_start(srv, o.health)) != 0) {
		fail("the health check at", o.health, rv);
		goto out;
	}
	if ((rv = nghttpw_http_server_start(srv)) != 0) {
		fail("cannot listen on", o.listen, rv);
		goto out;
	}
	if (o.ws_echo != NULL &&
	    (rv = ws_echo_start(url, bound_port(srv, url), o.ws_echo, o.ws_deflate)) != 0) {
		fail("WebSocket echo at", o.ws_echo, rv);
		goto out;
	}
	if (!worker) {
		print_url(bound_port(srv, url), url, o.dir);
	}

	sig = wait_for_signal(&sigs, o.quiet ? 0 : flush_ms(&o));
	fprintf(stderr, PROG ": %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	rv = 0;

out:
	if (o.ws_echo != NULL) {
		ws_echo_stop();
	}
	nghttpw_http_server_stop(srv);
	if (srv != NULL) {
		nghttpw_http_server_release(srv); /* and its handler */
	}
	if (tls != NULL) {
		nghttpw_tls_config_free(tls);
	}
	nghttpw_url_free(url);
	nghttpw_fini();
	/* No thread logs any more: the rest of the log goes out. */
	if (!o.quiet) {
		access_log_close();
	}
	return rv == 0 ? 0 : 1;
}
