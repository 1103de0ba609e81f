/* The monitor's log (see log.h). */
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/file_open.h"

#define LOG_LINE_MAX 2048

struct logger {
    pthread_mutex_t lock;
    int fd;                   /* -1: no sink */
    struct log_options opts;
    char id[64];
    uint64_t dropped;
};

static const char *const level_names[] = { "Off", "Error", "Warning", "Info", "Debug", "Trace" };
static const char *const level_tags[] = { "OFF", "ERROR", "WARN", "INFO", "DEBUG", "TRACE" };

int log_level_parse(const char *s, enum log_level *out)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
        if (s && !strcasecmp(s, level_names[i])) {
            *out = (enum log_level)i;
            return 0;
        }
    return -EINVAL;
}

const char *log_level_name(enum log_level l)
{
    return (unsigned)l < sizeof level_names / sizeof level_names[0] ? level_names[l] : "?";
}

/* __FILE__ as the build passes it ("../src/api/x.c", or a longer path
 * from a build directory elsewhere): from the last "src/" component on. */
static const char *origin_name(const char *file)
{
    const char *s = file;
    for (const char *p = file; (p = strstr(p, "src/")); p++)
        if (p == file || p[-1] == '/')
            s = p;
    while (!strncmp(s, "../", 3))
        s += 3;
    return s;
}

size_t log_format_line(char *buf, size_t size, const char *id, const struct log_options *o, enum log_level l,
                       const struct timespec *when, const char *file, int line, const char *msg)
{
    if (!size)
        return 0;
    struct tm tm;
    time_t secs = when->tv_sec;
    gmtime_r(&secs, &tm);
    char stamp[80];
    snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (when->tv_nsec / 1000) % 1000000);
    char tag[256] = "";
    size_t t = 0;
    const char *sep = "";
    if (id && *id) {
        t += (size_t)snprintf(tag + t, sizeof tag - t, "%.63s", id);
        sep = ":";
    }
    if (o->show_level && t < sizeof tag) {
        t += (size_t)snprintf(tag + t, sizeof tag - t, "%s%s", sep,
                              (unsigned)l < sizeof level_tags / sizeof level_tags[0] ? level_tags[l] : "?");
        sep = ":";
    }
    if (o->show_origin && file && t < sizeof tag)
        snprintf(tag + t, sizeof tag - t, "%s%.150s:%d", sep, origin_name(file), line);
    int n = tag[0] ? snprintf(buf, size, "%s [%s] %s", stamp, tag, msg ? msg : "")
                   : snprintf(buf, size, "%s %s", stamp, msg ? msg : "");
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len > size - 2)
        len = size >= 2 ? size - 2 : 0;
    /* One line per call, whatever the message holds. */
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n' || buf[i] == '\r')
            buf[i] = ' ';
    if (size >= 2) {
        buf[len++] = '\n';
        buf[len] = 0;
    } else {
        buf[0] = 0;
    }
    return len;
}

int logger_create(struct logger **out, const char *id, struct errmsg *e)
{
    struct logger *l = calloc(1, sizeof *l);
    if (!l)
        return errmsg_set(e, -ENOMEM, "out of memory for the logger");
    pthread_mutex_init(&l->lock, NULL);
    l->fd = -1;
    l->opts = (struct log_options){ .level = LOG_INFO };
    snprintf(l->id, sizeof l->id, "%s", id ? id : "");
    *out = l;
    return 0;
}

void logger_destroy(struct logger *l)
{
    if (!l)
        return;
    if (l->fd >= 0)
        close(l->fd);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

int logger_configure(struct logger *l, const char *path, const struct log_options *o, struct errmsg *e)
{
    int fd = -1;
    if (path) {
        /* A FIFO stays non-blocking: a stalled reader loses log lines
         * rather than stalling minnow. */
        fd = file_open_kind("log_path", path, O_WRONLY | O_APPEND | O_CREAT, 0600,
                            FILE_OPEN_REG | FILE_OPEN_FIFO | FILE_OPEN_CHR, e);
        if (fd < 0)
            return fd;
    }
    pthread_mutex_lock(&l->lock);
    if (fd >= 0) {
        if (l->fd >= 0)
            close(l->fd);
        l->fd = fd;
    }
    l->opts = *o;
    pthread_mutex_unlock(&l->lock);
    return 0;
}

bool logger_enabled(struct logger *l, enum log_level level)
{
    if (!l)
        return false;
    pthread_mutex_lock(&l->lock);
    bool on = l->fd >= 0 && level != LOG_OFF && level <= l->opts.level;
    pthread_mutex_unlock(&l->lock);
    return on;
}

/* Whether a line from file passes the module filter (called locked). */
static bool module_match(const struct log_options *o, const char *file)
{
    if (!o->module[0])
        return true;
    const char *s = file ? origin_name(file) : "";
    if (!strncmp(s, "src/", 4))
        s += 4;
    return !strncmp(s, o->module, strlen(o->module));
}

void logger_write(struct logger *l, enum log_level level, const char *file, int line, const char *fmt, ...)
{
    if (!logger_enabled(l, level))
        return;
    char msg[LOG_LINE_MAX], out[LOG_LINE_MAX + 512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    pthread_mutex_lock(&l->lock);
    size_t n = log_format_line(out, sizeof out, l->id, &l->opts, level, &now, file, line, msg);
    if (l->fd >= 0 && module_match(&l->opts, file)) {
        ssize_t w = write(l->fd, out, n);
        if (w != (ssize_t)n)
            l->dropped++;
    }
    pthread_mutex_unlock(&l->lock);
}

uint64_t logger_dropped(struct logger *l)
{
    pthread_mutex_lock(&l->lock);
    uint64_t d = l->dropped;
    pthread_mutex_unlock(&l->lock);
    return d;
}
