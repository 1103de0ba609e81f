/* PUT /logger and PUT /metrics bodies (Firecracker's Logger and Metrics
 * objects) applied to a struct logger / struct metrics. Errors name the
 * object and the field, as the other resources' do.
 *
 *   logger:  log_path (string), level ("Error", "Warning", "Info", "Debug",
 *            "Trace", "Off", any case; default Info), show_level and
 *            show_log_origin (booleans, default false); "module" (a Rust
 *            module filter in Firecracker) is refused: minnow's log has no
 *            modules to filter by.
 *   metrics: metrics_path (string, required), emit_id (boolean: each line
 *            carries the instance id); "properties" is refused. */
#ifndef MINNOW_API_API_OBSERVE_H
#define MINNOW_API_API_OBSERVE_H

#include <jansson.h>

#include "util/errmsg.h"
#include "util/log.h"
#include "vmm/metrics.h"

int api_observe_logger(struct logger *l, const json_t *body, struct errmsg *e);
/* id: the instance id, for emit_id. */
int api_observe_metrics(struct metrics *m, const json_t *body, const char *id, struct errmsg *e);

#endif
