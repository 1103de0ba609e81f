/* PUT /logger and PUT /metrics (see api_observe.h). */
#include "api/api_observe.h"

#include <errno.h>
#include <string.h>

#include "api/json_fields.h"

int api_observe_logger(struct logger *l, const json_t *b, struct errmsg *e)
{
    const char *const fields[] = { "log_path", "level", "show_level", "show_log_origin", "module", NULL };
    const char *path = NULL, *level = NULL, *module = NULL;
    struct log_options o = { .level = LOG_INFO };
    bool has_module = false;
    int r = json_fields_check("logger", b, fields, e);
    if (!r)
        r = json_fields_string("logger", b, "log_path", false, &path, NULL, e);
    if (!r)
        r = json_fields_string("logger", b, "level", false, &level, NULL, e);
    if (!r)
        r = json_fields_bool("logger", b, "show_level", false, &o.show_level, NULL, e);
    if (!r)
        r = json_fields_bool("logger", b, "show_log_origin", false, &o.show_origin, NULL, e);
    if (!r)
        r = json_fields_string("logger", b, "module", false, &module, &has_module, e);
    if (r)
        return r;
    if (has_module)
        return errmsg_set(e, -EINVAL, "logger: module: minnow's log has no module filter (got '%.100s'); "
                          "leave the field out", module);
    if (level && log_level_parse(level, &o.level))
        return errmsg_set(e, -EINVAL, "logger: level: expected \"Error\", \"Warning\", \"Info\", \"Debug\", "
                          "\"Trace\" or \"Off\", got '%.100s'", level);
    if (path && !*path)
        return errmsg_set(e, -EINVAL, "logger: log_path: expected a path, got an empty string");
    struct errmsg why = { "" };
    if ((r = logger_configure(l, path, &o, &why)))
        return errmsg_set(e, r, "logger: %s", why.text);
    return 0;
}

int api_observe_metrics(struct metrics *m, const json_t *b, const char *id, struct errmsg *e)
{
    const char *const fields[] = { "metrics_path", "emit_id", "properties", NULL };
    const char *path = NULL;
    bool emit_id = false, has_props = false;
    int r = json_fields_check("metrics", b, fields, e);
    if (!r)
        r = json_fields_string("metrics", b, "metrics_path", true, &path, NULL, e);
    if (!r)
        r = json_fields_bool("metrics", b, "emit_id", false, &emit_id, NULL, e);
    if (r)
        return r;
    has_props = json_object_get(b, "properties") && !json_is_null(json_object_get(b, "properties"));
    if (has_props)
        return errmsg_set(e, -EINVAL, "metrics: properties: not supported by minnow; leave the field out");
    if (!*path)
        return errmsg_set(e, -EINVAL, "metrics: metrics_path: expected a path, got an empty string");
    return metrics_configure(m, path, emit_id ? id : NULL, e);
}
