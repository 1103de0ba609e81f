/* Authenticating the two ends of a live migration with a shared token,
 * by challenge and response: each side sends a random nonce, and each
 * proves it holds the token with HMAC-SHA256(token, role || nonce_source ||
 * nonce_target), so the token never crosses the wire and an answer cannot
 * be replayed on another connection. libcrypto (OpenSSL) computes the
 * HMAC; it is loaded only when a token is used, as libmicrohttpd is (see
 * api/api_http.c: linking it would slow every process start). */
#ifndef MINNOW_VMM_MIGRATION_AUTH_H
#define MINNOW_VMM_MIGRATION_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "util/errmsg.h"

#define MIGRATION_TOKEN_MAX 4096u
#define MIGRATION_NONCE 32u
#define MIGRATION_MAC 32u
/* The library that computes the HMAC, loaded (dlopen) when a token is
 * used; the jailer copies it into a jail (vmm/jailer.h). */
#define MIGRATION_AUTH_LIBRARY "libcrypto.so.3"

struct migration_token {
    uint8_t key[MIGRATION_TOKEN_MAX];
    size_t len;   /* 0: no token */
};

/* Reads the token from a regular file (trailing newlines dropped; at
 * least 16 bytes must remain). `what` names the option for messages. */
int migration_token_load(struct migration_token *t, const char *what, const char *path, struct errmsg *e);

/* Fills a nonce from the kernel's random source. */
int migration_nonce(uint8_t n[MIGRATION_NONCE], struct errmsg *e);

/* The proof for role ("source" or "target"). */
int migration_auth_mac(const struct migration_token *t, const char *role, const uint8_t ns[MIGRATION_NONCE],
                       const uint8_t nt[MIGRATION_NONCE], uint8_t out[MIGRATION_MAC], struct errmsg *e);

/* Compares two proofs in constant time: 1 when equal. */
int migration_auth_equal(const uint8_t a[MIGRATION_MAC], const uint8_t b[MIGRATION_MAC]);

#endif
