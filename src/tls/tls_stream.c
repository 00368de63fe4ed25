/* TLS streams: mbedTLS in non-blocking mode over a lower byte stream.
 *
 * mbedTLS reads and writes through two callbacks.  The receive callback
 * hands out bytes that an asynchronous recv on the lower stream put in a
 * buffer; when there are none it asks for a lower recv and says
 * WANT_READ.  The send callback does not copy: it points a lower send at
 * mbedTLS's own output buffer (which mbedTLS leaves alone until it has
 * been told the bytes went out) and says WANT_WRITE; when the send is done
 * the next call reports the bytes sent.  Every event (a user operation, a
 * lower operation done, a cancel, a close) runs the same pump under the
 * connection's mutex: handshake, then the head send and the head recv,
 * then start whatever lower operation mbedTLS asked for.  Nothing blocks.
 *
 * Lifetime: the user's reference plus one per lower operation in flight;
 * the last one frees.  A lower operation's callback can be the last, so
 * the freeing is queued on the loop, to run after that callback.
 *
 * What the connection says about its peer and its options is in
 * tls_peer.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/net_sockets.h>

#include "core/aio.h" /* aio_cancel_barrier */
#include "core/stream.h" /* stream_aio_alloc */
#include "tls/tls_conn_impl.h"

/* mbedTLS exports this in 2.x and 3.x but declares it in a private
 * header: it finishes writing what a previous call left half sent. */
int mbedtls_ssl_flush_output(mbedtls_ssl_context *ssl);

#define TLS_RXBUF_SIZE (32 * 1024)
#define TLS_COALESCE_MIN 2048  /* smaller iov entries are gathered */
#define TLS_LINGER_MS 2000     /* for close_notify and alerts at the end */
#define TLS_FLIGHT_MIN 4096    /* first size of the handshake flight buffer */
#define TLS_FLIGHT_MAX (64 * 1024)

/* What the BIO callbacks return when the lower stream failed; mbedTLS
 * passes them through. */
#define TLS_ERR_LOWER_RECV MBEDTLS_ERR_NET_RECV_FAILED
#define TLS_ERR_LOWER_SEND MBEDTLS_ERR_NET_SEND_FAILED

static void tls_pump(tls_conn *c);
static void tls_kick_send(tls_conn *c);

/* ------------------------------------------------------------ queues */

static int
aioq_reserve(aioq *q)
{
	if (q->n == q->cap) {
		size_t        cap = q->cap != 0 ? q->cap * 2 : 4;
		nghttpw_aio **v   = realloc(q->v, cap * sizeof(*v));
		if (v == NULL) {
			return (NGHTTPW_ENOMEM);
		}
		q->v   = v;
		q->cap = cap;
	}
	return (0);
}

static nghttpw_aio *
aioq_head(const aioq *q)
{
	return (q->n > 0 ? q->v[0] : NULL);
}

static void
aioq_remove_at(aioq *q, size_t i)
{
	memmove(&q->v[i], &q->v[i + 1], (q->n - i - 1) * sizeof(*q->v));
	q->n--;
}

static bool
aioq_find(const aioq *q, nghttpw_aio *aio, size_t *ip)
{
	for (size_t i = 0; i < q->n; i++) {
		if (q->v[i] == aio) {
			*ip = i;
			return (true);
		}
	}
	return (false);
}

static void
tls_finish_count(nghttpw_aio *aio, int rv, size_t count)
{
	nghttpw_aio_set_count(aio, count);
	nghttpw_aio_finish(aio, rv);
}

/* ------------------------------------------------------------ BIO */

static int
tls_bio_recv(void *arg, unsigned char *buf, size_t len)
{
	tls_conn *c = arg;
	size_t    n;

	if (c->rx_off < c->rx_len) {
		n = c->rx_len - c->rx_off;
		if (n > len) {
			n = len;
		}
		memcpy(buf, c->rxbuf + c->rx_off, n);
		c->rx_off += n;
		if (c->rx_off == c->rx_len && !c->rx_busy) {
			/* Not under a lower receive: it fills from rx_len. */
			c->rx_off = c->rx_len = 0;
		}
		return ((int) n);
	}
	if (c->rx_lower_err == NGHTTPW_ECLOSED) {
		return (0); /* end of stream */
	}
	if (c->rx_lower_err != 0) {
		return (TLS_ERR_LOWER_RECV);
	}
	c->rx_want = true;
	return (MBEDTLS_ERR_SSL_WANT_READ);
}

/* Takes a handshake record into the flight; false leaves it to the
 * direct path (a send is under way, or the flight cannot grow). */
static bool
tls_flight_add(tls_conn *c, const unsigned char *buf, size_t len)
{
	if (c->tx_busy || c->tx_start) {
		return (false);
	}
	if (c->flight_len + len > c->flight_cap) {
		size_t         cap = c->flight_cap != 0 ? c->flight_cap : TLS_FLIGHT_MIN;
		unsigned char *p;
		while (cap < c->flight_len + len) {
			cap *= 2;
		}
		if (cap > TLS_FLIGHT_MAX || (p = realloc(c->flight, cap)) == NULL) {
			return (false);
		}
		c->flight     = p;
		c->flight_cap = cap;
	}
	memcpy(c->flight + c->flight_len, buf, len);
	c->flight_len += len;
	return (true);
}

/* The flight's buffer is only needed until the handshake's last flight
 * is out: idle connections do not keep it. */
static void
tls_flight_trim(tls_conn *c)
{
	if (c->flight_len == 0 && c->state != ST_HANDSHAKE) {
		free(c->flight);
		c->flight     = NULL;
		c->flight_cap = 0;
	}
}

static void
tls_flight_sent(tls_conn *c, size_t n)
{
	memmove(c->flight, c->flight + n, c->flight_len - n);
	c->flight_len -= n;
	tls_flight_trim(c);
}

static bool
tls_tx_idle(const tls_conn *c)
{
	return (!c->tx_busy && !c->tx_start && c->flight_len == 0);
}

static int
tls_bio_send(void *arg, const unsigned char *buf, size_t len)
{
	tls_conn *c = arg;
	size_t    n;

	if (c->tx_lower_err != 0) {
		if (c->state == ST_HANDSHAKE && c->rx_lower_err == 0) {
			/* The peer hung up on our handshake, most likely
			 * after an alert saying why: carry on as if sent, so
			 * that mbedTLS reads what is waiting. */
			return ((int) len);
		}
		return (TLS_ERR_LOWER_SEND);
	}
	if (c->state == ST_HANDSHAKE && tls_flight_add(c, buf, len)) {
		return ((int) len);
	}
	if (c->tx_done > 0) {
		/* The lower send of the start of buf is over. */
		n          = c->tx_done < len ? c->tx_done : len;
		c->tx_done = 0;
		return ((int) n);
	}
	if (!c->tx_busy && !c->tx_start) {
		c->tx_ptr   = buf;
		c->tx_len   = len;
		c->tx_start = true;
	}
	return (MBEDTLS_ERR_SSL_WANT_WRITE);
}

static size_t
tls_out_left(tls_conn *c)
{
	return (c->ssl.TLS_PRIV(out_left));
}

/* ------------------------------------------------------------ errors */

static void
tls_errmsg(tls_conn *c, const char *fmt, const char *detail)
{
	snprintf(c->errmsg, sizeof(c->errmsg), fmt, detail);
	if (!c->closed) {
		/* What goes wrong while we close is nobody's concern. */
		tls_config_log(c->cfg, "tls %s %s: %s", c->client ? "to" : "from",
		    c->peer, c->errmsg);
	}
}

/* Alerts that say the peer did not accept our certificate (or lack of). */
static bool
tls_alert_is_auth(unsigned alert)
{
	switch (alert) {
	case 42: /* bad_certificate */
	case 43: /* unsupported_certificate */
	case 44: /* certificate_revoked */
	case 45: /* certificate_expired */
	case 46: /* certificate_unknown */
	case 48: /* unknown_ca */
	case 49: /* access_denied */
	case 116: /* certificate_required */
		return (true);
	default:
		return (false);
	}
}

static const char *
tls_alert_name(unsigned alert)
{
	static const struct {
		unsigned    code;
		const char *name;
	} names[] = {
		{ 10, "unexpected_message" }, { 20, "bad_record_mac" },
		{ 40, "handshake_failure" }, { 42, "bad_certificate" },
		{ 43, "unsupported_certificate" }, { 44, "certificate_revoked" },
		{ 45, "certificate_expired" }, { 46, "certificate_unknown" },
		{ 47, "illegal_parameter" }, { 48, "unknown_ca" },
		{ 49, "access_denied" }, { 50, "decode_error" },
		{ 51, "decrypt_error" }, { 70, "protocol_version" },
		{ 71, "insufficient_security" }, { 80, "internal_error" },
		{ 90, "user_canceled" }, { 100, "no_renegotiation" },
		{ 110, "unsupported_extension" }, { 112, "unrecognized_name" },
		{ 116, "certificate_required" }, { 120, "no_application_protocol" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].code == alert) {
			return (names[i].name);
		}
	}
	return ("unknown alert");
}

/* Fails every waiting operation; the head send's bytes already taken
 * into a record are counted, and that record still goes out. */
static void
tls_fail_queues(tls_conn *c, int rv)
{
	nghttpw_aio *aio;
	bool         head = true;

	while ((aio = aioq_head(&c->sendq)) != NULL) {
		size_t count = 0;
		if (head) {
			count = c->s_count;
			if (c->wr_pending && !c->wr_orphan) {
				count += c->wr_len;
				c->wr_orphan = true;
			}
			c->s_idx   = 0;
			c->s_off   = 0;
			c->s_count = 0;
			head       = false;
		}
		aioq_remove_at(&c->sendq, 0);
		tls_finish_count(aio, rv, count);
	}
	while ((aio = aioq_head(&c->recvq)) != NULL) {
		aioq_remove_at(&c->recvq, 0);
		nghttpw_aio_finish(aio, rv);
	}
}

static void
tls_hs_report(tls_conn *c, int rv)
{
	if (!c->hs_claimed) {
		c->hs_claimed = true;
		c->hs_due     = true;
		c->hs_rv      = rv;
	}
}

static void
tls_fail(tls_conn *c, int rv)
{
	if (c->state == ST_FAILED) {
		return;
	}
	if (c->state == ST_HANDSHAKE) {
		tls_hs_report(c, rv);
	}
	c->state = ST_FAILED;
	c->err   = rv;
	tls_fail_queues(c, rv);
}

/* Turns an mbedTLS failure into an error, a message and a failed state. */
static void
tls_fail_mbedtls(tls_conn *c, int mrv, const char *what)
{
	char desc[200];
	char msg[240];
	int  rv = tls_map_error(mrv);

	if (mrv == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
		uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);
		char    *p;
		mbedtls_x509_crt_verify_info(desc, sizeof(desc), "", flags);
		while ((p = strchr(desc, '\n')) != NULL) {
			*p = p[1] != '\0' ? ';' : '\0';
		}
		snprintf(msg, sizeof(msg), "certificate verification failed: %s",
		    desc);
	} else if (mrv == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
		unsigned alert = c->ssl.TLS_PRIV(in_msg)[1];
		/* A server that asked for our certificate and got none says
		 * handshake_failure in TLS 1.2. */
		bool no_cert = alert == 40 && c->state == ST_HANDSHAKE &&
		    c->client && tls_peer_wants_cert(&c->ssl) && c->cfg->own == NULL;
		rv = tls_alert_is_auth(alert) || no_cert ? NGHTTPW_EPEERAUTH
		                                         : NGHTTPW_ECRYPTO;
		snprintf(msg, sizeof(msg), "peer sent fatal alert %u (%s)%s", alert,
		    tls_alert_name(alert),
		    no_cert ? ": it wants a client certificate and we have none"
		    : tls_alert_is_auth(alert) ? ": it refused our certificate"
		                               : "");
	} else if (mrv == TLS_ERR_LOWER_RECV) {
		rv = c->rx_lower_err;
		snprintf(msg, sizeof(msg), "receive failed: %s", nghttpw_strerror(rv));
	} else if (mrv == TLS_ERR_LOWER_SEND) {
		rv = c->tx_lower_err;
		snprintf(msg, sizeof(msg), "send failed: %s", nghttpw_strerror(rv));
	} else if (mrv == 0 || mrv == MBEDTLS_ERR_SSL_CONN_EOF) {
		rv = NGHTTPW_ECONNRESET;
		snprintf(msg, sizeof(msg),
		    "peer closed the connection without close_notify");
	} else {
		tls_describe_error(mrv, desc, sizeof(desc));
		snprintf(msg, sizeof(msg), "%s", desc);
	}
	if (c->state != ST_FAILED) {
		char full[256];
		snprintf(full, sizeof(full), "%s%s", what, msg);
		tls_errmsg(c, "%s", full);
	}
	tls_fail(c, rv);
}

/* ------------------------------------------------------------ handshake */

static int
tls_ssl_state(tls_conn *c)
{
	return (c->ssl.TLS_PRIV(state));
}

/* The steps that begin with public-key computations: the ephemeral key
 * and its signature (server), the key exchange (client). */
static bool
tls_step_computes(tls_conn *c)
{
	return (tls_ssl_state(c) ==
	    (c->client ? MBEDTLS_SSL_CLIENT_KEY_EXCHANGE
	               : MBEDTLS_SSL_SERVER_KEY_EXCHANGE));
}

static void
tls_handshake(tls_conn *c)
{
	int mrv = 0;

	/* mbedtls_ssl_handshake() step by step, to see which way it goes:
	 * only a full handshake passes through the key exchange. */
	while (tls_ssl_state(c) != MBEDTLS_SSL_HANDSHAKE_OVER) {
		if (tls_ssl_state(c) == MBEDTLS_SSL_CLIENT_KEY_EXCHANGE) {
			c->full_hs = true;
		}
		if (tls_ssl_state(c) == MBEDTLS_SSL_SERVER_FINISHED &&
		    c->full_hs && !c->client) {
			tls_resume_store_early(c->cfg, &c->ssl);
		}
		if (tls_step_computes(c) && c->flight_len > 0) {
			/* The peer can work on what it has (a certificate
			 * to check) while we compute. */
			tls_kick_send(c);
		}
		if ((mrv = mbedtls_ssl_handshake_step(&c->ssl)) != 0) {
			break;
		}
	}
	if (mrv == MBEDTLS_ERR_SSL_WANT_READ || mrv == MBEDTLS_ERR_SSL_WANT_WRITE) {
		return;
	}
	if (mrv != 0) {
		if (mrv == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE) {
			/* mbedTLS does not tell the client; RFC 5246 7.4.6
			 * says handshake_failure. */
			(void) mbedtls_ssl_send_alert_message(&c->ssl,
			    MBEDTLS_SSL_ALERT_LEVEL_FATAL,
			    MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
		}
		tls_fail_mbedtls(c, mrv, "handshake: ");
		return;
	}
	c->state    = ST_OPEN;
	tls_flight_trim(c);
	c->resumed  = !c->full_hs;
	c->verified = mbedtls_ssl_get_verify_result(&c->ssl) == 0;
	tls_hs_report(c, 0);
}

/* ------------------------------------------------------------ send */

static void
tls_send_advance(tls_conn *c, nghttpw_aio *aio, size_t n)
{
	nghttpw_iov *iov;
	unsigned     niov = nghttpw_aio_get_iov(aio, &iov);

	c->s_count += n;
	while (n > 0 && c->s_idx < niov) {
		size_t left = iov[c->s_idx].iov_len - c->s_off;
		if (n < left) {
			c->s_off += n;
			return;
		}
		n -= left;
		c->s_idx++;
		c->s_off = 0;
	}
}

/* The next piece of the head send for one record: a slice of one iov
 * entry when it is big enough (no copy), else the small entries from the
 * cursor gathered in the coalescing buffer.  0 at the end of the iov. */
static size_t
tls_send_chunk(tls_conn *c, nghttpw_aio *aio, size_t maxlen,
    const unsigned char **ptrp)
{
	nghttpw_iov *iov;
	unsigned     niov = nghttpw_aio_get_iov(aio, &iov);
	unsigned     i    = c->s_idx;
	size_t       off  = c->s_off;
	size_t       n    = 0;

	while (i < niov && off >= iov[i].iov_len) {
		i++;
		off = 0;
	}
	c->s_idx = i;
	c->s_off = off;
	if (i >= niov) {
		return (0);
	}
	if (iov[i].iov_len - off >= TLS_COALESCE_MIN || i + 1 == niov ||
	    (c->coalesce == NULL &&
	        (c->coalesce = malloc(c->coalesce_cap)) == NULL)) {
		size_t rem = iov[i].iov_len - off;
		*ptrp      = (const unsigned char *) iov[i].iov_buf + off;
		return (rem < maxlen ? rem : maxlen);
	}
	while (i < niov && n < maxlen) {
		size_t avail = iov[i].iov_len - off;
		size_t take;
		if (avail == 0) {
			i++;
			off = 0;
			continue;
		}
		if (n > 0 && avail >= TLS_COALESCE_MIN) {
			break; /* big entries go without a copy */
		}
		take = avail < maxlen - n ? avail : maxlen - n;
		memcpy(c->coalesce + n, (const unsigned char *) iov[i].iov_buf + off,
		    take);
		n += take;
		off += take;
	}
	*ptrp = c->coalesce;
	return (n);
}

/* Whether the send callback would only say WANT_WRITE: the lower send
 * of mbedTLS's output is under way, and nothing of it has been reported
 * done.  Flushing then is skipped: every event runs the pump, and most
 * come while a record is on its way. */
static bool
tls_tx_in_flight(const tls_conn *c)
{
	return ((c->tx_busy || c->tx_start) && c->tx_done == 0 &&
	    c->tx_lower_err == 0);
}

static void
tls_do_send(tls_conn *c)
{
	for (;;) {
		nghttpw_aio         *aio;
		const unsigned char *ptr;
		size_t               len;
		int                  mrv;

		if (c->wr_pending || tls_out_left(c) != 0) {
			if (tls_tx_in_flight(c)) {
				return;
			}
			mrv = mbedtls_ssl_flush_output(&c->ssl);
			if (mrv == MBEDTLS_ERR_SSL_WANT_WRITE ||
			    mrv == MBEDTLS_ERR_SSL_WANT_READ) {
				return;
			}
			if (mrv != 0) {
				tls_fail_mbedtls(c, mrv, "");
				return;
			}
			if (c->wr_pending && !c->wr_orphan) {
				tls_send_advance(c, aioq_head(&c->sendq), c->wr_len);
			}
			c->wr_pending = false;
			c->wr_orphan  = false;
		}
		if ((aio = aioq_head(&c->sendq)) == NULL) {
			return;
		}
		mrv = mbedtls_ssl_get_max_out_record_payload(&c->ssl);
		len = mrv > 0 && (size_t) mrv < c->coalesce_cap ? (size_t) mrv
		                                                : c->coalesce_cap;
		if ((len = tls_send_chunk(c, aio, len, &ptr)) == 0) {
			aioq_remove_at(&c->sendq, 0);
			tls_finish_count(aio, 0, c->s_count);
			c->s_idx   = 0;
			c->s_off   = 0;
			c->s_count = 0;
			continue;
		}
		mrv = mbedtls_ssl_write(&c->ssl, ptr, len);
		if (mrv > 0) {
			tls_send_advance(c, aio, (size_t) mrv);
		} else if (mrv == MBEDTLS_ERR_SSL_WANT_WRITE) {
			/* The record is made and its bytes are taken; what is
			 * left is sending it. */
			c->wr_pending = true;
			c->wr_orphan  = false;
			c->wr_len     = len;
		} else if (mrv == MBEDTLS_ERR_SSL_WANT_READ) {
			return;
		} else {
			tls_fail_mbedtls(c, mrv, "");
			return;
		}
	}
}

/* ------------------------------------------------------------ recv */

/* Whether mbedtls_ssl_read could only say WANT_READ: no plaintext left
 * of the last record, and no byte of the next one received (mbedTLS
 * reads a record's bytes as it needs them, never ahead).  The call is
 * then skipped, as the HTTP server asks again after every request, and
 * the want it would have set through the receive callback is set here,
 * so that a lower receive starts. */
static bool
tls_recv_dry(tls_conn *c)
{
	if (mbedtls_ssl_get_bytes_avail(&c->ssl) > 0 || c->rx_off < c->rx_len ||
	    c->rx_lower_err != 0) {
		return (false);
	}
	c->rx_want = true;
	return (true);
}

static void
tls_do_recv(tls_conn *c)
{
	nghttpw_aio *aio;

	while ((aio = aioq_head(&c->recvq)) != NULL) {
		nghttpw_iov *iov;
		unsigned     niov  = nghttpw_aio_get_iov(aio, &iov);
		size_t       count = 0;
		int          mrv   = 1; /* > 0: every entry filled */

		if (c->rx_err != 0) {
			aioq_remove_at(&c->recvq, 0);
			nghttpw_aio_finish(aio, c->rx_err);
			continue;
		}
		for (unsigned i = 0; i < niov && mrv > 0; i++) {
			unsigned char *buf = iov[i].iov_buf;
			size_t         off = 0;
			while (off < iov[i].iov_len) {
				if (tls_recv_dry(c)) {
					mrv = MBEDTLS_ERR_SSL_WANT_READ;
					break;
				}
				mrv = mbedtls_ssl_read(
				    &c->ssl, buf + off, iov[i].iov_len - off);
				if (mrv <= 0) {
					break;
				}
				off += (size_t) mrv;
			}
			count += off;
		}
		if ((mrv == MBEDTLS_ERR_SSL_WANT_READ ||
		        mrv == MBEDTLS_ERR_SSL_WANT_WRITE) &&
		    count == 0) {
			return; /* wait for bytes */
		}
		if (mrv > 0 || mrv == MBEDTLS_ERR_SSL_WANT_READ ||
		    mrv == MBEDTLS_ERR_SSL_WANT_WRITE || count > 0) {
			aioq_remove_at(&c->recvq, 0);
			tls_finish_count(aio, 0, count);
		}
		if (mrv == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
			/* An orderly end: only the recv side is over. */
			c->rx_err = NGHTTPW_ECLOSED;
		} else if (mrv <= 0 && mrv != MBEDTLS_ERR_SSL_WANT_READ &&
		    mrv != MBEDTLS_ERR_SSL_WANT_WRITE) {
			tls_fail_mbedtls(c, mrv, "");
			return;
		}
	}
}

/* ------------------------------------------------------------ pump */

/* Starts the lower send of the flight, or else of the record mbedTLS
 * asked to send, unless a send is under way. */
static void
tls_kick_send(tls_conn *c)
{
	nghttpw_iov iov;

	if (c->lower_closed) {
		return;
	}
	/* The flight goes first: what mbedTLS wrote after it follows it. */
	if (!c->tx_busy && (c->flight_len > 0 || c->tx_start)) {
		if (c->flight_len > 0) {
			c->flight_busy = true;
			iov.iov_buf    = c->flight;
			iov.iov_len    = c->flight_len;
		} else {
			c->tx_start = false;
			iov.iov_buf = (void *) c->tx_ptr;
			iov.iov_len = c->tx_len;
		}
		c->tx_busy = true;
		c->refs++;
		nghttpw_aio_set_iov(c->tx_aio, 1, &iov);
		/* At the end, a peer that reads nothing must not keep us. */
		nghttpw_aio_set_timeout(c->tx_aio,
		    c->closed || c->state == ST_FAILED ? TLS_LINGER_MS
		                                       : NGHTTPW_DURATION_INFINITE);
		nghttpw_stream_send(c->lower, c->tx_aio);
	}
}

static void
tls_kick(tls_conn *c)
{
	nghttpw_iov iov;

	tls_kick_send(c);
	if (c->lower_closed) {
		return;
	}
	if (c->rx_off > 0 && !c->rx_busy) {
		/* What mbedTLS has not read yet moves to the front. */
		memmove(c->rxbuf, c->rxbuf + c->rx_off, c->rx_len - c->rx_off);
		c->rx_len -= c->rx_off;
		c->rx_off = 0;
	}
	if (c->rx_want && !c->rx_busy && c->rx_len < TLS_RXBUF_SIZE &&
	    c->rx_lower_err == 0 && !c->closed && c->state != ST_FAILED) {
		c->rx_want  = false;
		c->rx_busy  = true;
		iov.iov_buf = c->rxbuf + c->rx_len;
		iov.iov_len = TLS_RXBUF_SIZE - c->rx_len;
		c->refs++;
		nghttpw_aio_set_iov(c->rx_aio, 1, &iov);
		nghttpw_aio_set_timeout(c->rx_aio, NGHTTPW_DURATION_INFINITE);
		nghttpw_stream_recv(c->lower, c->rx_aio);
	}
}

static void
tls_pump(tls_conn *c)
{
	if (c->state == ST_HANDSHAKE) {
		tls_handshake(c);
	}
	if (c->state == ST_OPEN) {
		tls_do_send(c);
	}
	if (c->state == ST_OPEN) {
		tls_do_recv(c);
	}
	if ((c->closed || c->state == ST_FAILED) && !c->lower_closed) {
		bool idle = tls_tx_idle(c);
		if (idle && c->state == ST_FAILED && tls_out_left(c) != 0 &&
		    c->tx_lower_err == 0) {
			/* An alert is on its way out: let it go. */
			(void) mbedtls_ssl_flush_output(&c->ssl);
			idle = tls_tx_idle(c);
		}
		if (idle && c->state == ST_OPEN && !c->notify_sent &&
		    !c->wr_pending && tls_out_left(c) == 0) {
			c->notify_sent = true;
			(void) mbedtls_ssl_close_notify(&c->ssl);
			idle = tls_tx_idle(c);
		}
		if (idle && (c->state != ST_OPEN || c->notify_sent)) {
			c->lower_closed = true;
			nghttpw_stream_close(c->lower);
		}
	}
	tls_kick(c);
}

/* Runs the pump and collects the handshake report it may owe. */
static bool
tls_pump_report(tls_conn *c, tls_hs_cb *cbp, void **argp, int *rvp)
{
	tls_pump(c);
	if (!c->hs_due) {
		return (false);
	}
	c->hs_due = false;
	*cbp      = c->hs_cb;
	*argp     = c->hs_arg;
	*rvp      = c->hs_rv;
	return (true);
}

/* ------------------------------------------------------------ lifetime */

static void
tls_destroy(tls_conn *c)
{
	/* A cancel function may still hold c. */
	aio_cancel_barrier(c);
	nghttpw_stream_free(c->lower);
	/* No operation of theirs is left, and we are not in their
	 * callbacks (tls_release saw to that). */
	nghttpw_aio_free(c->rx_aio);
	nghttpw_aio_free(c->tx_aio);
	mbedtls_ssl_free(&c->ssl);
	free(c->rxbuf);
	free(c->coalesce);
	free(c->flight);
	free(c->sendq.v);
	free(c->recvq.v);
	nghttpw_tls_config_free(c->cfg);
	pthread_mutex_destroy(&c->mtx);
	free(c);
}

static void
tls_destroy_task(void *arg)
{
	tls_destroy(arg);
}

static void
tls_release(tls_conn *c)
{
	bool last;

	pthread_mutex_lock(&c->mtx);
	last = --c->refs == 0;
	pthread_mutex_unlock(&c->mtx);
	if (last) {
		tls_run_later(&c->destroy_task, tls_destroy_task, c);
	}
}

static void
tls_lower_done(tls_conn *c, nghttpw_aio *aio, bool tx)
{
	int       rv = nghttpw_aio_result(aio);
	size_t    n  = nghttpw_aio_count(aio);
	tls_hs_cb cb  = NULL;
	void     *arg = NULL;
	int       hrv = 0;
	bool      due;

	pthread_mutex_lock(&c->mtx);
	if (tx) {
		bool flight = c->flight_busy;
		c->tx_busy     = false;
		c->flight_busy = false;
		if (rv == 0 && flight) {
			tls_flight_sent(c, n);
		} else if (rv == 0) {
			c->tx_done += n;
		} else {
			if (c->tx_lower_err == 0) {
				c->tx_lower_err = rv;
			}
			if (flight) {
				tls_flight_sent(c, c->flight_len); /* lost */
			}
		}
	} else {
		c->rx_busy = false;
		if (rv == 0) {
			c->rx_len += n;
		} else if (c->rx_lower_err == 0) {
			c->rx_lower_err = rv;
		}
	}
	due = tls_pump_report(c, &cb, &arg, &hrv);
	if (!due) {
		/* The reference of this lower operation goes under the same
		 * lock; with a report due it keeps c alive through it. */
		bool last = --c->refs == 0;
		pthread_mutex_unlock(&c->mtx);
		if (last) {
			tls_run_later(&c->destroy_task, tls_destroy_task, c);
		}
		return;
	}
	pthread_mutex_unlock(&c->mtx);
	if (cb != NULL) {
		cb(arg, hrv);
	}
	tls_release(c);
}

static void
tls_rx_cb(void *arg)
{
	tls_conn *c = arg;
	tls_lower_done(c, c->rx_aio, false);
}

static void
tls_tx_cb(void *arg)
{
	tls_conn *c = arg;
	tls_lower_done(c, c->tx_aio, true);
}

/* ------------------------------------------------------------ stream ops */

static void
tls_cancel(nghttpw_aio *aio, void *arg, int rv)
{
	tls_conn *c = arg;
	size_t    i;

	pthread_mutex_lock(&c->mtx);
	if (aioq_find(&c->sendq, aio, &i)) {
		size_t count = 0;
		if (i == 0) {
			/* Bytes already in a record are sent all the same. */
			count = c->s_count;
			if (c->wr_pending && !c->wr_orphan) {
				count += c->wr_len;
				c->wr_orphan = true;
			}
			c->s_idx   = 0;
			c->s_off   = 0;
			c->s_count = 0;
		}
		aioq_remove_at(&c->sendq, i);
		tls_finish_count(aio, rv, count);
		tls_pump(c);
	} else if (aioq_find(&c->recvq, aio, &i)) {
		aioq_remove_at(&c->recvq, i);
		nghttpw_aio_finish(aio, rv);
	}
	pthread_mutex_unlock(&c->mtx);
}

static size_t
tls_iov_total(nghttpw_aio *aio)
{
	nghttpw_iov *iov;
	unsigned     niov  = nghttpw_aio_get_iov(aio, &iov);
	size_t       total = 0;

	for (unsigned i = 0; i < niov; i++) {
		total += iov[i].iov_len;
	}
	return (total);
}

static void
tls_start(tls_conn *c, nghttpw_aio *aio, aioq *q)
{
	int rv;

	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	if (tls_iov_total(aio) == 0) {
		nghttpw_aio_finish(aio, NGHTTPW_EINVAL);
		return;
	}
	pthread_mutex_lock(&c->mtx);
	if (c->closed) {
		rv = NGHTTPW_ECLOSED;
	} else if (c->state == ST_FAILED) {
		rv = c->err;
	} else if (c->state != ST_OPEN) {
		rv = NGHTTPW_ESTATE;
	} else if ((rv = aioq_reserve(q)) == 0) {
		if (aio_defer(aio, tls_cancel, c)) {
			q->v[q->n++] = aio;
			tls_pump(c);
		}
		pthread_mutex_unlock(&c->mtx);
		return;
	}
	pthread_mutex_unlock(&c->mtx);
	nghttpw_aio_finish(aio, rv);
}

static void
tls_send(void *arg, nghttpw_aio *aio)
{
	tls_conn *c = arg;
	tls_start(c, aio, &c->sendq);
}

static void
tls_recv(void *arg, nghttpw_aio *aio)
{
	tls_conn *c = arg;
	tls_start(c, aio, &c->recvq);
}

static void
tls_close(void *arg)
{
	tls_conn *c = arg;

	pthread_mutex_lock(&c->mtx);
	if (!c->closed) {
		c->closed = true;
		if (c->state == ST_HANDSHAKE) {
			/* Whoever closes a handshaking stream wants no report. */
			c->hs_claimed = true;
			tls_fail(c, NGHTTPW_ECLOSED);
		}
		tls_fail_queues(c, NGHTTPW_ECLOSED);
		tls_pump(c);
	}
	pthread_mutex_unlock(&c->mtx);
}

static void
tls_stop(void *arg)
{
	tls_close(arg);
	aio_cancel_barrier(arg);
}

static void
tls_free(void *arg)
{
	tls_close(arg);
	tls_release(arg);
}

static const nghttpw_stream_ops tls_ops = {
	.s_free  = tls_free,
	.s_close = tls_close,
	.s_stop  = tls_stop,
	.s_send  = tls_send,
	.s_recv  = tls_recv,
	.s_get   = tls_get,
	.s_set   = tls_set,
};

/* ------------------------------------------------------------ making one */

int
tls_conn_alloc(tls_conn **cp, nghttpw_stream *lower, nghttpw_tls_config *cfg,
    const char *host, const mbedtls_ssl_session *session, tls_hs_cb hs_cb,
    void *hs_arg)
{
	tls_conn *c;
	int       rv;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	if ((rv = tls_config_use(cfg)) != 0) {
		free(c);
		return (rv);
	}
	pthread_mutex_init(&c->mtx, NULL);
	mbedtls_ssl_init(&c->ssl);
	c->cfg          = cfg;
	c->refs         = 1;
	c->state        = ST_HANDSHAKE;
	c->client       = cfg->mode == NGHTTPW_TLS_MODE_CLIENT;
	c->hs_cb        = hs_cb;
	c->hs_arg       = hs_arg;
	c->coalesce_cap = MBEDTLS_SSL_OUT_CONTENT_LEN;
	/* The coalescing buffer comes when first needed. */
	if ((c->rxbuf = malloc(TLS_RXBUF_SIZE)) == NULL) {
		rv = NGHTTPW_ENOMEM;
	} else if ((rv = stream_aio_alloc(lower, &c->rx_aio, tls_rx_cb, c)) == 0 &&
	    (rv = stream_aio_alloc(lower, &c->tx_aio, tls_tx_cb, c)) == 0 &&
	    (rv = tls_map_error(mbedtls_ssl_setup(&c->ssl, &cfg->conf))) == 0) {
		mbedtls_ssl_set_bio(&c->ssl, c, tls_bio_send, tls_bio_recv, NULL);
		/* The configuration is read-only from tls_config_use on. */
		if (c->client && cfg->server_name != NULL) {
			host = cfg->server_name;
		}
		if (c->client) {
			rv = tls_set_peer_host(c, host);
		}
		if (rv == 0 && c->client && session != NULL) {
			/* A session that will not do just means a full
			 * handshake. */
			(void) mbedtls_ssl_set_session(&c->ssl, session);
		}
	}
	if (rv == 0 && (rv = nghttpw_stream_alloc(&c->stream, &tls_ops, c)) == 0) {
		/* Its I/O runs where the lower stream's does. */
		c->stream->loop = lower->loop;
	}
	if (rv != 0) {
		c->lower = NULL; /* stays the caller's */
		tls_destroy(c);
		return (rv);
	}
	c->lower = lower;
	tls_peer_name(c, lower);
	*cp = c;
	return (0);
}

void
tls_conn_preload(tls_conn *c, const void *buf, size_t len)
{
	/* The first receive is still to come: rxbuf is empty. */
	memcpy(c->rxbuf, buf, len);
	c->rx_off = 0;
	c->rx_len = len;
}

bool
tls_conn_start(tls_conn *c, int *rvp)
{
	tls_hs_cb cb;
	void     *arg;
	bool      due;

	pthread_mutex_lock(&c->mtx);
	due = tls_pump_report(c, &cb, &arg, rvp);
	pthread_mutex_unlock(&c->mtx);
	return (due);
}

bool
tls_conn_abort(tls_conn *c, int rv)
{
	bool owned = false;

	pthread_mutex_lock(&c->mtx);
	if (c->state == ST_HANDSHAKE && !c->hs_claimed) {
		c->hs_claimed = true;
		owned         = true;
		tls_errmsg(c, "handshake abandoned: %s", nghttpw_strerror(rv));
		tls_fail(c, rv);
		tls_pump(c);
	}
	pthread_mutex_unlock(&c->mtx);
	return (owned);
}

nghttpw_stream *
tls_conn_stream(tls_conn *c)
{
	return (c->stream);
}

int
tls_conn_get_session(tls_conn *c, mbedtls_ssl_session *s)
{
	int mrv;

	pthread_mutex_lock(&c->mtx);
	mrv = mbedtls_ssl_get_session(&c->ssl, s);
	pthread_mutex_unlock(&c->mtx);
	return (tls_map_error(mrv));
}

void
tls_conn_free(tls_conn *c)
{
	nghttpw_stream_free(c->stream);
}
