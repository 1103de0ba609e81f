/* The MMDS data store (Firecracker's microVM metadata service): one JSON
 * document the host writes through the API (PUT /mmds replaces it, PATCH
 * /mmds merges an RFC 7396 JSON merge patch into it, GET /mmds reads it)
 * and the guest reads over HTTP (api/mmds_http.h), plus the service's
 * settings (version, imds_compat) and its V2 session tokens.
 *
 * The store refuses a document whose compact JSON text would be longer than
 * its limit (--mmds-size-limit, Firecracker's default 51200 bytes), so the
 * guest's answers are bounded too. Tokens are random (32 bytes from
 * getrandom, in hex), held in a table of MMDS_STORE_TOKENS with their
 * expiry (CLOCK_MONOTONIC); a new token when the table is full replaces the
 * one that expires first. They live as long as the store: not in
 * snapshots, as in Firecracker, where the data store is not saved either.
 *
 * Thread-safe: the API thread writes while the I/O thread answers the guest. */
#ifndef MINNOW_API_MMDS_STORE_H
#define MINNOW_API_MMDS_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/errmsg.h"

#define MMDS_STORE_DEFAULT_LIMIT 51200u   /* Firecracker's, its API payload limit */
#define MMDS_STORE_TOKENS 64u
#define MMDS_STORE_TOKEN_LEN 64u          /* hex characters */
#define MMDS_TOKEN_TTL_MIN 1u             /* seconds, Firecracker's bounds */
#define MMDS_TOKEN_TTL_MAX 21600u

struct mmds_store;

int mmds_store_create(struct mmds_store **out, size_t limit, struct errmsg *e);
void mmds_store_destroy(struct mmds_store *s);

/* The limit on the document's compact JSON text, in bytes. */
void mmds_store_set_limit(struct mmds_store *s, size_t limit);
size_t mmds_store_limit(const struct mmds_store *s);
/* Version 2 (true) wants a session token on every GET; imds_compat answers
 * IMDS text whatever the Accept header asks. */
void mmds_store_configure(struct mmds_store *s, bool v2, bool imds_compat);

/* PUT: replaces the document with a copy of data. -EFBIG when it is over
 * the limit (the store is unchanged); the message says by how much. */
int mmds_store_put(struct mmds_store *s, const json_t *data, struct errmsg *e);
/* PATCH: RFC 7396 merge of patch into the document. -ENODATA before the
 * first PUT (Firecracker: "not initialized"), -EFBIG as for put. */
int mmds_store_patch(struct mmds_store *s, const json_t *patch, struct errmsg *e);
/* A deep copy of the document ({} before the first PUT), NULL without memory. */
json_t *mmds_store_get(struct mmds_store *s);

/* What the guest's GET of path (Firecracker's rules: the path is a JSON
 * pointer, repeated '/' count as one, a trailing '/' is dropped) finds. */
enum mmds_lookup {
    MMDS_LOOKUP_OK,            /* *out (malloc'd, *len bytes) is the answer */
    MMDS_LOOKUP_NOT_FOUND,
    MMDS_LOOKUP_UNSUPPORTED,   /* IMDS text of a number, array, boolean or null */
    MMDS_LOOKUP_NOMEM,
};
/* json: the answer as JSON (Accept: application/json), else IMDS text: an
 * object lists its keys one a line (sorted, an object's key ending in '/'),
 * a string is itself; imds_compat overrides json. *json_out says which. */
enum mmds_lookup mmds_store_lookup(struct mmds_store *s, const char *path, size_t path_len, bool json,
                                   char **out, size_t *len, bool *json_out);

/* Version 2 is configured. */
bool mmds_store_v2(struct mmds_store *s);
/* A new session token valid for ttl_s seconds (MMDS_TOKEN_TTL_MIN..MAX,
 * else -EINVAL) from now_ms (CLOCK_MONOTONIC milliseconds). */
int mmds_store_token_new(struct mmds_store *s, unsigned ttl_s, uint64_t now_ms,
                         char out[MMDS_STORE_TOKEN_LEN + 1]);
/* The token (len bytes, not NUL-terminated) is one the store made and has
 * not expired at now_ms. */
bool mmds_store_token_valid(struct mmds_store *s, const char *token, size_t len, uint64_t now_ms);

/* Firecracker's mmds.rx_no_token and rx_invalid_token: the guest's GETs
 * without a token and with one that is not valid (counted in V1 too,
 * where both are still answered). */
void mmds_store_count_get(struct mmds_store *s, bool has_token, bool valid);
void mmds_store_token_counts(struct mmds_store *s, uint64_t *no_token, uint64_t *invalid_token);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t mmds_store_now_ms(void);

#endif
