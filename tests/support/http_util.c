#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "support/http_util.h"
#ifdef NGHTTPW_HAVE_TLS
#include "nghttpw/tls.h"
#include "support/tls_certs.h"
#endif

void
http_res_assert(nghttpw_http_res *res, uint16_t status, const char *want)
{
	void  *body;
	size_t size;

	cr_assert_eq(nghttpw_http_res_get_status(res), status);
	nghttpw_http_res_get_data(res, &body, &size);
	cr_assert_eq(size, strlen(want), "body of %zu bytes, not %zu", size,
	    strlen(want));
	cr_assert_eq(memcmp(body, want, size), 0, "body '%.*s', not '%s'",
	    (int) size, (char *) body, want);
}

#ifdef NGHTTPW_HAVE_TLS
nghttpw_http_server *
https_test_server(const char *body, int *portp)
{
	const tls_test_certs *certs = tls_test_certs_get();
	nghttpw_http_server  *s;
	nghttpw_http_handler *h;
	nghttpw_tls_config   *cfg;
	nghttpw_url          *url;
	nghttpw_sockaddr      sa;

	cr_assert_not_null(certs);
	cr_assert_eq(nghttpw_url_parse(&url, "https://127.0.0.1:0/"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&s, url), 0);
	nghttpw_url_free(url);
	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_SERVER), 0);
	cr_assert_eq(nghttpw_tls_config_own_cert(
	                 cfg, certs->server_cert, certs->server_key, NULL), 0);
	cr_assert_eq(nghttpw_http_server_set_tls(s, cfg), 0);
	nghttpw_tls_config_free(cfg);
	cr_assert_eq(nghttpw_http_handler_alloc_static(
	                 &h, "/secret", body, strlen(body), "text/plain"), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(s, h), 0);
	cr_assert_eq(nghttpw_http_server_start(s), 0);
	cr_assert_eq(nghttpw_http_server_get_addr(s, &sa), 0);
	*portp = ntohs(sa.s_in.sa_port);
	return (s);
}
#endif
