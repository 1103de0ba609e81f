/* The logger and metrics settings applied (see api_observe.h). */
#include <string.h>

#include "api/api_observe.h"

int api_observe_logger(struct logger *l, const struct vm_config_logger *c, struct errmsg *e)
{
    struct log_options o = { .level = c->level, .show_level = c->show_level, .show_origin = c->show_log_origin };
    memcpy(o.module, c->module, sizeof o.module);
    struct errmsg why = { "" };
    int r = logger_configure(l, c->log_path, &o, &why);
    if (r)
        return errmsg_set(e, r, "logger: %s", why.text);
    return 0;
}

int api_observe_metrics(struct metrics *m, const struct vm_config_metrics *c, const char *id, struct errmsg *e)
{
    return metrics_configure(m, c->metrics_path, c->emit_id ? id : NULL, e);
}
