/* Watches the guest console for the lines that end a run: Linux's
 * "Kernel panic - not syncing" and the "---[ end Kernel panic" line it
 * prints when the panic report is complete. The board feeds it every byte
 * the guest writes to any console; the watch splits them into lines (long
 * lines are cut, which cannot hide a marker at a line's start) and says
 * what it saw. Not thread-safe: the caller serialises feeds. */
#ifndef MINNOW_MACHINE_CONSOLE_WATCH_H
#define MINNOW_MACHINE_CONSOLE_WATCH_H

#include <stddef.h>
#include <stdint.h>

enum console_event {
    CONSOLE_NOTHING,
    CONSOLE_PANIC_START,  /* a line with "Kernel panic - not syncing" ended */
    CONSOLE_PANIC_END,    /* the "---[ end Kernel panic" line ended */
};

struct console_watch {
    char line[256];
    size_t len;
    int panicked;
};

void console_watch_init(struct console_watch *w);
/* Feeds bytes; returns the most significant event they completed. */
enum console_event console_watch_feed(struct console_watch *w, const uint8_t *buf, size_t n);

#endif
