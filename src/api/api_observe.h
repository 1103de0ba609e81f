/* Applies Firecracker's logger and metrics settings (PUT /logger, PUT
 * /metrics, the --config-file sections; read and checked by
 * vm_config_json_logger_read / _metrics_read) to the monitor's struct
 * logger / struct metrics. Errors name the object and the field, as the
 * other resources' do. */
#ifndef MINNOW_API_API_OBSERVE_H
#define MINNOW_API_API_OBSERVE_H

#include "api/vm_config.h"
#include "util/errmsg.h"
#include "util/log.h"
#include "vmm/metrics.h"

int api_observe_logger(struct logger *l, const struct vm_config_logger *c, struct errmsg *e);
/* id: the instance id, for emit_id. */
int api_observe_metrics(struct metrics *m, const struct vm_config_metrics *c, const char *id, struct errmsg *e);

#endif
