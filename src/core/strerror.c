/* Human-readable error messages: nng's own words, so that programs (and
 * their logs and tests) moved from nng read the same. */
#include <stdio.h>
#include <string.h>

#include "nghttpw/nghttpw.h"

static const struct {
	int         code;
	const char *msg;
} error_messages[] = {
	{ 0, "Hunky dory" },
	{ NGHTTPW_EINTR, "Interrupted" },
	{ NGHTTPW_ENOMEM, "Out of memory" },
	{ NGHTTPW_EINVAL, "Invalid argument" },
	{ NGHTTPW_EBUSY, "Resource busy" },
	{ NGHTTPW_ETIMEDOUT, "Timed out" },
	{ NGHTTPW_ECONNREFUSED, "Connection refused" },
	{ NGHTTPW_ECLOSED, "Object closed" },
	{ NGHTTPW_EAGAIN, "Try again" },
	{ NGHTTPW_ENOTSUP, "Not supported" },
	{ NGHTTPW_EADDRINUSE, "Address in use" },
	{ NGHTTPW_ESTATE, "Incorrect state" },
	{ NGHTTPW_ENOENT, "Entry not found" },
	{ NGHTTPW_EPROTO, "Protocol error" },
	{ NGHTTPW_EUNREACHABLE, "Destination unreachable" },
	{ NGHTTPW_EADDRINVAL, "Address invalid" },
	{ NGHTTPW_EPERM, "Permission denied" },
	{ NGHTTPW_EMSGSIZE, "Message too large" },
	{ NGHTTPW_ECONNABORTED, "Connection aborted" },
	{ NGHTTPW_ECONNRESET, "Connection reset" },
	{ NGHTTPW_ECANCELED, "Operation canceled" },
	{ NGHTTPW_ENOFILES, "Out of files" },
	{ NGHTTPW_ENOSPC, "Out of space" },
	{ NGHTTPW_EEXIST, "Resource already exists" },
	{ NGHTTPW_EREADONLY, "Read only resource" },
	{ NGHTTPW_EWRITEONLY, "Write only resource" },
	{ NGHTTPW_ECRYPTO, "Cryptographic error" },
	{ NGHTTPW_EPEERAUTH, "Peer could not be authenticated" },
	{ NGHTTPW_ENOARG, "Option requires argument" },
	{ NGHTTPW_EAMBIGUOUS, "Ambiguous option" },
	{ NGHTTPW_EBADTYPE, "Incorrect type" },
	{ NGHTTPW_ECONNSHUT, "Connection shutdown" },
	{ NGHTTPW_EINTERNAL, "Internal error detected" },
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
		snprintf(unknown, sizeof(unknown), "Transport error #%d",
		    code & ~NGHTTPW_ETRANERR);
		return (unknown);
	}
	snprintf(unknown, sizeof(unknown), "Unknown error #%d", code);
	return (unknown);
}
