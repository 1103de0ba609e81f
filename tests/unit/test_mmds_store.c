/* Unit tests for api/mmds_store, api/api_mmds and the mmds-config section
 * of api/vm_config_json: PUT, RFC 7396 merge patches (the RFC's own
 * appendix examples), the size limit, Firecracker's lookup rules and IMDS
 * text, session tokens and their expiry, and the configuration's checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_mmds.h"
#include "api/api_vmm.h"
#include "api/mmds_store.h"
#include "api/vm_config.h"
#include "api/vm_config_json.h"

static json_t *parse(const char *t)
{
    json_error_t err;
    json_t *j = json_loads(t, JSON_DECODE_ANY, &err);
    if (!j)
        fail_msg("bad test JSON %s: %s", t, err.text);
    return j;
}

static char *dump(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

static void assert_doc(struct mmds_store *s, const char *want)
{
    json_t *g = mmds_store_get(s);
    char *t = dump(g);
    assert_string_equal(t, want);
    free(t);
    json_decref(g);
}

static void put(struct mmds_store *s, const char *t)
{
    json_t *j = parse(t);
    struct errmsg e = { "" };
    assert_int_equal(mmds_store_put(s, j, &e), 0);
    json_decref(j);
}

static int patch(struct mmds_store *s, const char *t, struct errmsg *e)
{
    json_t *j = parse(t);
    int r = mmds_store_patch(s, j, e);
    json_decref(j);
    return r;
}

static void test_put_patch(void **state)
{
    (void)state;
    struct mmds_store *s;
    struct errmsg e = { "" };
    assert_int_equal(mmds_store_create(&s, MMDS_STORE_DEFAULT_LIMIT, &e), 0);
    assert_doc(s, "{}");
    /* Firecracker: a PATCH before any PUT is "not initialized". */
    assert_int_equal(patch(s, "{\"a\": 1}", &e), -ENODATA);
    assert_non_null(strstr(e.text, "The MMDS data store is not initialized"));
    /* RFC 7396 appendix A, each example. */
    static const char *const cases[][3] = {
        { "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
        { "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}" },
        { "{\"a\":\"b\"}", "{\"a\":null}", "{}" },
        { "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}" },
        { "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
        { "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}" },
        { "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}" },
        { "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}" },
        { "[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]" },
        { "{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]" },
        { "{\"e\":null}", "{\"a\":1}", "{\"a\":1,\"e\":null}" },
        { "[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}" },
        { "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        put(s, cases[i][0]);
        assert_int_equal(patch(s, cases[i][1], &e), 0);
        assert_doc(s, cases[i][2]);
    }
    /* PUT replaces the whole document. */
    put(s, "{\"x\":{\"y\":\"z\"}}");
    put(s, "{\"q\":1}");
    assert_doc(s, "{\"q\":1}");
    mmds_store_destroy(s);
}

static void test_limit(void **state)
{
    (void)state;
    struct mmds_store *s;
    struct errmsg e = { "" };
    /* {"a":"0123456789"} is 18 bytes of compact JSON. */
    assert_int_equal(mmds_store_create(&s, 18, &e), 0);
    put(s, "{ \"a\" :   \"0123456789\" }");   /* the whitespace does not count */
    json_t *big = parse("{\"a\":\"0123456789X\"}");
    assert_int_equal(mmds_store_put(s, big, &e), -EFBIG);
    assert_non_null(strstr(e.text, "19 bytes"));
    assert_non_null(strstr(e.text, "exceeds the limit of 18 bytes"));
    json_decref(big);
    assert_doc(s, "{\"a\":\"0123456789\"}");   /* unchanged */
    /* A patch that grows it past the limit is refused and changes nothing. */
    assert_int_equal(patch(s, "{\"b\":1}", &e), -EFBIG);
    assert_doc(s, "{\"a\":\"0123456789\"}");
    assert_int_equal(patch(s, "{\"a\":\"short\"}", &e), 0);
    assert_doc(s, "{\"a\":\"short\"}");
    mmds_store_set_limit(s, 1000);
    assert_int_equal(patch(s, "{\"b\":1}", &e), 0);
    assert_int_equal(mmds_store_limit(s), 1000);
    mmds_store_destroy(s);
}

static void expect_lookup(struct mmds_store *s, const char *path, bool json, enum mmds_lookup want,
                          const char *text)
{
    char *out;
    size_t len;
    bool as_json;
    enum mmds_lookup r = mmds_store_lookup(s, path, strlen(path), json, &out, &len, &as_json);
    if (r != want)
        fail_msg("lookup %s (json %d): %d, expected %d", path, json, r, want);
    if (text) {
        assert_non_null(out);
        assert_int_equal(len, strlen(text));
        assert_string_equal(out, text);
    }
    free(out);
}

static void test_lookup(void **state)
{
    (void)state;
    struct mmds_store *s;
    struct errmsg e = { "" };
    assert_int_equal(mmds_store_create(&s, MMDS_STORE_DEFAULT_LIMIT, &e), 0);
    /* Before a PUT the document is null: / is not IMDS text, a path is not found. */
    expect_lookup(s, "/", false, MMDS_LOOKUP_UNSUPPORTED, NULL);
    expect_lookup(s, "/latest", false, MMDS_LOOKUP_NOT_FOUND, NULL);
    /* Firecracker's own test document (src/vmm/src/mmds/mod.rs). */
    put(s, "{\"name\": {\"first\": \"John\", \"second\": \"Doe\"}, \"age\": 43,"
           " \"phones\": {\"home\": {\"RO\": \"+401234567\", \"UK\": \"+441234567\"}, \"mobile\": \"+442345678\"},"
           " \"a/b\": {\"c~d\": \"esc\"}, \"list\": [\"zero\", {\"k\": \"v\"}]}");
    expect_lookup(s, "/", false, MMDS_LOOKUP_OK, "a/b/\nage\nlist\nname/\nphones/");
    expect_lookup(s, "/phones", false, MMDS_LOOKUP_OK, "home/\nmobile");
    expect_lookup(s, "/phones/", false, MMDS_LOOKUP_OK, "home/\nmobile");
    expect_lookup(s, "//phones///home//", false, MMDS_LOOKUP_OK, "RO\nUK");
    expect_lookup(s, "/phones/mobile", false, MMDS_LOOKUP_OK, "+442345678");
    expect_lookup(s, "/phones/home", true, MMDS_LOOKUP_OK, "{\"RO\":\"+401234567\",\"UK\":\"+441234567\"}");
    expect_lookup(s, "/name/first", true, MMDS_LOOKUP_OK, "\"John\"");
    expect_lookup(s, "/age", true, MMDS_LOOKUP_OK, "43");
    expect_lookup(s, "/age", false, MMDS_LOOKUP_UNSUPPORTED, NULL);
    expect_lookup(s, "/list", false, MMDS_LOOKUP_UNSUPPORTED, NULL);
    expect_lookup(s, "/list/0", false, MMDS_LOOKUP_OK, "zero");
    expect_lookup(s, "/list/1/k", false, MMDS_LOOKUP_OK, "v");
    expect_lookup(s, "/list/01", false, MMDS_LOOKUP_NOT_FOUND, NULL);
    expect_lookup(s, "/list/2", false, MMDS_LOOKUP_NOT_FOUND, NULL);
    expect_lookup(s, "/list/99999999999999999999999", false, MMDS_LOOKUP_NOT_FOUND, NULL);
    expect_lookup(s, "/a~1b/c~0d", false, MMDS_LOOKUP_OK, "esc");
    expect_lookup(s, "/a~2b", false, MMDS_LOOKUP_NOT_FOUND, NULL);
    expect_lookup(s, "/a~", false, MMDS_LOOKUP_NOT_FOUND, NULL);
    expect_lookup(s, "/nothing/here", false, MMDS_LOOKUP_NOT_FOUND, NULL);
    expect_lookup(s, "/phones/mobile/deeper", false, MMDS_LOOKUP_NOT_FOUND, NULL);
    expect_lookup(s, "relative", false, MMDS_LOOKUP_NOT_FOUND, NULL);
    /* imds_compat answers IMDS text whatever was asked. */
    mmds_store_configure(s, false, true);
    expect_lookup(s, "/phones/home", true, MMDS_LOOKUP_OK, "RO\nUK");
    expect_lookup(s, "/age", true, MMDS_LOOKUP_UNSUPPORTED, NULL);
    mmds_store_destroy(s);
}

static void test_tokens(void **state)
{
    (void)state;
    struct mmds_store *s;
    struct errmsg e = { "" };
    assert_int_equal(mmds_store_create(&s, MMDS_STORE_DEFAULT_LIMIT, &e), 0);
    char t1[MMDS_STORE_TOKEN_LEN + 1], t2[MMDS_STORE_TOKEN_LEN + 1];
    assert_int_equal(mmds_store_token_new(s, 0, 1000, t1), -EINVAL);
    assert_int_equal(mmds_store_token_new(s, 21601, 1000, t1), -EINVAL);
    assert_int_equal(mmds_store_token_new(s, 10, 1000, t1), 0);
    assert_int_equal(mmds_store_token_new(s, 21600, 1000, t2), 0);
    assert_int_equal(strlen(t1), MMDS_STORE_TOKEN_LEN);
    assert_string_not_equal(t1, t2);
    assert_true(mmds_store_token_valid(s, t1, strlen(t1), 1000));
    assert_true(mmds_store_token_valid(s, t1, strlen(t1), 10999));
    assert_false(mmds_store_token_valid(s, t1, strlen(t1), 11000));   /* expired */
    assert_true(mmds_store_token_valid(s, t2, strlen(t2), 11000));
    char wrong[MMDS_STORE_TOKEN_LEN + 1];
    memcpy(wrong, t2, sizeof wrong);
    wrong[5] = wrong[5] == 'a' ? 'b' : 'a';
    assert_false(mmds_store_token_valid(s, wrong, strlen(wrong), 1000));
    assert_false(mmds_store_token_valid(s, t2, strlen(t2) - 1, 1000));
    assert_false(mmds_store_token_valid(s, "", 0, 1000));
    /* A full table gives up the token that expires first: t2 (6 h) stays. */
    for (unsigned i = 0; i < MMDS_STORE_TOKENS + 5; i++) {
        char t[MMDS_STORE_TOKEN_LEN + 1];
        assert_int_equal(mmds_store_token_new(s, 100, 2000 + i, t), 0);
        assert_true(mmds_store_token_valid(s, t, strlen(t), 2000 + i));
    }
    assert_true(mmds_store_token_valid(s, t2, strlen(t2), 3000));
    mmds_store_destroy(s);
}

static int config_err(struct vm_config *c, const char *json, struct errmsg *e)
{
    json_t *j = parse(json);
    int r = vm_config_json_mmds(c, j, e);
    json_decref(j);
    return r;
}

static void test_config(void **state)
{
    (void)state;
    struct vm_config c;
    struct errmsg e = { "" };
    const char *doc = "{\"network-interfaces\": [{\"iface_id\": \"eth0\", \"minnow_user\": true},"
                      " {\"iface_id\": \"eth1\", \"minnow_user\": true}],"
                      " \"mmds-config\": {\"version\": \"V2\", \"network_interfaces\": [\"eth1\"],"
                      " \"ipv4_address\": \"169.254.170.2\", \"imds_compat\": true}}";
    assert_int_equal(vm_config_json_load(&c, doc, strlen(doc), &e), 0);
    assert_true(c.mmds.present);
    assert_int_equal(c.mmds.version, VM_CONFIG_MMDS_V2);
    assert_int_equal(c.mmds.ipv4, 0xa9feaa02u);
    assert_true(c.mmds.imds_compat);
    assert_false(vm_config_net_has_mmds(&c, 0));
    assert_true(vm_config_net_has_mmds(&c, 1));
    json_t *d = vm_config_json_mmds_dump(&c);
    char *t = dump(d);
    assert_string_equal(t, "{\"imds_compat\":true,\"ipv4_address\":\"169.254.170.2\",\"network_interfaces\":"
                           "[\"eth1\"],\"version\":\"V2\"}");
    free(t);
    json_decref(d);
    /* Defaults: V1, 169.254.169.254, no imds_compat. */
    assert_int_equal(config_err(&c, "{\"network_interfaces\": [\"eth0\"]}", &e), 0);
    assert_int_equal(c.mmds.version, VM_CONFIG_MMDS_V1);
    assert_int_equal(c.mmds.ipv4, VM_CONFIG_MMDS_DEFAULT_IPV4);
    assert_false(c.mmds.imds_compat);
    static const char *const bad[][2] = {
        { "{\"version\": \"V2\"}", "mmds-config: network_interfaces: required" },
        { "{\"network_interfaces\": []}", "The list of network interface IDs that allow forwarding MMDS "
                                          "requests is empty." },
        { "{\"network_interfaces\": [\"eth9\"]}", "'eth9': The list of network interface IDs provided contains "
                                                  "at least one ID that does not correspond to any existing "
                                                  "network interface." },
        { "{\"network_interfaces\": \"eth0\"}", "network_interfaces: expected a list of strings, got a string" },
        { "{\"network_interfaces\": [7]}", "network_interfaces[0]: expected a string, got an integer" },
        { "{\"network_interfaces\": [\"eth0\"], \"version\": \"V3\"}", "version: expected \"V1\" or \"V2\"" },
        { "{\"network_interfaces\": [\"eth0\"], \"ipv4_address\": \"10.0.0.1\"}", "not link local" },
        { "{\"network_interfaces\": [\"eth0\"], \"ipv4_address\": \"169.254.0.9\"}", "not link local" },
        { "{\"network_interfaces\": [\"eth0\"], \"ipv4_address\": \"169.254.255.1\"}", "not link local" },
        { "{\"network_interfaces\": [\"eth0\"], \"ipv4_address\": \"\"}", "expected a dotted IPv4 address" },
        { "{\"network_interfaces\": [\"eth0\"], \"imds_compat\": 1}", "imds_compat" },
        { "{\"network_interfaces\": [\"eth0\"], \"port\": 80}", "port" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        e.text[0] = 0;
        assert_int_equal(config_err(&c, bad[i][0], &e), -EINVAL);
        if (!strstr(e.text, bad[i][1]))
            fail_msg("%s: '%s' does not say '%s'", bad[i][0], e.text, bad[i][1]);
    }
    vm_config_free(&c);
    /* The section needs its interfaces in the same document. */
    const char *orphan = "{\"mmds-config\": {\"network_interfaces\": [\"eth0\"]}}";
    assert_int_equal(vm_config_json_load(&c, orphan, strlen(orphan), &e), -EINVAL);
}

static void test_api_routes(void **state)
{
    (void)state;
    struct api_vmm *a;
    struct errmsg e = { "" };
    struct api_reply r;
    assert_int_equal(api_vmm_create(&a, NULL, &e), 0);
#define REQ(m, p, b) api_vmm_handle(a, m, p, b, strlen(b), &r)
    REQ("GET", "/mmds", "");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{}");
    free(r.body);
    REQ("PATCH", "/mmds", "{\"a\": 1}");
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "not initialized"));
    free(r.body);
    REQ("PUT", "/mmds", "{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-1\"}}}");
    assert_int_equal(r.status, 204);
    assert_null(r.body);
    REQ("PATCH", "/mmds", "{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-2\", \"x\": \"y\"}}}");
    assert_int_equal(r.status, 204);
    REQ("GET", "/mmds", "");
    assert_int_equal(r.status, 200);
    json_t *got = parse(r.body);
    char *t = dump(got);
    assert_string_equal(t, "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-2\",\"x\":\"y\"}}}");
    free(t);
    json_decref(got);
    free(r.body);
    REQ("PUT", "/mmds", "not json");
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "fault_message"));
    free(r.body);
    /* Over the limit: 413 with a fault_message, as Firecracker answers. */
    mmds_store_set_limit(api_vmm_mmds(a), 10);
    REQ("PUT", "/mmds", "{\"latest\": \"0123456789\"}");
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "exceeds the limit of 10 bytes"));
    free(r.body);
    /* mmds/config needs the interface first. */
    REQ("PUT", "/mmds/config", "{\"network_interfaces\": [\"eth0\"]}");
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "does not correspond to any existing network interface"));
    free(r.body);
    REQ("PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"minnow_user\": true}");
    assert_int_equal(r.status, 204);
    REQ("PUT", "/mmds/config", "{\"network_interfaces\": [\"eth0\"], \"version\": \"V2\"}");
    assert_int_equal(r.status, 204);
    assert_true(mmds_store_v2(api_vmm_mmds(a)));
    REQ("GET", "/vm/config", "");
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"mmds-config\":{\"version\":\"V2\",\"network_interfaces\":[\"eth0\"],"
                                   "\"ipv4_address\":\"169.254.169.254\",\"imds_compat\":false}"));
    free(r.body);
    REQ("DELETE", "/mmds", "");
    assert_int_equal(r.status, 400);
    free(r.body);
#undef REQ
    api_vmm_destroy(a);
}

static void test_metadata_file(void **state)
{
    (void)state;
    struct mmds_store *s;
    struct errmsg e = { "" };
    assert_int_equal(mmds_store_create(&s, 64, &e), 0);
    char path[] = "/tmp/minnow-mmds-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *doc = "{\"k\": \"v\"}\n";
    assert_int_equal(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
    assert_int_equal(api_mmds_load_file(s, path, &e), 0);
    assert_doc(s, "{\"k\":\"v\"}");
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(pwrite(fd, "{\"k\": ", 6, 0), 6);
    assert_int_equal(api_mmds_load_file(s, path, &e), -EINVAL);
    assert_non_null(strstr(e.text, "not valid JSON"));
    char big[300];
    memset(big, 'x', sizeof big);
    memcpy(big, "{\"k\":\"", 6);
    memcpy(big + sizeof big - 2, "\"}", 2);
    assert_int_equal(pwrite(fd, big, sizeof big, 0), (ssize_t)sizeof big);
    assert_int_equal(api_mmds_load_file(s, path, &e), -EFBIG);
    assert_non_null(strstr(e.text, "exceeds the limit of 64 bytes"));
    close(fd);
    unlink(path);
    assert_int_equal(api_mmds_load_file(s, path, &e), -ENOENT);
    assert_non_null(strstr(e.text, path));
    mmds_store_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_patch),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_api_routes),
        cmocka_unit_test(test_metadata_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
