/* The migration token and its challenge-response proofs (see
 * migration_auth.h). */
#include "vmm/migration_auth.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/file_open.h"

int migration_token_load(struct migration_token *t, const char *what, const char *path, struct errmsg *e)
{
    t->len = 0;
    int fd = file_open_kind(what, path, O_RDONLY, 0, FILE_OPEN_REG, e);
    if (fd < 0)
        return fd;
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, t->key + got, sizeof t->key - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            return errmsg_set(e, -err, "%s '%s': read: %s", what, path, strerror(err));
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got == sizeof t->key) {
            close(fd);
            return errmsg_set(e, -EFBIG, "%s '%s': the token is longer than %u bytes", what, path,
                              MIGRATION_TOKEN_MAX - 1);
        }
    }
    close(fd);
    while (got && (t->key[got - 1] == '\n' || t->key[got - 1] == '\r'))
        got--;
    if (got < 16)
        return errmsg_set(e, -EINVAL, "%s '%s': the token has %zu bytes; give at least 16 (e.g. "
                          "head -c 32 /dev/urandom | base64 > FILE)", what, path, got);
    t->len = got;
    return 0;
}

int migration_nonce(uint8_t n[MIGRATION_NONCE], struct errmsg *e)
{
    if (getrandom(n, MIGRATION_NONCE, 0) != (ssize_t)MIGRATION_NONCE)
        return errmsg_set(e, -EIO, "getrandom: %s", strerror(errno));
    return 0;
}

typedef const void *evp_md_fn(void);
typedef unsigned char *hmac_fn(const void *md, const void *key, int key_len, const unsigned char *d, size_t n,
                               unsigned char *out, unsigned int *out_len);

int migration_auth_mac(const struct migration_token *t, const char *role, const uint8_t ns[MIGRATION_NONCE],
                       const uint8_t nt[MIGRATION_NONCE], uint8_t out[MIGRATION_MAC], struct errmsg *e)
{
    void *lib = dlopen(MIGRATION_AUTH_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return errmsg_set(e, -ENOENT, "cannot load libcrypto for the migration token: %s (install libssl3)",
                          dlerror());
    evp_md_fn *sha256;
    hmac_fn *hmac;
    *(void **)&sha256 = dlsym(lib, "EVP_sha256");
    *(void **)&hmac = dlsym(lib, "HMAC");
    int r = 0;
    if (!sha256 || !hmac) {
        r = errmsg_set(e, -ENOENT, "libcrypto lacks EVP_sha256 or HMAC");
    } else {
        uint8_t msg[16 + 2 * MIGRATION_NONCE] = { 0 };
        size_t rl = strlen(role);
        memcpy(msg, role, rl < 16 ? rl : 16);
        memcpy(msg + 16, ns, MIGRATION_NONCE);
        memcpy(msg + 16 + MIGRATION_NONCE, nt, MIGRATION_NONCE);
        unsigned int len = 0;
        if (!hmac(sha256(), t->key, (int)t->len, msg, sizeof msg, out, &len) || len != MIGRATION_MAC)
            r = errmsg_set(e, -EIO, "HMAC-SHA256 failed");
    }
    dlclose(lib);
    return r;
}

int migration_auth_equal(const uint8_t a[MIGRATION_MAC], const uint8_t b[MIGRATION_MAC])
{
    uint8_t d = 0;
    for (unsigned i = 0; i < MIGRATION_MAC; i++)
        d |= (uint8_t)(a[i] ^ b[i]);
    return d == 0;
}
