/* The HTTP client through a forward proxy: its settings (from the caller
 * or curl's environment variables) and the CONNECT tunnel that https, ws
 * and wss origins are reached through.
 *
 * Plain http goes to the proxy as to an origin: its connections carry
 * the absolute-form prefix and the credentials (http_conn_set_via), so
 * that the caller's request is never changed.  A tunnel is a few steps of
 * the dial, all on the op's own aio (a cancel or the connect timeout
 * stops whichever runs): the CONNECT request, the proxy's answer, then for
 * TLS origins the handshake over the tunnel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/aio.h"
#include "http/http_client_impl.h"
#include "http/http_proxy.h"
#include "tls/tls_over.h"

/* The head of the proxy's answer to CONNECT is read into this much. */
#define TUNNEL_HEAD_MAX 4096

/* ------------------------------------------------------------ settings */

void
client_proxy_clear(nghttpw_http_client *cl)
{
	nghttpw_stream_dialer_free(cl->proxy_dialer);
	free(cl->via_prefix);
	free(cl->proxy_auth);
	free(cl->authority);
	cl->proxy_dialer = NULL;
	cl->via_prefix   = NULL;
	cl->proxy_auth   = NULL;
	cl->authority    = NULL;
	cl->tunnel       = false;
}

/* "host:port" of the origin, brackets kept for IPv6; and "http://" in
 * front of it in *prefixp. */
static int
origin_authority(const nghttpw_url *url, char **authp, char **prefixp)
{
	const char *host = url->u_hostname != NULL ? url->u_hostname : "";
	bool        v6   = strchr(host, ':') != NULL;
	size_t      len  = strlen(host) + strlen(url->u_port) + 16;
	char       *auth = malloc(len);
	char       *prefix = malloc(len + 7);

	if (auth == NULL || prefix == NULL) {
		free(auth);
		free(prefix);
		return (NGHTTPW_ENOMEM);
	}
	snprintf(auth, len, "%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "",
	    url->u_port);
	snprintf(prefix, len + 7, "http://%s", auth);
	*authp   = auth;
	*prefixp = prefix;
	return (0);
}

int
nghttpw_http_client_set_proxy(
    nghttpw_http_client *cl, const char *proxy, const char *no_proxy)
{
	http_proxy             p      = { NULL, NULL, NULL };
	nghttpw_stream_dialer *d      = NULL;
	char                  *auth   = NULL;
	char                  *prefix = NULL;
	nghttpw_stream_dialer *old_dialer;
	char                  *old_auth;
	char                  *old_prefix;
	char                  *old_cred;
	char                  *durl;
	size_t                 len;
	int                    rv;

	if (cl == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if (proxy != NULL && proxy[0] != '\0') {
		if ((rv = http_proxy_parse(proxy, &p)) != 0) {
			return (rv);
		}
		if (http_no_proxy_match(no_proxy, cl->url->u_hostname)) {
			/* The origin is exempt: no proxy for this client. */
			http_proxy_fini(&p);
			proxy = NULL;
		}
	} else {
		proxy = NULL;
	}
	if (proxy != NULL) {
		len = strlen(p.host) + strlen(p.port) + 8;
		if ((durl = malloc(len)) == NULL) {
			rv = NGHTTPW_ENOMEM;
		} else {
			snprintf(durl, len, "tcp://%s:%s", p.host, p.port);
			rv = nghttpw_stream_dialer_alloc(&d, durl);
			free(durl);
		}
		if (rv == 0) {
			rv = origin_authority(cl->url, &auth, &prefix);
		}
		if (rv != 0) {
			nghttpw_stream_dialer_free(d);
			http_proxy_fini(&p);
			return (rv);
		}
	}
	plat_mutex_lock(&cl->mtx);
	/* The old settings go into the new ones' place, and are freed once
	 * the lock is let go. */
	old_dialer       = cl->proxy_dialer;
	old_auth         = cl->authority;
	old_prefix       = cl->via_prefix;
	old_cred         = cl->proxy_auth;
	cl->proxy_dialer = d;
	cl->authority    = auth;
	cl->via_prefix   = prefix;
	cl->proxy_auth   = p.auth_line; /* NULL without a proxy */
	cl->tunnel       = false;
	cl->origin_tls   = false;
	if (proxy != NULL) {
		const char *scheme = cl->url->u_scheme;
		p.auth_line        = NULL;
		/* Proxies seldom pass an upgrade on: ws goes through a
		 * tunnel too, as with curl. */
		cl->tunnel     = strcmp(scheme, "http") != 0;
		cl->origin_tls = strncmp(scheme, "https", 5) == 0 ||
		    strncmp(scheme, "wss", 3) == 0;
	}
	/* Idle connections went the other way. */
	while (cl->nidle > 0) {
		nghttpw_http_conn_close(cl->idle[--cl->nidle]);
	}
	cl->generation++;
	plat_mutex_unlock(&cl->mtx);
	/* A dial to the old proxy still in progress fails (ECLOSED). */
	nghttpw_stream_dialer_free(old_dialer);
	free(old_auth);
	free(old_prefix);
	free(old_cred);
	http_proxy_fini(&p);
	return (0);
}

/* The first of the variables that is set. */
static const char *
env_first(const char *a, const char *b)
{
	const char *v = getenv(a);

	if (v == NULL && b != NULL) {
		v = getenv(b);
	}
	return (v);
}

int
nghttpw_http_client_set_proxy_env(nghttpw_http_client *cl)
{
	const char *proxy;
	const char *scheme;

	if (cl == NULL) {
		return (NGHTTPW_EINVAL);
	}
	scheme = cl->url->u_scheme;
	if (strncmp(scheme, "https", 5) == 0 || strncmp(scheme, "wss", 3) == 0) {
		proxy = env_first("https_proxy", "HTTPS_PROXY");
	} else {
		/* Not HTTP_PROXY: a CGI program finds a request's Proxy
		 * header there ("httpoxy"), so curl ignores it too. */
		proxy = env_first("http_proxy", NULL);
	}
	return (nghttpw_http_client_set_proxy(
	    cl, proxy, env_first("no_proxy", "NO_PROXY")));
}

/* -------------------------------------------------------------- tunnel */

/* Lock held. */
static void
tunnel_fail(client_op *op, int rv)
{
	nghttpw_stream_free(op->tun);
	op->tun = NULL;
	free(op->tun_buf);
	op->tun_buf = NULL;
	client_dialed(op, op->abort_rv != 0 ? op->abort_rv : rv, NULL);
}

/* Lock held. */
static void
tunnel_send(client_op *op)
{
	op->stage   = ST_TUNNEL_SEND;
	op->tun_iov = (nghttpw_iov) { op->tun_buf + op->tun_off,
		op->tun_len - op->tun_off };
	nghttpw_aio_set_iov(op->aio, 1, &op->tun_iov);
	client_dial_bound(op);
	nghttpw_stream_send(op->tun, op->aio);
}

/* Lock held. */
static void
tunnel_recv(client_op *op)
{
	op->stage   = ST_TUNNEL_RECV;
	op->tun_iov = (nghttpw_iov) { op->tun_buf + op->tun_len,
		TUNNEL_HEAD_MAX - op->tun_len };
	nghttpw_aio_set_iov(op->aio, 1, &op->tun_iov);
	client_dial_bound(op);
	nghttpw_stream_recv(op->tun, op->aio);
}

void
client_tunnel_start(client_op *op, nghttpw_stream *s)
{
	int rv;

	op->tun     = s;
	op->tun_off = 0;
	if ((rv = http_proxy_connect_req(op->cl->authority, op->cl->proxy_auth,
	         &op->tun_buf, &op->tun_len)) != 0) {
		tunnel_fail(op, rv);
		return;
	}
	tunnel_send(op);
}

/* The proxy answered: the tunnel is open on 2xx.  Lock held. */
static void
tunnel_answered(client_op *op, unsigned status, size_t head_len)
{
	nghttpw_http_client *cl = op->cl;
	nghttpw_stream      *s  = op->tun;
	nghttpw_tls_config  *cfg;
	void                *p;

	if (status / 100 != 2) {
		/* 407: the proxy wants (other) credentials. */
		tunnel_fail(op, status == 407 ? NGHTTPW_EPERM : NGHTTPW_ECONNREFUSED);
		return;
	}
	if (head_len != op->tun_len) {
		/* The origin cannot have spoken yet. */
		tunnel_fail(op, NGHTTPW_EPROTO);
		return;
	}
	free(op->tun_buf);
	op->tun_buf = NULL;
	op->tun     = NULL;
	if (!cl->origin_tls) {
		client_dialed(op, 0, s);
		return;
	}
	/* The origin's TLS configuration is its dialer's (set_tls). */
	cfg = NULL;
	if (nghttpw_stream_dialer_get_ptr(cl->dialer, CLIENT_OPT_TLS, &p) == 0) {
		cfg = p;
	}
	op->stage = ST_TUNNEL_TLS;
	client_dial_bound(op);
	tls_client_over(s, cfg, cl->url->u_hostname, op->aio);
}

void
client_tunnel_step(client_op *op, int rv)
{
	long     head_len;
	unsigned status;

	if (op->stage == ST_TUNNEL_TLS) {
		/* A stream made just as the caller gave up is freed there. */
		client_dialed(op, rv, rv == 0 ? nghttpw_aio_get_output(op->aio, 0) : NULL);
		return;
	}
	if (op->abort_rv != 0) {
		rv = op->abort_rv;
	}
	if (rv != 0) {
		tunnel_fail(op, rv);
		return;
	}
	if (op->stage == ST_TUNNEL_SEND) {
		op->tun_off += nghttpw_aio_count(op->aio);
		if (op->tun_off < op->tun_len) {
			tunnel_send(op);
			return;
		}
		/* The request is out: its buffer takes the answer. */
		free(op->tun_buf);
		if ((op->tun_buf = malloc(TUNNEL_HEAD_MAX)) == NULL) {
			tunnel_fail(op, NGHTTPW_ENOMEM);
			return;
		}
		op->tun_len = 0;
		tunnel_recv(op);
		return;
	}
	if (nghttpw_aio_count(op->aio) == 0) {
		tunnel_fail(op, NGHTTPW_ECLOSED);
		return;
	}
	op->tun_len += nghttpw_aio_count(op->aio);
	head_len = http_proxy_connect_res(
	    op->tun_buf, op->tun_len, TUNNEL_HEAD_MAX, &status);
	if (head_len < 0) {
		tunnel_fail(op, NGHTTPW_EPROTO);
	} else if (head_len == 0) {
		tunnel_recv(op);
	} else {
		tunnel_answered(op, status, (size_t) head_len);
	}
}
