/*
 * nghttpw-ws: a WebSocket client and server for the terminal, in the
 * manner of wscat.
 *
 *   nghttpw-ws [OPTIONS] ws://HOST[:PORT]/PATH     (or wss://)
 *   nghttpw-ws --listen ws://HOST:PORT/PATH [--broadcast] [OPTIONS]
 *
 * The client sends each line of standard input as one message and prints
 * each message it receives.  The server echoes every message to its
 * sender, or with --broadcast to every client.
 *
 * Only the public API (include/nghttpw/) is used.  SIGINT and SIGTERM,
 * and SIGUSR1 with which the other threads wake the main thread, are
 * blocked in every thread and taken with sigwait() by the main thread.
 *
 * Exit status: 0 when the session ends normally (end of input, a close
 * with 1000 or 1001 by the server, or a signal), 1 when the connection
 * fails or the server closes with another code, 2 for bad arguments.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nghttpw/nghttpw.h>
#include <nghttpw/tls.h>
#include <nghttpw/ws.h>

#define PROG "nghttpw-ws"
#define DEFAULT_MAX_SIZE (16u << 20)
#define MAX_MAX_SIZE (1u << 30) /* each connection reserves this much */
#define CLOSE_MS 3000           /* for our closing handshakes */
#define READ_CHUNK 65536
#define MAX_HEADER_NAME 256
#define SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

/* Long options without a short form. */
enum {
	OPT_CACERT = 256,
	OPT_MAX_SIZE,
	OPT_BROADCAST,
	OPT_CERT,
	OPT_KEY,
	OPT_DEFLATE,
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " [OPTIONS] ws://HOST[:PORT]/PATH   (or wss://)\n"
	    "       " PROG " --listen ws://HOST:PORT/PATH [OPTIONS]\n"
	    "\n"
	    "Client: sends each line of standard input (without its newline)\n"
	    "as one message and prints each message received: text as it is,\n"
	    "binary in hex, one per line.  At the end of input it closes with\n"
	    "1000.  Server (--listen): sends every message back to its sender.\n"
	    "\n"
	    "  -b, --binary             send lines as binary messages (default:\n"
	    "                           text)\n"
	    "  -o, --output FILE        append binary messages received to FILE\n"
	    "                           as they are, instead of printing hex\n"
	    "  -H, --header 'Name: value'\n"
	    "                           add a header to the opening request\n"
	    "                           (repeatable)\n"
	    "  -s, --subprotocol LIST   subprotocols, comma-separated: offered\n"
	    "                           (client), or those accepted (server)\n"
	    "      --cacert FILE        verify wss:// servers with the CAs in FILE\n"
	    "  -k, --insecure           do not verify wss:// servers\n"
	    "      --max-size N         largest message received, in bytes, or\n"
	    "                           with a K or M suffix (default 16M)\n"
	    "      --deflate            offer (client) or accept (server)\n"
	    "                           permessage-deflate compression\n"
	    "  -l, --listen URL         serve on URL (port 0 picks a free port)\n"
	    "      --broadcast          with --listen: send each message to\n"
	    "                           every client instead (a chat)\n"
	    "      --cert FILE          with --listen wss://: certificate (PEM)\n"
	    "      --key FILE           with --listen wss://: private key (PEM)\n"
	    "  -h, --help               print this and exit\n"
	    "\n"
	    "The client exits 0 at the end of input or when the server closes\n"
	    "with 1000 or 1001 (printing 'closed CODE REASON' on standard\n"
	    "error), 1 when it cannot connect or the server closes otherwise.\n"
	    "The server prints 'listening on URL' and runs until SIGINT or\n"
	    "SIGTERM, then closes every connection with 1001 and exits 0.\n"
	    "Bad arguments exit 2.\n");
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

static void
fail(const char *what, const char *detail, int rv)
{
	fprintf(stderr, PROG ": %s%s%s: %s\n", what, detail ? " " : "",
	    detail ? detail : "", nghttpw_strerror(rv));
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

/* ------------------------------------------------------------ options */

struct options {
	const char  *url;    /* the client's */
	const char  *listen; /* the server's */
	const char  *output;
	const char  *protocols;
	const char  *cacert;
	const char  *cert;
	const char  *key;
	const char **headers; /* -H, as given */
	size_t       nheaders;
	size_t       max_size;
	bool         binary;
	bool         insecure;
	bool         broadcast;
	bool         deflate;
};

/* "1048576", "64K", "16M": bytes, from 1 to MAX_MAX_SIZE. */
static size_t
parse_size(const char *arg)
{
	char              *end;
	unsigned long long v;
	unsigned           shift = 0;

	errno = 0;
	v     = strtoull(arg, &end, 10);
	if (*end == 'K' || *end == 'k') {
		shift = 10;
		end++;
	} else if (*end == 'M' || *end == 'm') {
		shift = 20;
		end++;
	}
	if (errno != 0 || !isdigit((unsigned char) arg[0]) || *end != '\0' || v < 1 ||
	    v > (MAX_MAX_SIZE >> shift)) {
		bad_usage("--max-size: '%s' is not a size from 1 to 1024M", arg);
	}
	return (size_t) v << shift;
}

/* -H 'Name: value': a name (of at most MAX_HEADER_NAME bytes), a colon,
 * a value, on one line. */
static void
check_header(const char *h)
{
	const char *colon = strchr(h, ':');

	if (colon == NULL || colon == h || (size_t) (colon - h) > MAX_HEADER_NAME ||
	    strcspn(h, " \t") < (size_t) (colon - h) || strpbrk(h, "\r\n") != NULL) {
		bad_usage("-H: '%s' is not 'Name: value'", h);
	}
}

static void
parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "binary", no_argument, NULL, 'b' },
		{ "output", required_argument, NULL, 'o' },
		{ "header", required_argument, NULL, 'H' },
		{ "subprotocol", required_argument, NULL, 's' },
		{ "cacert", required_argument, NULL, OPT_CACERT },
		{ "insecure", no_argument, NULL, 'k' },
		{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
		{ "listen", required_argument, NULL, 'l' },
		{ "broadcast", no_argument, NULL, OPT_BROADCAST },
		{ "cert", required_argument, NULL, OPT_CERT },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "deflate", no_argument, NULL, OPT_DEFLATE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool client_opt = false; /* one that only the client takes */
	int  c;

	memset(o, 0, sizeof(*o));
	o->max_size = DEFAULT_MAX_SIZE;
	/* Room for every -H there could be. */
	if ((o->headers = calloc((size_t) argc, sizeof(*o->headers))) == NULL) {
		bad_usage("out of memory");
	}
	opterr = 0; /* our own messages */
	while ((c = getopt_long(argc, argv, ":bo:H:s:kl:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			o->binary  = true;
			client_opt = true;
			break;
		case 'o':
			o->output  = optarg;
			client_opt = true;
			break;
		case 'H':
			check_header(optarg);
			o->headers[o->nheaders++] = optarg;
			client_opt                = true;
			break;
		case 's':
			o->protocols = optarg;
			break;
		case OPT_CACERT:
			o->cacert  = optarg;
			client_opt = true;
			break;
		case 'k':
			o->insecure = true;
			client_opt  = true;
			break;
		case OPT_MAX_SIZE:
			o->max_size = parse_size(optarg);
			break;
		case 'l':
			o->listen = optarg;
			break;
		case OPT_BROADCAST:
			o->broadcast = true;
			break;
		case OPT_CERT:
			o->cert = optarg;
			break;
		case OPT_KEY:
			o->key = optarg;
			break;
		case OPT_DEFLATE:
			o->deflate = true;
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
	if (o->listen != NULL) {
		if (optind < argc) {
			bad_usage("--listen takes no other URL ('%s')", argv[optind]);
		}
		if (client_opt) {
			bad_usage("-b, -o, -H, --cacert and -k are for the client, "
			          "not with --listen");
		}
		if ((o->cert == NULL) != (o->key == NULL)) {
			bad_usage("--cert and --key go together");
		}
		return;
	}
	if (o->broadcast || o->cert != NULL || o->key != NULL) {
		bad_usage("--broadcast, --cert and --key need --listen");
	}
	if (optind >= argc) {
		bad_usage("no URL");
	}
	if (argc - optind > 1) {
		bad_usage("one URL only ('%s' is extra)", argv[optind + 1]);
	}
	o->url = argv[optind];
	if (o->cacert != NULL && o->insecure) {
		bad_usage("--cacert and --insecure contradict each other");
	}
}

/* The URL's scheme: false for ws, true for wss; exits 2 for others. */
static bool
scheme_is_wss(const char *opt, const char *arg, nghttpw_url **up)
{
	if (nghttpw_url_parse(up, arg) != 0) {
		bad_usage("%s'%s' is not a valid URL", opt, arg);
	}
	if (strcmp((*up)->u_scheme, "wss") == 0) {
		return true;
	}
	if (strcmp((*up)->u_scheme, "ws") != 0) {
		nghttpw_url_free(*up);
		bad_usage("%s'%s' is neither ws:// nor wss://", opt, arg);
	}
	return false;
}

/* ------------------------------------------------ waking the main thread */

/* SIGINT, SIGTERM, and SIGUSR1: threads and callbacks that change the
 * state below send SIGUSR1 to the main thread, which waits in sigwait()
 * and so sees signals and events alike. */
static sigset_t        sigs;
static pthread_t       main_thread;
static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;

static void
wake_main(void)
{
	pthread_kill(main_thread, SIGUSR1);
}

/* Waits until done() holds (false) or SIGINT or SIGTERM comes (true).
 * A wake-up sent between the check and sigwait() stays pending, so none
 * is lost. */
static bool
wait_until(bool (*done)(void))
{
	int sig;

	for (;;) {
		pthread_mutex_lock(&mtx);
		bool d = done();
		pthread_mutex_unlock(&mtx);
		if (d) {
			return false;
		}
		if (sigwait(&sigs, &sig) == 0 && sig != SIGUSR1) {
			fprintf(stderr, PROG ": %s\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
			return true;
		}
	}
}

/* For a wait that only a signal ends. */
static bool
never(void)
{
	return false;
}

/* ------------------------------------------------------------ client */

/* The client's state. */
static struct {
	nghttpw_stream *s;
	nghttpw_aio    *rx; /* the receiving thread's */
	nghttpw_aio    *tx; /* the input thread's */
	uint8_t        *buf;
	size_t          max;
	FILE           *bin; /* -o FILE, or NULL */
	bool            binary;
	int             quit[2]; /* closing quit[1] stops the input thread */

	/* Under mtx: */
	bool dialed;
	bool input_done;
	bool input_err; /* reading standard input failed */
	int  send_err;
	bool recv_done;
	int  recv_err; /* the library's, or 0 with out_err */
	int  out_err;  /* errno of a failed write to standard output */
} cl;

static bool
dial_over(void)
{
	return cl.dialed;
}

/* The session is over when receiving is (the server closed, or the
 * connection is gone), or input ended with every line sent.  A send that
 * failed means the connection is gone: receiving says how. */
static bool
session_over(void)
{
	return cl.recv_done || (cl.input_done && cl.send_err == 0);
}

static void
dial_cb(void *arg)
{
	(void) arg;
	pthread_mutex_lock(&mtx);
	cl.dialed = true;
	pthread_mutex_unlock(&mtx);
	wake_main();
}

/* One message on standard output, or binary to -o FILE; false when the
 * write failed.  Only the receiving thread writes there. */
static bool
print_msg(const uint8_t *p, size_t n, unsigned flags)
{
	static const char digits[] = "0123456789abcdef";
	char              hex[8192];
	size_t            k = 0;

	if (flags == NGHTTPW_WS_TEXT) {
		fwrite(p, 1, n, stdout);
		putchar('\n');
		return fflush(stdout) == 0;
	}
	if (cl.bin != NULL) {
		fwrite(p, 1, n, cl.bin);
		return fflush(cl.bin) == 0;
	}
	for (size_t i = 0; i < n; i++) {
		hex[k++] = digits[p[i] >> 4];
		hex[k++] = digits[p[i] & 0xf];
		if (k == sizeof(hex)) {
			fwrite(hex, 1, k, stdout);
			k = 0;
		}
	}
	hex[k++] = '\n';
	fwrite(hex, 1, k, stdout);
	return fflush(stdout) == 0;
}

/* The receiving thread: one message at a time, printed whole, so lines
 * never mix. */
static void *
receiver(void *arg)
{
	unsigned flags;
	int      rv, err = 0;

	(void) arg;
	for (;;) {
		nghttpw_iov iov = { cl.buf, cl.max };
		nghttpw_aio_set_iov(cl.rx, 1, &iov);
		nghttpw_ws_recv_msg(cl.s, &flags, cl.rx);
		nghttpw_aio_wait(cl.rx);
		if ((rv = nghttpw_aio_result(cl.rx)) != 0) {
			break;
		}
		if (!print_msg(cl.buf, nghttpw_aio_count(cl.rx), flags)) {
			err = errno;
			break;
		}
	}
	pthread_mutex_lock(&mtx);
	cl.recv_done = true;
	cl.recv_err  = rv;
	cl.out_err   = err;
	pthread_mutex_unlock(&mtx);
	wake_main();
	return NULL;
}

/* Sends one line; false when the connection is gone. */
static bool
send_line(char *line, size_t len, unsigned long lineno)
{
	nghttpw_iov iov = { line, len };
	int         rv;

	nghttpw_aio_set_iov(cl.tx, 1, &iov);
	nghttpw_ws_send_msg(cl.s, cl.binary ? NGHTTPW_WS_BINARY : NGHTTPW_WS_TEXT, cl.tx);
	nghttpw_aio_wait(cl.tx);
	if ((rv = nghttpw_aio_result(cl.tx)) == NGHTTPW_EINVAL && !cl.binary) {
		/* The library refuses text that is not UTF-8 (the server
		 * would fail the connection): skip the line. */
		fprintf(stderr, PROG ": line %lu is not UTF-8, not sent (see --binary)\n",
		    lineno);
		return true;
	}
	if (rv != 0) {
		pthread_mutex_lock(&mtx);
		cl.send_err = rv;
		pthread_mutex_unlock(&mtx);
		return false;
	}
	return true;
}

/* The input thread: reads standard input (and the quit pipe, so that it
 * can be stopped), sends each line.  A last line without a newline is
 * sent too. */
static void *
reader(void *arg)
{
	char         *buf = NULL;
	size_t        len = 0, cap = 0;
	unsigned long lineno = 0;
	bool          eof    = false, ok = true, err = false;

	(void) arg;
	while (ok && !eof) {
		struct pollfd p[2] = { { 0, POLLIN, 0 }, { cl.quit[0], POLLIN, 0 } };
		ssize_t       n;
		char         *nl, *start;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR) {
				continue;
			}
			fprintf(stderr, PROG ": poll: %s\n", strerror(errno));
			err = true;
			break;
		}
		if (p[1].revents != 0) {
			free(buf);
			return NULL; /* told to stop: the main thread is ending */
		}
		if (p[0].revents == 0) {
			continue;
		}
		if (cap - len < READ_CHUNK) {
			/* Doubling: a long line costs no more than twice itself. */
			size_t ncap = cap ? cap * 2 : 2 * READ_CHUNK;
			char  *b    = realloc(buf, ncap);
			if (b == NULL) {
				fputs(PROG ": out of memory for a line\n", stderr);
				err = true;
				break;
			}
			buf = b;
			cap = ncap;
		}
		if ((n = read(0, buf + len, cap - len)) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				continue;
			}
			fprintf(stderr, PROG ": reading standard input: %s\n", strerror(errno));
			err = true;
			break;
		}
		eof = n == 0;
		len += (size_t) n;
		start = buf;
		while (ok && (nl = memchr(start, '\n', len - (size_t) (start - buf))) != NULL) {
			ok    = send_line(start, (size_t) (nl - start), ++lineno);
			start = nl + 1;
		}
		len -= (size_t) (start - buf);
		memmove(buf, start, len);
	}
	if (ok && eof && len > 0) {
		send_line(buf, len, ++lineno);
	}
	free(buf);
	pthread_mutex_lock(&mtx);
	cl.input_done = true;
	cl.input_err  = err;
	pthread_mutex_unlock(&mtx);
	wake_main();
	return NULL;
}

/* A client TLS configuration for wss://: the server's name, the CAs of
 * --cacert or else the system's, and verification unless --insecure. */
static int
client_tls(nghttpw_stream_dialer *d, const nghttpw_url *u, const struct options *o)
{
	nghttpw_tls_config *cfg;
	int                 rv;

	if ((rv = nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_CLIENT)) != 0) {
		fail("TLS", NULL, rv);
		return rv;
	}
	if ((rv = nghttpw_tls_config_server_name(cfg, u->u_hostname)) != 0) {
		fail("TLS server name", u->u_hostname, rv);
	} else if (o->cacert != NULL &&
	    (rv = nghttpw_tls_config_ca_file(cfg, o->cacert)) != 0) {
		nghttpw_tls_config_free(cfg);
		bad_usage("--cacert %s: %s", o->cacert, nghttpw_strerror(rv));
	} else if (o->cacert == NULL && !o->insecure &&
	    access(SYSTEM_CA_FILE, R_OK) == 0 &&
	    (rv = nghttpw_tls_config_ca_file(cfg, SYSTEM_CA_FILE)) != 0) {
		fail("CA file", SYSTEM_CA_FILE, rv);
	} else if ((rv = nghttpw_tls_config_auth_mode(cfg,
	                o->insecure ? NGHTTPW_TLS_AUTH_MODE_NONE
	                            : NGHTTPW_TLS_AUTH_MODE_REQUIRED)) != 0) {
		fail("TLS verification", NULL, rv);
	} else if ((rv = nghttpw_stream_dialer_set_ptr(d, NGHTTPW_OPT_TLS_CONFIG, cfg)) != 0) {
		fail("TLS", NULL, rv);
	}
	/* The dialer holds its own reference. */
	nghttpw_tls_config_free(cfg);
	return rv;
}

/* The dialer's options: headers, subprotocols, sizes, TLS. */
static int
client_setup(nghttpw_stream_dialer *d, const nghttpw_url *u, bool wss,
    const struct options *o)
{
	char name[sizeof(NGHTTPW_OPT_WS_REQUEST_HEADER) + MAX_HEADER_NAME];
	int  rv;

	for (size_t i = 0; i < o->nheaders; i++) {
		const char *h     = o->headers[i];
		const char *colon = strchr(h, ':');
		const char *v     = colon + 1 + strspn(colon + 1, " \t");

		snprintf(name, sizeof(name), "%s%.*s", NGHTTPW_OPT_WS_REQUEST_HEADER,
		    (int) (colon - h), h);
		if ((rv = nghttpw_stream_dialer_set_string(d, name, v)) != 0) {
			fail("header", h, rv);
			return rv;
		}
	}
	if (o->protocols != NULL &&
	    (rv = nghttpw_stream_dialer_set_string(
	         d, NGHTTPW_OPT_WS_PROTOCOL, o->protocols)) != 0) {
		fail("subprotocols", o->protocols, rv);
		return rv;
	}
	if (o->deflate &&
	    (rv = nghttpw_stream_dialer_set_bool(d, NGHTTPW_OPT_WS_DEFLATE, true)) != 0) {
		fail("--deflate", NULL, rv);
		return rv;
	}
	/* A message of one frame must fit too: frames get the same limit. */
	if ((rv = nghttpw_stream_dialer_set_size(d, NGHTTPW_OPT_RECVMAXSZ, o->max_size)) != 0 ||
	    (rv = nghttpw_stream_dialer_set_size(
	         d, NGHTTPW_OPT_WS_RECVMAXFRAME, o->max_size)) != 0) {
		fail("--max-size", NULL, rv);
		return rv;
	}
	return wss ? client_tls(d, u, o) : 0;
}

/* After the session: what the server's close said, and the exit status. */
static int
client_report(void)
{
	int   code   = 0;
	char *reason = NULL;

	if (cl.out_err != 0) {
		fprintf(stderr, PROG ": writing the output: %s\n", strerror(cl.out_err));
		return 1;
	}
	if (cl.recv_err == NGHTTPW_EMSGSIZE) {
		fprintf(stderr, PROG ": a message larger than %zu bytes (--max-size)\n",
		    cl.max);
		return 1;
	}
	if (cl.recv_err != NGHTTPW_ECLOSED) {
		fail("receiving", NULL, cl.recv_err);
		return 1;
	}
	(void) nghttpw_stream_get_int(cl.s, NGHTTPW_OPT_WS_CLOSE_CODE, &code);
	(void) nghttpw_stream_get_string(cl.s, NGHTTPW_OPT_WS_CLOSE_REASON, &reason);
	fprintf(stderr, "closed %d%s%s\n", code,
	    reason != NULL && *reason != '\0' ? " " : "", reason != NULL ? reason : "");
	nghttpw_strfree(reason);
	return code == NGHTTPW_WS_STATUS_NORMAL || code == NGHTTPW_WS_STATUS_GOING_AWAY ? 0 : 1;
}

static int
run_client(const struct options *o)
{
	nghttpw_url           *u;
	bool                   wss = scheme_is_wss("", o->url, &u);
	nghttpw_stream_dialer *d   = NULL;
	nghttpw_aio           *dial = NULL, *close_aio = NULL;
	pthread_t              rd, rcv;
	bool                   threads = false, recv_over, interrupted;
	int                    rv, status = 1;

	if (!wss && (o->cacert != NULL || o->insecure)) {
		nghttpw_url_free(u);
		bad_usage("--cacert and --insecure need a wss:// URL");
	}
	cl.max     = o->max_size;
	cl.binary  = o->binary;
	cl.quit[0] = cl.quit[1] = -1;
	if (o->output != NULL && (cl.bin = fopen(o->output, "ab")) == NULL) {
		nghttpw_url_free(u);
		bad_usage("cannot open %s: %s", o->output, strerror(errno));
	}
	if ((cl.buf = malloc(cl.max)) == NULL) {
		fail("a receive buffer", NULL, NGHTTPW_ENOMEM);
		goto out;
	}
	if (pipe(cl.quit) != 0) {
		fprintf(stderr, PROG ": pipe: %s\n", strerror(errno));
		goto out;
	}
	if ((rv = nghttpw_stream_dialer_alloc_url(&d, u)) != 0) {
		fail("cannot dial", o->url, rv);
		goto out;
	}
	if ((rv = client_setup(d, u, wss, o)) != 0) {
		goto out;
	}
	if ((rv = nghttpw_aio_alloc(&dial, dial_cb, NULL)) != 0 ||
	    (rv = nghttpw_aio_alloc(&cl.rx, NULL, NULL)) != 0 ||
	    (rv = nghttpw_aio_alloc(&cl.tx, NULL, NULL)) != 0 ||
	    (rv = nghttpw_aio_alloc(&close_aio, NULL, NULL)) != 0) {
		fail("aio", NULL, rv);
		goto out;
	}

	nghttpw_stream_dialer_dial(d, dial);
	if (wait_until(dial_over)) {
		nghttpw_aio_stop(dial);
		if (nghttpw_aio_result(dial) == 0) {
			nghttpw_stream_free(nghttpw_aio_get_output(dial, 0));
		}
		goto out; /* not connected: 1 */
	}
	if ((rv = nghttpw_aio_result(dial)) != 0) {
		fail("cannot connect to", o->url, rv);
		goto out;
	}
	cl.s = nghttpw_aio_get_output(dial, 0);

	if (pthread_create(&rcv, NULL, receiver, NULL) != 0) {
		fputs(PROG ": cannot start a thread\n", stderr);
		goto out;
	}
	if (pthread_create(&rd, NULL, reader, NULL) != 0) {
		fputs(PROG ": cannot start a thread\n", stderr);
		nghttpw_aio_stop(cl.rx);
		pthread_join(rcv, NULL);
		goto out;
	}
	threads = true;

	interrupted = wait_until(session_over);
	pthread_mutex_lock(&mtx);
	recv_over = cl.recv_done;
	pthread_mutex_unlock(&mtx);
	if (!recv_over || cl.out_err != 0) {
		/* End of input, a signal, or output we cannot write: we close
		 * (a receive that then fails is not news), within CLOSE_MS. */
		nghttpw_aio_set_timeout(close_aio, CLOSE_MS);
		nghttpw_ws_close(cl.s,
		    interrupted || recv_over ? NGHTTPW_WS_STATUS_GOING_AWAY
		                             : NGHTTPW_WS_STATUS_NORMAL,
		    NULL, close_aio);
		nghttpw_aio_wait(close_aio);
	}
	status = recv_over ? client_report() : cl.input_err ? 1 : 0;

out:
	if (threads) {
		/* The input thread may wait for input or for a send. */
		close(cl.quit[1]);
		cl.quit[1] = -1;
		nghttpw_aio_stop(cl.tx);
		pthread_join(rd, NULL);
		nghttpw_aio_stop(cl.rx);
		pthread_join(rcv, NULL);
	}
	if (cl.s != NULL) {
		/* After a close of the server's, the library would go on with
		 * the closing handshake after nghttpw_stream_free, and
		 * nghttpw_fini could cut it short and leave its connection
		 * behind: stop ends it here first (our answer is out by then). */
		nghttpw_stream_stop(cl.s);
		nghttpw_stream_free(cl.s);
	}
	nghttpw_aio_free(dial);
	nghttpw_aio_free(cl.rx);
	nghttpw_aio_free(cl.tx);
	nghttpw_aio_free(close_aio);
	nghttpw_stream_dialer_free(d);
	nghttpw_url_free(u);
	if (cl.quit[0] >= 0) {
		close(cl.quit[0]);
	}
	if (cl.quit[1] >= 0) {
		close(cl.quit[1]);
	}
	if (cl.bin != NULL && fclose(cl.bin) != 0) {
		fprintf(stderr, PROG ": %s: %s\n", o->output, strerror(errno));
		status = 1;
	}
	free(cl.buf);
	return status;
}

/* ------------------------------------------------------------ server */

/* One connection.  Everything here is under mtx.  A message received
 * stays in its buffer while the connections it goes to (itself, or every
 * one with --broadcast) send it; the next receive waits until the last
 * of them has, so that a slow client holds up its senders instead of
 * making the server queue without bound. */
typedef struct peer {
	struct peer    *next;
	struct peer    *prev;
	nghttpw_stream *s;
	nghttpw_aio    *rx;
	nghttpw_aio    *tx;
	nghttpw_aio    *cl; /* the closing handshake at the end */
	uint8_t        *buf;
	size_t          len;   /* of the message in buf */
	unsigned        flags; /* its type */
	unsigned        refs;  /* connections that still have to send it */
	struct peer   **outq;  /* whose messages to send, in order */
	size_t          nout;
	size_t          capout;
	bool            sending;
	bool            rx_over; /* its receive failed: no more */
	bool            dead;    /* nothing more is sent to it */
} peer;

static struct {
	nghttpw_stream_listener *l;
	nghttpw_aio             *acc;
	peer                     head; /* of the circular list of peers */
	size_t                   max;
	bool                     broadcast;
	bool                     stopping; /* the main thread ends it all */
} sv;

static void
peer_recv(peer *p)
{
	nghttpw_iov iov = { p->buf, sv.max };

	nghttpw_aio_set_iov(p->rx, 1, &iov);
	nghttpw_ws_recv_msg(p->s, &p->flags, p->rx);
}

static void
peer_send_next(peer *p)
{
	if (p->nout > 0 && !p->sending) {
		peer       *from = p->outq[0];
		nghttpw_iov iov  = { from->buf, from->len };

		nghttpw_aio_set_iov(p->tx, 1, &iov);
		p->sending = true;
		nghttpw_ws_send_msg(p->s, from->flags, p->tx);
	}
}

/* from's message was sent (or given up) by one more connection. */
static void
msg_done(peer *from)
{
	if (--from->refs == 0) {
		peer_recv(from);
	}
}

static peer *
peer_dequeue(peer *p)
{
	peer *from = p->outq[0];

	memmove(p->outq, p->outq + 1, --p->nout * sizeof(*p->outq));
	return from;
}

static void
peer_free(peer *p, bool reap)
{
	if (reap) {
		/* From a callback of its own: the library frees them later. */
		nghttpw_aio_reap(p->rx);
		nghttpw_aio_reap(p->tx);
		nghttpw_aio_reap(p->cl);
	} else {
		nghttpw_aio_free(p->rx);
		nghttpw_aio_free(p->tx);
		nghttpw_aio_free(p->cl);
	}
	if (p->s != NULL) {
		nghttpw_stream_free(p->s);
	}
	free(p->outq);
	free(p->buf);
	free(p);
}

/* Nothing more goes to p; once neither its send nor its receive is
 * pending, it goes.  Its buffer is no other connection's to send then:
 * a receive is pending, and so can fail, only once its last message has
 * been sent by all. */
static void
peer_kill(peer *p)
{
	p->dead = true;
	if (p->sending) {
		return; /* its callback comes back here */
	}
	while (p->nout > 0) {
		msg_done(peer_dequeue(p));
	}
	if (p->rx_over) {
		p->prev->next = p->next;
		p->next->prev = p->prev;
		peer_free(p, true);
	}
}

/* p's message, now in its buffer: to p, or to every live connection. */
static void
deliver(peer *p, size_t len)
{
	p->len  = len;
	p->refs = 1; /* ours, while handing it out */
	for (peer *q = sv.head.next; q != &sv.head; q = q->next) {
		if ((q != p && !sv.broadcast) || q->dead) {
			continue;
		}
		if (q->nout == q->capout) {
			size_t cap = q->capout ? q->capout * 2 : 4;
			peer **v   = realloc(q->outq, cap * sizeof(*v));
			if (v == NULL) {
				continue; /* q misses this one */
			}
			q->outq   = v;
			q->capout = cap;
		}
		q->outq[q->nout++] = p;
		p->refs++;
		peer_send_next(q);
	}
	msg_done(p);
}

static void
rx_cb(void *arg)
{
	peer *p  = arg;
	int   rv = nghttpw_aio_result(p->rx);

	pthread_mutex_lock(&mtx);
	if (!sv.stopping) {
		if (rv != 0) {
			p->rx_over = true;
			peer_kill(p);
		} else {
			deliver(p, nghttpw_aio_count(p->rx));
		}
	}
	pthread_mutex_unlock(&mtx);
}

static void
tx_cb(void *arg)
{
	peer *p  = arg;
	int   rv = nghttpw_aio_result(p->tx);

	pthread_mutex_lock(&mtx);
	if (!sv.stopping) {
		p->sending = false;
		msg_done(peer_dequeue(p));
		if (rv != 0) {
			/* Its receive fails too, now or when it starts. */
			nghttpw_stream_close(p->s);
			p->dead = true;
		}
		if (p->dead) {
			peer_kill(p);
		} else {
			peer_send_next(p);
		}
	}
	pthread_mutex_unlock(&mtx);
}

/* A new connection, with its buffer of --max-size bytes, taken now: the
 * library reads a message only into room for all of it. */
static peer *
peer_new(nghttpw_stream *s)
{
	peer *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		return NULL;
	}
	if ((p->buf = malloc(sv.max)) == NULL ||
	    nghttpw_aio_alloc(&p->rx, rx_cb, p) != 0 ||
	    nghttpw_aio_alloc(&p->tx, tx_cb, p) != 0 ||
	    nghttpw_aio_alloc(&p->cl, NULL, NULL) != 0) {
		peer_free(p, false); /* no operation yet: nothing to wait for */
		return NULL;
	}
	p->s = s;
	return p;
}

static void
accept_cb(void *arg)
{
	int             rv = nghttpw_aio_result(sv.acc);
	nghttpw_stream *s  = rv == 0 ? nghttpw_aio_get_output(sv.acc, 0) : NULL;
	peer           *p;

	(void) arg;
	pthread_mutex_lock(&mtx);
	/* Even once stopping: close_all, which waits for this callback,
	 * then gives it its 1001 too. */
	if (rv == 0 && (p = peer_new(s)) == NULL) {
		fail("a connection", NULL, NGHTTPW_ENOMEM);
		nghttpw_stream_free(s);
	} else if (rv == 0) {
		p->prev            = sv.head.prev;
		p->next            = &sv.head;
		sv.head.prev->next = p;
		sv.head.prev       = p;
		peer_recv(p);
	} else if (rv != NGHTTPW_ECLOSED) {
		fail("accept", NULL, rv);
	}
	if (!sv.stopping && rv != NGHTTPW_ECLOSED) {
		nghttpw_stream_listener_accept(sv.l, sv.acc);
	}
	pthread_mutex_unlock(&mtx);
}

/* A server TLS configuration from the two PEM files; exits 2 on bad
 * files. */
static int
server_tls(const struct options *o)
{
	nghttpw_tls_config *cfg;
	char               *cert = slurp("certificate", o->cert);
	char               *key  = slurp("key", o->key);
	int                 rv;

	if ((rv = nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_SERVER)) != 0) {
		fail("TLS", NULL, rv);
	} else if ((rv = nghttpw_tls_config_own_cert(cfg, cert, key, NULL)) != 0) {
		free(cert);
		free(key);
		nghttpw_tls_config_free(cfg);
		nghttpw_stream_listener_free(sv.l);
		bad_usage("--cert %s / --key %s: %s", o->cert, o->key,
		    nghttpw_strerror(rv));
	} else {
		if ((rv = nghttpw_stream_listener_set_ptr(sv.l, NGHTTPW_OPT_TLS_CONFIG, cfg)) != 0) {
			fail("TLS", NULL, rv);
		}
		nghttpw_tls_config_free(cfg); /* the listener holds its own */
	}
	free(cert);
	free(key);
	return rv;
}

/* "listening on ws://127.0.0.1:PORT/PATH" with the port bound. */
static void
print_listening(const nghttpw_url *u, int port)
{
	const char *host = u->u_hostname;
	bool        v6   = strchr(host, ':') != NULL;

	if (*host == '\0') {
		host = "0.0.0.0";
	}
	printf("listening on %s://%s%s%s:%d%s\n", u->u_scheme, v6 ? "[" : "", host,
	    v6 ? "]" : "", port, u->u_path[0] != '\0' ? u->u_path : "/");
	fflush(stdout);
}

/* Closes every connection with 1001 at once, waits (CLOSE_MS at most),
 * then frees them. */
static void
close_all(void)
{
	peer *p, *next;

	pthread_mutex_lock(&mtx);
	for (p = sv.head.next; p != &sv.head; p = p->next) {
		nghttpw_aio_set_timeout(p->cl, CLOSE_MS);
		nghttpw_ws_close(p->s, NGHTTPW_WS_STATUS_GOING_AWAY, NULL, p->cl);
	}
	pthread_mutex_unlock(&mtx);
	/* sv.stopping: the callbacks leave the list alone now. */
	for (p = sv.head.next; p != &sv.head; p = p->next) {
		nghttpw_aio_wait(p->cl);
	}
	/* A send may be from another connection's buffer: all stop first. */
	for (p = sv.head.next; p != &sv.head; p = p->next) {
		nghttpw_aio_stop(p->rx);
		nghttpw_aio_stop(p->tx);
	}
	for (p = sv.head.next; p != &sv.head; p = next) {
		next = p->next;
		peer_free(p, false);
	}
	sv.head.next = sv.head.prev = &sv.head;
}

static int
run_server(const struct options *o)
{
	nghttpw_url *u;
	bool         wss = scheme_is_wss("--listen: ", o->listen, &u);
	int          port, rv;

	if (wss != (o->cert != NULL)) {
		nghttpw_url_free(u);
		bad_usage(wss ? "--listen %s needs --cert and --key"
		              : "--cert and --key need a wss:// URL, not %s",
		    o->listen);
	}
	sv.max       = o->max_size;
	sv.broadcast = o->broadcast;
	sv.head.next = sv.head.prev = &sv.head;
	if ((rv = nghttpw_stream_listener_alloc_url(&sv.l, u)) != 0) {
		fail("cannot listen on", o->listen, rv);
		goto out;
	}
	/* Messages of up to --max-size, in frames of up to as much. */
	if ((o->protocols != NULL &&
	        (rv = nghttpw_stream_listener_set_string(
	             sv.l, NGHTTPW_OPT_WS_PROTOCOL, o->protocols)) != 0) ||
	    (o->deflate &&
	        (rv = nghttpw_stream_listener_set_bool(sv.l, NGHTTPW_OPT_WS_DEFLATE, true)) != 0) ||
	    (rv = nghttpw_stream_listener_set_size(sv.l, NGHTTPW_OPT_RECVMAXSZ, sv.max)) != 0 ||
	    (rv = nghttpw_stream_listener_set_size(
	         sv.l, NGHTTPW_OPT_WS_RECVMAXFRAME, sv.max)) != 0) {
		fail("listener options", NULL, rv);
		goto out;
	}
	if (wss && (rv = server_tls(o)) != 0) {
		goto out;
	}
	if ((rv = nghttpw_aio_alloc(&sv.acc, accept_cb, NULL)) != 0) {
		fail("aio", NULL, rv);
		goto out;
	}
	if ((rv = nghttpw_stream_listener_listen(sv.l)) != 0 ||
	    (rv = nghttpw_stream_listener_get_int(sv.l, NGHTTPW_OPT_TCP_BOUND_PORT, &port)) != 0) {
		fail("cannot listen on", o->listen, rv);
		goto out;
	}
	nghttpw_stream_listener_accept(sv.l, sv.acc);
	print_listening(u, port);

	(void) wait_until(never);

	pthread_mutex_lock(&mtx);
	sv.stopping = true;
	pthread_mutex_unlock(&mtx);
	nghttpw_stream_listener_close(sv.l);
	nghttpw_aio_stop(sv.acc);
	close_all();

out:
	nghttpw_aio_free(sv.acc);
	nghttpw_stream_listener_free(sv.l);
	nghttpw_url_free(u);
	return rv == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct options o;
	int            status;

	/* Before any thread exists, so that every thread inherits it. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	main_thread = pthread_self();

	parse_args(argc, argv, &o);
	status = o.listen != NULL ? run_server(&o) : run_client(&o);
	free(o.headers);
	nghttpw_fini();
	return status;
}
