/* The supervisor of nghttpw-serve --workers.  It forks before the
 * library starts any thread (a forked child has only the thread that
 * forked), so each worker initializes nghttpw afresh.  The workers share
 * one listening socket, as nginx's do: the kernel's accept queue is
 * theirs together, so a worker that dies takes no waiting connection
 * with it, and the others go on accepting while it is started again. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "workers.h"

#define RESTART_WINDOW_S 10 /* at most RESTART_MAX restarts in this long */
#define RESTART_MAX 20

typedef struct {
	pid_t *pids; /* 0: not running */
	int    n;
	time_t window_start;
	int    restarts;
} pool;

/* Forks worker i: returns true in the worker.  A worker whose
 * supervisor is gone (killed, say) drains as on SIGTERM: nothing would
 * start it again or stop it, and it would hold the socket and the
 * supervisor's standard output and error. */
static bool
spawn(pool *p, int i)
{
	pid_t supervisor = getpid();
	pid_t pid        = fork();

	if (pid == 0) {
		(void) prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != supervisor) {
			raise(SIGTERM); /* it died before the prctl */
		}
		return (true);
	}
	if (pid < 0) {
		fprintf(stderr, "nghttpw-serve: fork: %s\n", strerror(errno));
		p->pids[i] = 0;
		return (false);
	}
	p->pids[i] = pid;
	return (false);
}

/* A worker ended while serving: it is started again, unless workers die
 * so often that something is wrong with all of them.  Returns true in
 * the new worker. */
static bool
restart(pool *p, int i, int status)
{
	time_t now = time(NULL);

	if (WIFSIGNALED(status)) {
		fprintf(stderr, "nghttpw-serve: worker %d (pid %ld) killed by signal %d, "
		                "starting it again\n",
		    i, (long) p->pids[i], WTERMSIG(status));
	} else {
		fprintf(stderr, "nghttpw-serve: worker %d (pid %ld) exited with %d, "
		                "starting it again\n",
		    i, (long) p->pids[i], WEXITSTATUS(status));
	}
	if (now - p->window_start >= RESTART_WINDOW_S) {
		p->window_start = now;
		p->restarts     = 0;
	}
	if (++p->restarts > RESTART_MAX) {
		fprintf(stderr, "nghttpw-serve: %d restarts in %d s: giving up\n",
		    RESTART_MAX, RESTART_WINDOW_S);
		for (int j = 0; j < p->n; j++) {
			if (p->pids[j] > 0) {
				kill(p->pids[j], SIGTERM);
			}
		}
		exit(1);
	}
	return (spawn(p, i));
}

/* Reaps what has ended; true in a worker started again. */
static bool
reap(pool *p, bool draining)
{
	pid_t pid;
	int   status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < p->n; i++) {
			if (p->pids[i] != pid) {
				continue;
			}
			if (draining) {
				p->pids[i] = 0;
			} else if (restart(p, i, status)) {
				return (true);
			}
			break;
		}
	}
	return (false);
}

static int
running(const pool *p)
{
	int k = 0;

	for (int i = 0; i < p->n; i++) {
		k += p->pids[i] > 0;
	}
	return (k);
}

/* SIGINT or SIGTERM: the workers drain, then the supervisor exits. */
static void
drain(pool *p, int listen_fd, long drain_ms)
{
	sigset_t        chld;
	struct timespec left = { drain_ms / 1000, (drain_ms % 1000) * 1000000L };
	struct timespec start, now;

	/* Its copy of the socket goes first: when the workers have closed
	 * theirs, connecting is refused and a balancer goes elsewhere. */
	close(listen_fd);
	for (int i = 0; i < p->n; i++) {
		if (p->pids[i] > 0) {
			kill(p->pids[i], SIGTERM);
		}
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	clock_gettime(CLOCK_MONOTONIC, &start);
	reap(p, true);
	while (running(p) > 0) {
		long spent;
		if (sigtimedwait(&chld, NULL, &left) < 0 && errno == EAGAIN) {
			break;
		}
		reap(p, true);
		clock_gettime(CLOCK_MONOTONIC, &now);
		spent = (now.tv_sec - start.tv_sec) * 1000 +
		    (now.tv_nsec - start.tv_nsec) / 1000000;
		if (spent >= drain_ms) {
			break;
		}
		left.tv_sec  = (drain_ms - spent) / 1000;
		left.tv_nsec = ((drain_ms - spent) % 1000) * 1000000L;
	}
	for (int i = 0; i < p->n; i++) {
		if (p->pids[i] > 0) {
			fprintf(stderr, "nghttpw-serve: worker %d did not stop in time\n", i);
			kill(p->pids[i], SIGKILL);
			waitpid(p->pids[i], NULL, 0);
		}
	}
}

int
workers_run(int n, int listen_fd, long drain_ms)
{
	pool     p = { .n = n, .window_start = time(NULL) };
	sigset_t sigs;
	int      sig;

	if ((p.pids = calloc((size_t) n, sizeof(*p.pids))) == NULL) {
		fprintf(stderr, "nghttpw-serve: out of memory\n");
		exit(1);
	}
	for (int i = 0; i < n; i++) {
		if (spawn(&p, i)) {
			free(p.pids);
			return (0);
		}
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGCHLD);
	for (;;) {
		if (sigwait(&sigs, &sig) != 0) {
			continue;
		}
		if (sig == SIGCHLD) {
			if (reap(&p, false)) {
				free(p.pids);
				return (0);
			}
			continue;
		}
		fprintf(stderr, "nghttpw-serve: %s, draining %d workers\n",
		    sig == SIGINT ? "SIGINT" : "SIGTERM", running(&p));
		drain(&p, listen_fd, drain_ms);
		exit(0);
	}
}
