/* nghttpw-serve's access log: Common Log Format lines gathered in
 * buffers (as nginx's "access_log ... buffer="), two per I/O thread,
 * written to a file descriptor when one fills, when access_log_flush()
 * is called (every second, by the main thread) and at the end.  Only the
 * public API is used. */
#ifndef NGHTTPW_TOOLS_SERVE_ACCESS_LOG_H
#define NGHTTPW_TOOLS_SERVE_ACCESS_LOG_H

#include <stddef.h>
#include <stdint.h>

#include <nghttpw/http.h>
#include <nghttpw/nghttpw.h>

/* The default buffer of each thread. */
#define ACCESS_LOG_BUFFER (64u * 1024)

/* Logs to fd, with buffers of buffer bytes (0: each line is written at
 * once), for a server of threads I/O threads.  Before the server starts;
 * 0 or NGHTTPW_ENOMEM. */
int access_log_open(int fd, size_t buffer, unsigned threads);

/* The callback for nghttpw_http_server_set_log(): one line. */
void access_log_line(void *arg, nghttpw_http_req *req, nghttpw_http_res *res,
    const nghttpw_sockaddr *peer, uint64_t body_bytes);

/* Writes what every thread's buffer holds. */
void access_log_flush(void);

/* Writes what is left and frees the buffers; once no thread can log any
 * more (after nghttpw_fini()).  Also after a failed access_log_open(). */
void access_log_close(void);

#endif
