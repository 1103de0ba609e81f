/* The monitor's human-readable log (Firecracker's logger): lines of
 *
 *     2026-11-30T13:35:52.123456Z [ID:LEVEL:file:line] message
 *
 * with the level and origin parts optional, appended to a file or a named
 * pipe. A struct logger is owned by whoever configures it (the API) and
 * handed to what logs; there is no process-wide logger.
 *
 * A FIFO is opened non-blocking: opening one that no process reads fails
 * with a clear message, and a line the reader has no room for is dropped
 * (and counted) rather than stalling the VM. A logger with no sink (or
 * level Off) discards everything. Thread-safe. */
#ifndef MINNOW_UTIL_LOG_H
#define MINNOW_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/errmsg.h"

#define LOG_MODULE_MAX 64

/* Ordered by verbosity: a logger at level L writes lines at levels <= L. */
enum log_level { LOG_OFF, LOG_ERROR, LOG_WARNING, LOG_INFO, LOG_DEBUG, LOG_TRACE };

struct log_options {
    enum log_level level;     /* Firecracker's default: LOG_INFO */
    bool show_level;
    bool show_origin;         /* file:line of the call */
    /* Firecracker's logger "module": only lines whose origin (the source
     * file under src/, e.g. "api/api_vmm.c") starts with this are written;
     * "": every line. */
    char module[LOG_MODULE_MAX];
};

/* Firecracker's names, case-insensitively: Error, Warning, Info, Debug,
 * Trace, Off. Returns 0, or -EINVAL for anything else. */
int log_level_parse(const char *s, enum log_level *out);
/* "Error", "Warning", ... */
const char *log_level_name(enum log_level l);

/* Formats one line (with its '\n') into buf, truncating the message to
 * fit, and returns its length (< size). id may be NULL. */
size_t log_format_line(char *buf, size_t size, const char *id, const struct log_options *o, enum log_level l,
                       const struct timespec *when, const char *file, int line, const char *msg);

struct logger;

/* A logger with no sink yet, options at Firecracker's defaults; id tags
 * every line (NULL: none). */
int logger_create(struct logger **out, const char *id, struct errmsg *e);
void logger_destroy(struct logger *l);
/* Opens path (a file, created 0600 if missing, or a FIFO) for appending
 * and takes o. On error the logger is unchanged and e names the path. */
int logger_configure(struct logger *l, const char *path, const struct log_options *o, struct errmsg *e);
bool logger_enabled(struct logger *l, enum log_level level);
void logger_write(struct logger *l, enum log_level level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Lines lost to a full FIFO or a failed write. */
uint64_t logger_dropped(struct logger *l);

#define LOG_AT(l, level, ...) logger_write((l), (level), __FILE__, __LINE__, __VA_ARGS__)
#define LOG_ERROR(l, ...) LOG_AT(l, LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(l, ...) LOG_AT(l, LOG_WARNING, __VA_ARGS__)
#define LOG_INFO(l, ...) LOG_AT(l, LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(l, ...) LOG_AT(l, LOG_DEBUG, __VA_ARGS__)

#endif
