/* Panic detection on the guest console (see console_watch.h). */
#include "machine/console_watch.h"

#include <string.h>

void console_watch_init(struct console_watch *w)
{
    memset(w, 0, sizeof *w);
}

static enum console_event line_done(struct console_watch *w)
{
    w->line[w->len] = 0;
    w->len = 0;
    if (strstr(w->line, "---[ end Kernel panic"))
        return CONSOLE_PANIC_END;
    if (!w->panicked && strstr(w->line, "Kernel panic - not syncing")) {
        w->panicked = 1;
        return CONSOLE_PANIC_START;
    }
    return CONSOLE_NOTHING;
}

enum console_event console_watch_feed(struct console_watch *w, const uint8_t *buf, size_t n)
{
    enum console_event ev = CONSOLE_NOTHING;
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n' || buf[i] == '\r') {
            enum console_event e = line_done(w);
            if (e > ev)
                ev = e;
        } else if (w->len < sizeof w->line - 1) {
            w->line[w->len++] = (char)buf[i];
        }
    }
    return ev;
}
