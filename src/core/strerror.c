/* Human-readable error messages. */
#include <stdio.h>
#include <string.h>

#include "nghttpw/nghttpw.h"

static const struct {
	int         code;
	const char *msg;
} error_messages[] = {
	{ 0, "Success" },
	{ NGHTTPW_EINTR, "Interrupted system call" },
	{ NGHTTPW_ENOMEM, "Not enough memory" },
	{ NGHTTPW_EINVAL, "Invalid argument" },
	{ NGHTTPW_EBUSY, "Busy: an operation is already in progress" },
	{ NGHTTPW_ETIMEDOUT, "Operation timed out" },
	{ NGHTTPW_ECONNREFUSED, "Connection refused by peer" },
	{ NGHTTPW_ECLOSED, "Closed" },
	{ NGHTTPW_EAGAIN, "Resource temporarily unavailable" },
	{ NGHTTPW_ENOTSUP, "Not supported" },
	{ NGHTTPW_EADDRINUSE, "Address already in use" },
	{ NGHTTPW_ESTATE, "Not valid in the current state" },
	{ NGHTTPW_ENOENT, "Not found" },
	{ NGHTTPW_EPROTO, "Protocol error" },
	{ NGHTTPW_EUNREACHABLE, "Peer unreachable" },
	{ NGHTTPW_EADDRINVAL, "Address not valid or not resolvable" },
	{ NGHTTPW_EPERM, "Permission denied" },
	{ NGHTTPW_EMSGSIZE, "Message too large" },
	{ NGHTTPW_ECONNABORTED, "Connection aborted" },
	{ NGHTTPW_ECONNRESET, "Connection reset by peer" },
	{ NGHTTPW_ECANCELED, "Operation cancelled" },
	{ NGHTTPW_ENOFILES, "Too many open files" },
	{ NGHTTPW_ENOSPC, "No space left" },
	{ NGHTTPW_EEXIST, "Already exists" },
	{ NGHTTPW_EREADONLY, "Read-only" },
	{ NGHTTPW_EWRITEONLY, "Write-only" },
	{ NGHTTPW_ECRYPTO, "TLS or cryptographic failure" },
	{ NGHTTPW_EPEERAUTH, "Peer authentication failed" },
	{ NGHTTPW_ENOARG, "Missing argument" },
	{ NGHTTPW_EAMBIGUOUS, "Ambiguous option" },
	{ NGHTTPW_EBADTYPE, "Wrong type for option" },
	{ NGHTTPW_ECONNSHUT, "Connection shut down" },
	{ NGHTTPW_EINTERNAL, "Internal error" },
};

const char *
nghttpw_strerror(int code)
{
	/* Only for codes outside the table; not shared between threads. */
	static _Thread_local char unknown[64];

	for (size_t i = 0; i < sizeof(error_messages) / sizeof(error_messages[0]);
	     i++) {
		if (error_messages[i].code == code) {
			return (error_messages[i].msg);
		}
	}
	if ((code & NGHTTPW_ESYSERR) != 0) {
		return (strerror(code & ~NGHTTPW_ESYSERR));
	}
	if ((code & NGHTTPW_ETRANERR) != 0) {
		snprintf(unknown, sizeof(unknown), "Transport-specific error %d",
		    code & ~NGHTTPW_ETRANERR);
		return (unknown);
	}
	snprintf(unknown, sizeof(unknown), "Unknown error %d", code);
	return (unknown);
}
