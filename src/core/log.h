/* The library's own use of the log. */
#ifndef NGHTTPW_CORE_LOG_H
#define NGHTTPW_CORE_LOG_H

#include <stdbool.h>

#include "nghttpw/nghttpw.h"

/* Whether a message at level would reach a logger that does something
 * with it: callers with a costly message to build ask first. */
bool log_wants(nghttpw_log_level level);

#endif
