/* nghttpw-serve --workers: a supervisor process and the workers it
 * forks, which share its listening socket. */
#ifndef NGHTTPW_SERVE_WORKERS_H
#define NGHTTPW_SERVE_WORKERS_H

/* Forks n workers.  Returns in each worker only (0), which then serves
 * on the inherited socket; the supervisor stays here: it starts a worker
 * again when one dies, and on SIGINT or SIGTERM closes the socket, passes
 * SIGTERM on so that the workers drain (in-flight requests finish within
 * their stop timeout), waits up to drain_ms for them (then SIGKILL) and
 * exits 0.  It exits 1 when workers keep dying at once.  SIGINT, SIGTERM
 * and SIGCHLD must be blocked in the caller. */
int workers_run(int n, int listen_fd, long drain_ms);

#endif
