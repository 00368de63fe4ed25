#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nghttpw/nghttpw.h"
#include "support/piped_child.h"

static pid_t live_child;

int
piped_child_start(piped_child *ch, char *const argv[], const char *errpath)
{
	int in[2], out[2];

	if (pipe2(in, O_CLOEXEC) != 0) {
		return (-1);
	}
	if (pipe2(out, O_CLOEXEC) != 0) {
		close(in[0]);
		close(in[1]);
		return (-1);
	}
	if ((ch->pid = fork()) < 0) {
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return (-1);
	}
	if (ch->pid == 0) {
		int err = errpath == NULL
		    ? out[1]
		    : open(errpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		if (err >= 0) {
			dup2(err, STDERR_FILENO);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	live_child = ch->pid;
	close(in[0]);
	close(out[1]);
	ch->in  = in[1];
	ch->out = out[0];
	return (0);
}

bool
piped_child_read_until(
    piped_child *ch, char *buf, size_t cap, const char *want, int ms)
{
	size_t       len   = strlen(buf);
	nghttpw_time limit = nghttpw_clock() + (nghttpw_time) ms;

	while (strstr(buf, want) == NULL) {
		struct pollfd pf  = { .fd = ch->out, .events = POLLIN };
		nghttpw_time  now = nghttpw_clock();
		ssize_t       n;
		if (now >= limit || len + 1 >= cap ||
		    poll(&pf, 1, (int) (limit - now)) <= 0 ||
		    (n = read(ch->out, buf + len, cap - len - 1)) <= 0) {
			return (false);
		}
		len += (size_t) n;
		buf[len] = '\0';
	}
	return (true);
}

static void
reaped(piped_child *ch)
{
	live_child = 0;
	close(ch->out);
}

int
piped_child_wait(piped_child *ch, int ms)
{
	nghttpw_time limit = nghttpw_clock() + (nghttpw_time) ms;
	int          status;

	close(ch->in);
	while (waitpid(ch->pid, &status, WNOHANG) != ch->pid) {
		if (nghttpw_clock() >= limit) {
			kill(ch->pid, SIGKILL);
			waitpid(ch->pid, NULL, 0);
			reaped(ch);
			return (-1);
		}
		nghttpw_msleep(10);
	}
	reaped(ch);
	return (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

void
piped_child_stop(piped_child *ch)
{
	close(ch->in);
	kill(ch->pid, SIGTERM);
	waitpid(ch->pid, NULL, 0);
	reaped(ch);
}

void
piped_child_kill_live(void)
{
	if (live_child > 0) {
		kill(live_child, SIGKILL);
		waitpid(live_child, NULL, 0);
		live_child = 0;
	}
}
