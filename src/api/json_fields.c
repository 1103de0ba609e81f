/* Strict JSON object reading (see json_fields.h). */
#include "api/json_fields.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

json_t *json_fields_parse(const char *text, size_t len, struct errmsg *e)
{
    json_error_t err;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!j)
        errmsg_set(e, -EINVAL, "malformed JSON at line %d, column %d: %s", err.line, err.column, err.text);
    return j;
}

const char *json_fields_type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a fractional number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "an unknown value";
}

int json_fields_check(const char *what, const json_t *j, const char *const *allowed, struct errmsg *e)
{
    if (!json_is_object(j))
        return errmsg_set(e, -EINVAL, "%s: expected an object, got %s", what, json_fields_type_name(j));
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = !strcmp(*a, key);
        if (!ok)
            return errmsg_set(e, -EINVAL, "%s: unknown field '%s'", what, key);
    }
    return 0;
}

/* The field's value, NULL when absent or null; -EINVAL if required. */
static int lookup(const char *what, const json_t *j, const char *name, bool required, json_t **v, struct errmsg *e)
{
    *v = json_object_get(j, name);
    if (*v && json_is_null(*v))
        *v = NULL;
    if (!*v && required)
        return errmsg_set(e, -EINVAL, "%s: missing required field '%s'", what, name);
    return 0;
}

int json_fields_string(const char *what, const json_t *j, const char *name, bool required, const char **out,
                       bool *present, struct errmsg *e)
{
    json_t *v;
    int r = lookup(what, j, name, required, &v, e);
    if (present)
        *present = v != NULL;
    if (r || !v)
        return r;
    if (!json_is_string(v))
        return errmsg_set(e, -EINVAL, "%s: %s: expected a string, got %s", what, name, json_fields_type_name(v));
    if (strlen(json_string_value(v)) != json_string_length(v))
        return errmsg_set(e, -EINVAL, "%s: %s: the string contains a NUL character", what, name);
    *out = json_string_value(v);
    return 0;
}

int json_fields_bool(const char *what, const json_t *j, const char *name, bool required, bool *out, bool *present,
                     struct errmsg *e)
{
    json_t *v;
    int r = lookup(what, j, name, required, &v, e);
    if (present)
        *present = v != NULL;
    if (r || !v)
        return r;
    if (!json_is_boolean(v))
        return errmsg_set(e, -EINVAL, "%s: %s: expected a boolean, got %s", what, name, json_fields_type_name(v));
    *out = json_is_true(v);
    return 0;
}

int json_fields_uint(const char *what, const json_t *j, const char *name, bool required, uint64_t min, uint64_t max,
                     uint64_t *out, bool *present, struct errmsg *e)
{
    json_t *v;
    int r = lookup(what, j, name, required, &v, e);
    if (present)
        *present = v != NULL;
    if (r || !v)
        return r;
    if (!json_is_integer(v))
        return errmsg_set(e, -EINVAL, "%s: %s: expected an integer from %" PRIu64 " to %" PRIu64 ", got %s", what,
                          name, min, max, json_fields_type_name(v));
    json_int_t n = json_integer_value(v);
    if (n < 0 || (uint64_t)n < min || (uint64_t)n > max)
        return errmsg_set(e, -EINVAL, "%s: %s: expected an integer from %" PRIu64 " to %" PRIu64 ", got %" JSON_INTEGER_FORMAT,
                          what, name, min, max, n);
    *out = (uint64_t)n;
    return 0;
}
