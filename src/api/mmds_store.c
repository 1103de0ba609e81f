/* The MMDS data store, its limit and its session tokens (see mmds_store.h). */
#include "api/mmds_store.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

struct token {
    char text[MMDS_STORE_TOKEN_LEN];
    uint64_t expiry_ms;   /* 0: free */
};

struct mmds_store {
    pthread_mutex_t lock;
    json_t *doc;          /* NULL until the first PUT */
    size_t limit;
    bool v2, imds_compat;
    struct token tokens[MMDS_STORE_TOKENS];
    _Atomic uint64_t no_token, invalid_token;
};

int mmds_store_create(struct mmds_store **out, size_t limit, struct errmsg *e)
{
    struct mmds_store *s = calloc(1, sizeof *s);
    if (!s)
        return errmsg_set(e, -ENOMEM, "out of memory for the MMDS data store");
    pthread_mutex_init(&s->lock, NULL);
    s->limit = limit;
    *out = s;
    return 0;
}

void mmds_store_destroy(struct mmds_store *s)
{
    if (!s)
        return;
    json_decref(s->doc);
    memset(s->tokens, 0, sizeof s->tokens);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void mmds_store_set_limit(struct mmds_store *s, size_t limit)
{
    pthread_mutex_lock(&s->lock);
    s->limit = limit;
    pthread_mutex_unlock(&s->lock);
}

size_t mmds_store_limit(const struct mmds_store *s)
{
    struct mmds_store *m = (struct mmds_store *)s;
    pthread_mutex_lock(&m->lock);
    size_t l = m->limit;
    pthread_mutex_unlock(&m->lock);
    return l;
}

void mmds_store_configure(struct mmds_store *s, bool v2, bool imds_compat)
{
    pthread_mutex_lock(&s->lock);
    s->v2 = v2;
    s->imds_compat = imds_compat;
    pthread_mutex_unlock(&s->lock);
}

bool mmds_store_v2(struct mmds_store *s)
{
    pthread_mutex_lock(&s->lock);
    bool v = s->v2;
    pthread_mutex_unlock(&s->lock);
    return v;
}

/* The compact JSON text's length, as Firecracker measures it. */
static size_t text_size(const json_t *j)
{
    return json_dumpb(j, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
}

static int over_limit(size_t size, size_t limit, struct errmsg *e)
{
    return errmsg_set(e, -EFBIG, "MMDS limit exceeded error: The MMDS patch request doesn't fit: the data store "
                      "would be %zu bytes of JSON, which exceeds the limit of %zu bytes (--mmds-size-limit)",
                      size, limit);
}

int mmds_store_put(struct mmds_store *s, const json_t *data, struct errmsg *e)
{
    json_t *copy = json_deep_copy(data);
    if (!copy)
        return errmsg_set(e, -ENOMEM, "mmds: out of memory");
    size_t size = text_size(copy);
    pthread_mutex_lock(&s->lock);
    int r = 0;
    if (size > s->limit) {
        r = over_limit(size, s->limit, e);
        json_decref(copy);
    } else {
        json_decref(s->doc);
        s->doc = copy;
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

/* RFC 7396 section 2, on target in place; returns the new target (which
 * may be a new value: a non-object patch replaces it) or NULL. */
static json_t *merge(json_t *target, const json_t *patch)
{
    if (!json_is_object(patch)) {
        json_decref(target);
        return json_deep_copy(patch);
    }
    if (!json_is_object(target)) {
        json_decref(target);
        if (!(target = json_object()))
            return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)patch, k, v) {
        if (json_is_null(v)) {
            json_object_del(target, k);
            continue;
        }
        json_t *old = json_object_get(target, k);
        json_t *merged = merge(old ? json_incref(old) : NULL, v);
        if (!merged || json_object_set_new(target, k, merged)) {
            json_decref(target);
            return NULL;
        }
    }
    return target;
}

int mmds_store_patch(struct mmds_store *s, const json_t *patch, struct errmsg *e)
{
    pthread_mutex_lock(&s->lock);
    int r = 0;
    if (!s->doc) {
        r = errmsg_set(e, -ENODATA, "MMDS error: The MMDS data store is not initialized. (PUT /mmds first)");
    } else {
        /* On a copy: a patch over the limit leaves the store as it was. */
        json_t *d = merge(json_deep_copy(s->doc), patch);
        size_t size = d ? text_size(d) : 0;
        if (!d) {
            r = errmsg_set(e, -ENOMEM, "mmds: out of memory");
        } else if (size > s->limit) {
            r = over_limit(size, s->limit, e);
            json_decref(d);
        } else {
            json_decref(s->doc);
            s->doc = d;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return r;
}

json_t *mmds_store_get(struct mmds_store *s)
{
    pthread_mutex_lock(&s->lock);
    json_t *j = s->doc ? json_deep_copy(s->doc) : json_object();
    pthread_mutex_unlock(&s->lock);
    return j;
}

/* One reference token of a JSON pointer (RFC 6901: ~1 is '/', ~0 is '~'),
 * unescaped into buf (NUL-terminated); false when the escape is bad. */
static bool pointer_token(const char *p, size_t n, char *buf)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '~') {
            buf[o++] = p[i];
            continue;
        }
        if (i + 1 == n || (p[i + 1] != '0' && p[i + 1] != '1'))
            return false;
        buf[o++] = p[++i] == '0' ? '~' : '/';
    }
    buf[o] = 0;
    return true;
}

/* An array index: 0 or digits without a leading zero. */
static bool array_index(const char *t, size_t *out)
{
    size_t v = 0;
    if (!*t || (t[0] == '0' && t[1]))
        return false;
    for (; *t; t++) {
        if (*t < '0' || *t > '9' || v > (SIZE_MAX - 9) / 10)
            return false;
        v = v * 10 + (size_t)(*t - '0');
    }
    *out = v;
    return true;
}

/* Under the lock: the value at path, NULL when there is none. */
static json_t *resolve(json_t *doc, const char *path, size_t len, char *buf)
{
    /* Firecracker's sanitize_uri folds "//" into "/", then drops one
     * trailing '/'; what is left is a JSON pointer. */
    size_t end = len;
    while (end > 1 && path[end - 1] == '/' && path[end - 2] == '/')
        end--;
    if (end && path[end - 1] == '/')
        end--;
    json_t *cur = doc;
    size_t i = 0;
    while (i < end) {
        if (path[i] != '/')
            return NULL;   /* a pointer starts each token with '/' */
        while (i + 1 < end && path[i + 1] == '/')
            i++;
        size_t start = ++i;
        while (i < end && path[i] != '/')
            i++;
        if (!pointer_token(path + start, i - start, buf))
            return NULL;
        size_t idx;
        if (json_is_object(cur))
            cur = json_object_get(cur, buf);
        else if (json_is_array(cur) && array_index(buf, &idx))
            cur = json_array_get(cur, idx);
        else
            return NULL;
        if (!cur)
            return NULL;
    }
    return cur;
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* IMDS text of an object: its keys, sorted (Firecracker's serde map is
 * ordered), one a line, objects ending in '/'. */
static enum mmds_lookup imds_keys(json_t *o, char **out, size_t *len)
{
    size_t n = json_object_size(o), total = 0, k = 0;
    const char **keys = malloc((n ? n : 1) * sizeof *keys);
    if (!keys)
        return MMDS_LOOKUP_NOMEM;
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        keys[k++] = key;
        total += strlen(key) + 2;
    }
    qsort(keys, n, sizeof *keys, key_cmp);
    char *b = malloc(total + 1);
    if (!b) {
        free(keys);
        return MMDS_LOOKUP_NOMEM;
    }
    size_t p = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            b[p++] = '\n';
        size_t l = strlen(keys[i]);
        memcpy(b + p, keys[i], l);
        p += l;
        if (json_is_object(json_object_get(o, keys[i])))
            b[p++] = '/';
    }
    b[p] = 0;
    free(keys);
    *out = b;
    *len = p;
    return MMDS_LOOKUP_OK;
}

enum mmds_lookup mmds_store_lookup(struct mmds_store *s, const char *path, size_t path_len, bool json,
                                   char **out, size_t *len, bool *json_out)
{
    *out = NULL;
    *len = 0;
    char *buf = malloc(path_len + 1);
    if (!buf)
        return MMDS_LOOKUP_NOMEM;
    pthread_mutex_lock(&s->lock);
    enum mmds_lookup r = MMDS_LOOKUP_OK;
    /* Before the first PUT the document is JSON null, as in Firecracker. */
    json_t *v = resolve(s->doc ? s->doc : json_null(), path, path_len, buf);
    *json_out = json && !s->imds_compat;
    if (!v) {
        r = MMDS_LOOKUP_NOT_FOUND;
    } else if (*json_out) {
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
        if (!t)
            r = MMDS_LOOKUP_NOMEM;
        else {
            *out = t;
            *len = strlen(t);
        }
    } else if (json_is_object(v)) {
        r = imds_keys(v, out, len);
    } else if (json_is_string(v)) {
        size_t l = json_string_length(v);
        char *t = malloc(l + 1);
        if (!t)
            r = MMDS_LOOKUP_NOMEM;
        else {
            memcpy(t, json_string_value(v), l);
            t[l] = 0;
            *out = t;
            *len = l;
        }
    } else {
        r = MMDS_LOOKUP_UNSUPPORTED;
    }
    pthread_mutex_unlock(&s->lock);
    free(buf);
    return r;
}

int mmds_store_token_new(struct mmds_store *s, unsigned ttl_s, uint64_t now_ms,
                         char out[MMDS_STORE_TOKEN_LEN + 1])
{
    if (ttl_s < MMDS_TOKEN_TTL_MIN || ttl_s > MMDS_TOKEN_TTL_MAX)
        return -EINVAL;
    uint8_t raw[MMDS_STORE_TOKEN_LEN / 2];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0 && errno != EINTR)
            return -EIO;
        if (n > 0)
            got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[MMDS_STORE_TOKEN_LEN] = 0;
    memset(raw, 0, sizeof raw);
    pthread_mutex_lock(&s->lock);
    /* A free or expired slot, else the one that expires first. */
    struct token *t = &s->tokens[0];
    for (unsigned i = 0; i < MMDS_STORE_TOKENS; i++) {
        struct token *c = &s->tokens[i];
        if (c->expiry_ms <= now_ms) {
            t = c;
            break;
        }
        if (c->expiry_ms < t->expiry_ms)
            t = c;
    }
    memcpy(t->text, out, MMDS_STORE_TOKEN_LEN);
    t->expiry_ms = now_ms + (uint64_t)ttl_s * 1000u;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

bool mmds_store_token_valid(struct mmds_store *s, const char *token, size_t len, uint64_t now_ms)
{
    if (len != MMDS_STORE_TOKEN_LEN)
        return false;
    bool ok = false;
    pthread_mutex_lock(&s->lock);
    for (unsigned i = 0; i < MMDS_STORE_TOKENS; i++) {
        const struct token *t = &s->tokens[i];
        /* Compared in full whatever matches: no early exit to time. */
        unsigned char d = 0;
        for (size_t k = 0; k < MMDS_STORE_TOKEN_LEN; k++)
            d |= (unsigned char)(t->text[k] ^ token[k]);
        ok |= d == 0 && t->expiry_ms > now_ms;
    }
    pthread_mutex_unlock(&s->lock);
    return ok;
}

uint64_t mmds_store_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

void mmds_store_count_get(struct mmds_store *s, bool has_token, bool valid)
{
    if (!has_token)
        atomic_fetch_add(&s->no_token, 1);
    else if (!valid)
        atomic_fetch_add(&s->invalid_token, 1);
}

void mmds_store_token_counts(struct mmds_store *s, uint64_t *no_token, uint64_t *invalid_token)
{
    *no_token = atomic_load(&s->no_token);
    *invalid_token = atomic_load(&s->invalid_token);
}
