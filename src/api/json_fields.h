/* Strict reading of JSON objects with jansson: unknown fields are refused,
 * every field must have the expected type, numbers must be whole and in
 * range. `what` names the object in messages (e.g. "machine-config"), so
 * an error reads "machine-config: vcpu_count: expected an integer from 1
 * to 16, got 40". A JSON null counts as an absent field. */
#ifndef MINNOW_API_JSON_FIELDS_H
#define MINNOW_API_JSON_FIELDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/errmsg.h"

/* Parses text as one JSON value; errors give the line and column. */
json_t *json_fields_parse(const char *text, size_t len, struct errmsg *e);

/* j must be an object whose keys are all in `allowed` (NULL-terminated). */
int json_fields_check(const char *what, const json_t *j, const char *const *allowed, struct errmsg *e);

/* The getters return 0 and fill *out (and *present) when the field is
 * there, 0 leaving *out alone when it is absent and not required, or
 * -EINVAL with a message. `present` may be NULL. */
int json_fields_string(const char *what, const json_t *j, const char *name, bool required, const char **out,
                       bool *present, struct errmsg *e);
int json_fields_bool(const char *what, const json_t *j, const char *name, bool required, bool *out, bool *present,
                     struct errmsg *e);
int json_fields_uint(const char *what, const json_t *j, const char *name, bool required, uint64_t min, uint64_t max,
                     uint64_t *out, bool *present, struct errmsg *e);

/* The JSON type of j as a phrase ("a string", "an integer", ...). */
const char *json_fields_type_name(const json_t *j);

#endif
