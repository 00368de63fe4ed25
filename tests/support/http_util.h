/* Checks on HTTP messages shared by the HTTP tests. */
#ifndef NGHTTPW_TESTS_HTTP_UTIL_H
#define NGHTTPW_TESTS_HTTP_UTIL_H

#include <stdint.h>

#include "nghttpw/http.h"

/* Asserts that res has this status and exactly the body want. */
void http_res_assert(nghttpw_http_res *res, uint16_t status, const char *want);

#ifdef NGHTTPW_HAVE_TLS
/* A started server on https://127.0.0.1 (port in *portp) with the test
 * CA's localhost certificate, serving body as text/plain at /secret. */
nghttpw_http_server *https_test_server(const char *body, int *portp);
#endif

#endif
