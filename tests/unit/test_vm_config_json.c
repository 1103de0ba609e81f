/* Unit tests for api/vm_config, api/vm_config_json and api/api_vmm: the
 * Firecracker JSON read into the configuration (good documents, and bad
 * ones refused with a message naming the field, asserted word for word),
 * written back out (a round trip gives the same document), converted to
 * the board's configuration, and the REST routes without HTTP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_version.h"
#include "api/api_vmm.h"
#include "api/vm_config.h"
#include "api/vm_config_json.h"

static const char full[] =
    "{\"boot-source\": {\"kernel_image_path\": \"/k/Image\", \"initrd_path\": \"/k/initrd\","
    "   \"boot_args\": \"console=ttyS0\", \"firmware_path\": \"/fw.bin\"},"
    " \"machine-config\": {\"vcpu_count\": 4, \"mem_size_mib\": 512, \"smt\": false,"
    "   \"track_dirty_pages\": false, \"huge_pages\": \"None\", \"cpu_template\": \"None\"},"
    " \"drives\": [{\"drive_id\": \"data\", \"path_on_host\": \"/d.img\", \"is_root_device\": false,"
    "              \"is_read_only\": true, \"io_engine\": \"Sync\", \"minnow_serial\": \"s1\"},"
    "             {\"drive_id\": \"root\", \"path_on_host\": \"/r.img\", \"is_root_device\": true,"
    "              \"cache_type\": \"Writeback\", \"rate_limiter\": null}],"
    " \"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\","
    "                          \"guest_mac\": \"52:54:00:12:34:56\", \"mtu\": 9000},"
    "                         {\"iface_id\": \"eth1\", \"minnow_user\": true,"
    "                          \"minnow_hostfwd\": [\"tcp::2222-:22\", \"udp:0.0.0.0:5353-10.0.2.15:53\"]}],"
    " \"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/v.sock\"},"
    " \"entropy\": {},"
    " \"balloon\": {\"amount_mib\": 64, \"deflate_on_oom\": true, \"stats_polling_interval_s\": 5,"
    " \"free_page_reporting\": true},"
    " \"logger\": {\"log_path\": \"/l.log\", \"level\": \"debug\", \"show_level\": true},"
    " \"metrics\": {\"metrics_path\": \"/m.json\"},"
    " \"mmds-config\": null}";

/* What Firecracker's own example configuration has that minnow only
 * keeps: track_dirty_pages true (Diff snapshots need no switch here) and
 * an empty pmem list. */
static void test_firecracker_example_keys(void **state)
{
    (void)state;
    static const char doc[] =
        "{\"boot-source\": {\"kernel_image_path\": \"/k/Image\"},"
        " \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 256, \"track_dirty_pages\": true},"
        " \"pmem\": [], \"memory-hotplug\": null}";
    struct vm_config c;
    struct errmsg e = { "" };
    if (vm_config_json_load(&c, doc, strlen(doc), &e))
        fail_msg("refused: %s", e.text);
    assert_true(c.machine.track_dirty_pages);
    json_t *m = vm_config_json_machine_dump(&c);
    assert_true(json_is_true(json_object_get(m, "track_dirty_pages")));
    json_decref(m);
    vm_config_free(&c);
}

/* Unknown top-level keys are ignored, as Firecracker ignores them, and
 * named for the warning; every key Firecracker's VmmConfig has is known. */
static void test_unknown_sections(void **state)
{
    (void)state;
    static const char doc[] =
        "{\"boot-source\": {\"kernel_image_path\": \"/k/Image\"}, \"machine\": {\"x\": 1},"
        " \"entropy\": {}, \"serial\": {\"serial_out_path\": \"/s.out\","
        " \"rate_limiter\": {\"size\": 2048, \"refill_time\": 500}}, \"pmem\": [],"
        " \"cpu-config\": null, \"memory-hotplug\": null, \"mmds-config\": null, \"future-thing\": [1, 2]}";
    struct vm_config c;
    struct errmsg e = { "" };
    if (vm_config_json_load(&c, doc, strlen(doc), &e))
        fail_msg("refused: %s", e.text);
    assert_non_null(c.ignored_keys);
    assert_string_equal(c.ignored_keys, "'machine', 'future-thing'");
    assert_true(c.entropy);
    assert_string_equal(c.serial_out_path, "/s.out");
    assert_true(c.serial_rate_limiter.present);
    assert_int_equal(c.serial_rate_limiter.cfg.size, 2048);
    assert_int_equal(c.serial_rate_limiter.cfg.one_time_burst, 0);
    assert_int_equal(c.serial_rate_limiter.cfg.refill_time_ms, 500);
    /* A copy does not carry the warning (it was given once). */
    struct vm_config d;
    assert_int_equal(vm_config_copy(&d, &c, &e), 0);
    assert_null(d.ignored_keys);
    assert_int_equal(d.serial_rate_limiter.cfg.size, 2048);
    vm_config_free(&d);
    vm_config_free(&c);
    static const char known[] = "{\"boot-source\": {\"kernel_image_path\": \"/k/Image\"}}";
    assert_int_equal(vm_config_json_load(&c, known, strlen(known), &e), 0);
    assert_null(c.ignored_keys);
    vm_config_free(&c);
}

static void test_load_full(void **state)
{
    (void)state;
    struct vm_config c;
    struct errmsg e = { "" };
    assert_int_equal(vm_config_json_load(&c, full, strlen(full), &e), 0);
    assert_string_equal(c.boot.kernel_image_path, "/k/Image");
    assert_string_equal(c.boot.firmware_path, "/fw.bin");
    assert_int_equal(c.machine.vcpu_count, 4);
    assert_int_equal(c.machine.mem_size, 512ull << 20);
    assert_int_equal(c.ndrives, 2);
    assert_true(c.drives[0].is_read_only);
    assert_int_equal(c.drives[0].engine, BLOCK_FILE_ENGINE_SYNC);
    assert_string_equal(c.drives[0].serial, "s1");
    assert_int_equal(c.drives[1].engine, BLOCK_FILE_ENGINE_AUTO);
    assert_int_equal(c.nnets, 2);
    assert_int_equal(c.nets[0].spec.kind, NET_SPEC_TAP);
    assert_string_equal(c.nets[0].spec.tap_name, "tap0");
    assert_true(c.nets[0].spec.has_mac);
    assert_int_equal(c.nets[1].spec.kind, NET_SPEC_USER);
    assert_int_equal(c.nets[1].spec.n_hostfwd, 2);
    assert_true(c.nets[1].spec.hostfwd[1].udp);
    assert_true(c.vsock.present);
    assert_int_equal(c.vsock.guest_cid, 3);
    assert_true(c.entropy);
    assert_int_equal(c.balloon.amount_mib, 64);
    assert_int_equal(c.balloon.stats_polling_interval_s, 5);
    assert_true(c.balloon.free_page_reporting);
    assert_false(c.balloon.free_page_hinting);
    assert_true(c.logger.present);
    assert_string_equal(c.logger.log_path, "/l.log");
    assert_int_equal(c.logger.level, LOG_DEBUG);
    assert_true(c.logger.show_level);
    assert_false(c.logger.show_log_origin);
    assert_true(c.metrics.present);
    assert_string_equal(c.metrics.metrics_path, "/m.json");
    assert_false(c.metrics.emit_id);

    /* The board gets the root drive first and root= on its command line. */
    struct vm_build b;
    assert_int_equal(vm_config_build(&c, &b, &e), 0);
    assert_int_equal(b.virt.nharts, 4);
    assert_int_equal(b.virt.ndevices, 7);
    assert_int_equal(b.devices[0].kind, VIRT_DEV_BLK);
    assert_string_equal(b.devices[0].blk.path, "/r.img");
    assert_string_equal(b.devices[1].blk.path, "/d.img");
    assert_int_equal(b.devices[2].kind, VIRT_DEV_NET);
    assert_int_equal(b.devices[4].kind, VIRT_DEV_VSOCK);
    assert_int_equal(b.devices[5].kind, VIRT_DEV_RNG);
    assert_int_equal(b.devices[6].kind, VIRT_DEV_BALLOON);
    assert_int_equal(b.devices[6].balloon.target_pages, 64 * 256);
    assert_true(b.devices[6].balloon.stats);
    assert_true(b.devices[6].balloon.free_page_reporting);
    assert_false(b.devices[6].balloon.free_page_hinting);
    assert_string_equal(b.virt.bootargs, "console=ttyS0 root=/dev/vda rw");
    vm_config_free(&c);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct vm_config c, d;
    struct errmsg e = { "" };
    assert_int_equal(vm_config_json_load(&c, full, strlen(full), &e), 0);
    json_t *j1 = vm_config_json_dump(&c);
    char *text = json_dumps(j1, 0);
    assert_non_null(text);
    assert_int_equal(vm_config_json_load(&d, text, strlen(text), &e), 0);
    json_t *j2 = vm_config_json_dump(&d);
    assert_true(json_equal(j1, j2));
    json_t *fwd = json_object_get(json_array_get(json_object_get(j1, "network-interfaces"), 1), "minnow_hostfwd");
    assert_string_equal(json_string_value(json_array_get(fwd, 0)), "tcp:127.0.0.1:2222-10.0.2.15:22");
    /* the MTU given survives the round trip; none given stays absent */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(j1, "network-interfaces"), 0),
                                                        "mtu")), 9000);
    assert_null(json_object_get(json_array_get(json_object_get(j1, "network-interfaces"), 1), "mtu"));
    json_decref(j1);
    json_decref(j2);
    free(text);
    vm_config_free(&c);
    vm_config_free(&d);
}

/* Loads doc and expects it refused with exactly msg. */
static void refused(const char *doc, const char *msg)
{
    struct vm_config c;
    struct errmsg e = { "" };
    assert_int_not_equal(vm_config_json_load(&c, doc, strlen(doc), &e), 0);
    assert_string_equal(e.text, msg);
    assert_int_equal(c.ndrives, 0);
}

static void test_bad_documents(void **state)
{
    (void)state;
    refused("{\"boot-source\": ", "malformed JSON at line 1, column 16: unexpected token near end of file");
    refused("[1]", "the configuration: expected an object, got an array");
    refused("{\"serial\": {\"serial_out_path\": 5}}", "serial: serial_out_path: expected a string, got an integer");
    refused("{\"serial\": {\"rate_limiter\": {\"size\": 1, \"refill_time\": 1, \"ops\": 1}}}",
            "serial: rate_limiter: unknown field 'ops'");
    refused("{\"metrics\": {}}", "metrics: missing required field 'metrics_path'");
    refused("{\"metrics\": {\"metrics_path\": \"\"}}", "metrics: metrics_path: expected a path, got an empty string");
    refused("{\"metrics\": {\"metrics_path\": \"/m\", \"properties\": {}}}",
            "metrics: properties: not supported by minnow; leave the field out");
    refused("{\"logger\": {\"level\": \"Loud\"}}",
            "logger: level: expected \"Error\", \"Warning\", \"Info\", \"Debug\", \"Trace\" or \"Off\", got 'Loud'");
    refused("{\"logger\": {\"show_level\": 1}}", "logger: show_level: expected a boolean, got an integer");
    refused("{\"logger\": {\"module\": \"vmm::x\"}}",
            "logger: module: 'vmm::x' is a Rust module path; minnow's modules are source paths under src/ "
            "(e.g. \"api/api_vmm\")");
    refused("{\"logger\": {\"module\": \"\"}}",
            "logger: module: expected a source path under src/ of 1 to 63 bytes (e.g. \"api\" or "
            "\"devices/virtio_net\"), got ''");
    refused("{\"machine-config\": {\"vcpu_count\": 17, \"mem_size_mib\": 64}}",
            "machine-config: vcpu_count: expected an integer from 1 to 16, got 17");
    refused("{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": \"64\"}}",
            "machine-config: mem_size_mib: expected an integer from 1 to 1048576, got a string");
    refused("{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64, \"track_dirty_pages\": 1}}",
            "machine-config: track_dirty_pages: expected a boolean, got an integer");
    refused("{\"pmem\": [{\"id\": \"p0\", \"path_on_host\": \"/p.img\"}]}",
            "pmem: not supported by minnow yet (give null or leave it out)");
    refused("{\"drives\": {}}", "drives: expected an array, got an object");
    refused("{\"drives\": [{\"drive_id\": \"a\", \"is_root_device\": false}]}",
            "drives[0]: drives: missing required field 'path_on_host'");
    refused("{\"drives\": [{\"drive_id\": \"a\", \"is_root_device\": false, \"path_on_host\": \"/x\","
            " \"socket\": \"/s\"}]}",
            "drives[0]: drives: socket: vhost-user block devices are not supported by minnow (its devices run "
            "in-process); give path_on_host");
    refused("{\"drives\": [{\"drive_id\": \"a\", \"is_root_device\": false, \"path_on_host\": \"/x\"},"
            " {\"drive_id\": \"b\", \"is_root_device\": false, \"path_on_host\": \"/y\", \"partuuid\": \"p\"}]}",
            "drives[1]: drives 'b': partuuid applies only to the root device (is_root_device)");
    refused("{\"network-interfaces\": [{\"iface_id\": \"a\", \"host_dev_name\": \"tap0\", \"minnow_user\": true}]}",
            "network-interfaces[0]: network-interfaces: host_dev_name and minnow_user: give a TAP device or "
            "user-mode networking, not both");
    refused("{\"network-interfaces\": [{\"iface_id\": \"a\", \"host_dev_name\": \"tap0\"},"
            " {\"iface_id\": \"b\", \"host_dev_name\": \"tap0\"}]}",
            "network-interfaces[1]: network-interfaces 'b': host_dev_name 'tap0' is already used by 'a'");
    refused("{\"network-interfaces\": [{\"iface_id\": \"a\", \"host_dev_name\": \"tap0\", \"mtu\": 65521}]}",
            "network-interfaces[0]: network-interfaces: mtu: expected an integer from 68 to 65520, got 65521");
    refused("{\"network-interfaces\": [{\"iface_id\": \"a\", \"minnow_user\": true, \"mtu\": \"1500\"}]}",
            "network-interfaces[0]: network-interfaces: mtu: expected an integer from 68 to 65520, got a string");
    refused("{\"vsock\": {\"guest_cid\": 4294967295, \"uds_path\": \"/v\"}}",
            "vsock: guest_cid: expected an integer from 3 to 4294967294, got 4294967295");
    refused("{\"balloon\": {\"amount_mib\": 1, \"deflate_on_oom\": false, \"free_page_reporting\": 1}}",
            "balloon: free_page_reporting: expected a boolean, got an integer");
    refused("{\"entropy\": {\"rate_limiter\": {\"bandwidth\": {\"size\": 1}}}}",
            "entropy: rate_limiter: bandwidth: missing required field 'refill_time'");
    refused("{\"drives\": [{\"drive_id\": \"d\", \"path_on_host\": \"/x\", \"is_root_device\": false, "
            "\"rate_limiter\": {\"ops\": {\"size\": 1, \"refill_time\": -1}}}]}",
            "drives[0]: drives: rate_limiter: ops: refill_time: expected an integer from 0 to 9223372036854775807, got -1");
}

static void test_slots_and_build_checks(void **state)
{
    (void)state;
    struct vm_config c;
    struct errmsg e = { "" };
    vm_config_init(&c);
    assert_int_equal(c.machine.mem_size, 128ull << 20);
    for (unsigned i = 0; i < VIRT_MAX_DEVICES; i++) {
        char id[8];
        snprintf(id, sizeof id, "d%u", i);
        struct vm_config_drive d = { .drive_id = id, .path_on_host = "/x" };
        assert_int_equal(vm_config_put_drive(&c, &d, &e), 0);
    }
    /* Replacing one in place needs no slot; a 33rd device does. */
    struct vm_config_drive d = { .drive_id = "d3", .path_on_host = "/y" };
    assert_int_equal(vm_config_put_drive(&c, &d, &e), 0);
    assert_string_equal(c.drives[3].path_on_host, "/y");
    assert_int_not_equal(vm_config_set_entropy(&c, &e), 0);
    assert_string_equal(e.text, "entropy: too many devices: it would be device 33 and the board has 32 virtio slots");
    struct vm_build b;
    assert_int_not_equal(vm_config_build(&c, &b, &e), 0);
    assert_string_equal(e.text, "boot-source: kernel_image_path is not set (PUT /boot-source first)");
    vm_config_free(&c);

    struct vm_config_balloon bal = { .amount_mib = 200 };
    struct vm_config_boot boot = { .kernel_image_path = "/k" };
    assert_int_equal(vm_config_set_boot(&c, &boot, &e), 0);
    assert_int_equal(vm_config_set_balloon(&c, &bal, &e), 0);
    assert_int_not_equal(vm_config_build(&c, &b, &e), 0);
    assert_string_equal(e.text, "balloon: amount_mib 200 is more than the guest's 128 MiB of memory");
    assert_null(b.virt.bootargs);
    vm_config_free(&c);
}

/* One request; returns the status, the body in *body (freed by the caller). */
static unsigned req(struct api_vmm *a, const char *method, const char *path, const char *json, char **body)
{
    struct api_reply r;
    api_vmm_handle(a, method, path, json, json ? strlen(json) : 0, &r);
    *body = r.body;
    return r.status;
}

static void expect_reply(struct api_vmm *a, const char *method, const char *path, const char *json,
                         unsigned status, const char *text)
{
    char *body;
    assert_int_equal(req(a, method, path, json, &body), status);
    if (text)
        assert_string_equal(body, text);
    else
        assert_null(body);
    free(body);
}

static void test_api_routes(void **state)
{
    (void)state;
    struct api_vmm *a;
    struct errmsg e = { "" };
    assert_int_equal(api_vmm_create(&a, "vm1", &e), 0);
    expect_reply(a, "GET", "/", NULL, 200,
                 "{\"id\":\"vm1\",\"state\":\"Not started\",\"vmm_version\":\"" MINNOW_VERSION "\","
                 "\"app_name\":\"minnow\"}");
    expect_reply(a, "GET", "/machine-config", NULL, 200,
                 "{\"vcpu_count\":1,\"mem_size_mib\":128,\"smt\":false,\"track_dirty_pages\":false,"
                 "\"huge_pages\":\"None\",\"engine\":\"jit\"}");
    expect_reply(a, "PATCH", "/machine-config", "{\"engine\": \"fast\"}", 400,
                 "{\"fault_message\":\"machine-config: engine 'fast': expected interp or jit\"}");
    expect_reply(a, "PATCH", "/machine-config", "{\"engine\": \"interp\"}", 204, NULL);
    expect_reply(a, "PATCH", "/machine-config", "{\"mem_size_mib\": 64}", 204, NULL);
    expect_reply(a, "PATCH", "/machine-config", "{\"vcpu_count\": 2}", 204, NULL);
    expect_reply(a, "GET", "/machine-config", NULL, 200,
                 "{\"vcpu_count\":2,\"mem_size_mib\":64,\"smt\":false,\"track_dirty_pages\":false,"
                 "\"huge_pages\":\"None\",\"engine\":\"interp\"}");
    expect_reply(a, "PUT", "/machine-config", "{\"vcpu_count\": 1}", 400,
                 "{\"fault_message\":\"machine-config: missing required field 'mem_size_mib'\"}");
    expect_reply(a, "PUT", "/drives/x", "{\"drive_id\": \"y\", \"path_on_host\": \"/p\", \"is_root_device\": false}",
                 400, "{\"fault_message\":\"drives: drive_id 'y' in the body does not match 'x' in the path\"}");
    expect_reply(a, "PUT", "/drives/", "{}", 400,
                 "{\"fault_message\":\"Invalid request method and/or path: PUT /drives/\"}");
    expect_reply(a, "PUT", "/vsock", "", 400, "{\"fault_message\":\"PUT /vsock: the request needs a JSON body\"}");
    expect_reply(a, "PUT", "/balloon", "{\"amount_mib\": 8, \"deflate_on_oom\": false}", 204, NULL);
    expect_reply(a, "PATCH", "/balloon", "{\"amount_mib\": 16}", 204, NULL);
    expect_reply(a, "GET", "/balloon", NULL, 200,
                 "{\"amount_mib\":16,\"deflate_on_oom\":false,\"stats_polling_interval_s\":0,"
                 "\"free_page_hinting\":false,\"free_page_reporting\":false}");
    expect_reply(a, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 400,
                 "{\"fault_message\":\"boot-source: kernel_image_path is not set (PUT /boot-source first)\"}");
    expect_reply(a, "PATCH", "/vm", "{\"state\": \"Resumed\"}", 400,
                 "{\"fault_message\":\"vm: the microVM is not started yet (PUT /actions InstanceStart first)\"}");
    /* gdb: machine-config's socket path (PATCH keeps it), PUT /gdb and
     * PUT /inspect before InstanceStart */
    expect_reply(a, "PATCH", "/machine-config", "{\"gdb_socket_path\": \"\"}", 400,
                 "{\"fault_message\":\"machine-config: gdb_socket_path: a Unix socket path of 1 to 107 bytes was "
                 "expected\"}");
    expect_reply(a, "PATCH", "/machine-config", "{\"gdb_socket_path\": \"/tmp/g.sock\"}", 204, NULL);
    expect_reply(a, "PATCH", "/machine-config", "{\"vcpu_count\": 2}", 204, NULL);
    expect_reply(a, "GET", "/machine-config", NULL, 200,
                 "{\"vcpu_count\":2,\"mem_size_mib\":64,\"smt\":false,\"track_dirty_pages\":false,"
                 "\"huge_pages\":\"None\",\"engine\":\"interp\",\"gdb_socket_path\":\"/tmp/g.sock\"}");
    expect_reply(a, "PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"engine\": \"interp\"}",
                 204, NULL);
    expect_reply(a, "PUT", "/gdb", "{\"socket_path\": \"/tmp/g.sock\", \"wait\": true}", 400,
                 "{\"fault_message\":\"gdb: unknown field 'wait'\"}");
    expect_reply(a, "PUT", "/gdb", "{\"socket_path\": \"/tmp/g.sock\"}", 400,
                 "{\"fault_message\":\"gdb: the microVM is not started yet (before InstanceStart, set "
                 "machine-config gdb_socket_path: the harts then wait at reset for gdb)\"}");
    expect_reply(a, "PUT", "/inspect", "{\"request\": \"regs\"}", 400,
                 "{\"fault_message\":\"inspect: the microVM is not started yet (PUT /actions InstanceStart "
                 "first)\"}");
    expect_reply(a, "PUT", "/inspect", "{\"request\": 3}", 400,
                 "{\"fault_message\":\"inspect: request: expected a string, got an integer\"}");
    expect_reply(a, "GET", "/vm/config", NULL, 200,
                 "{\"machine-config\":{\"vcpu_count\":2,\"mem_size_mib\":64,\"smt\":false,"
                 "\"track_dirty_pages\":false,\"huge_pages\":\"None\",\"engine\":\"interp\"},\"drives\":[],\"network-interfaces\":[],"
                 "\"balloon\":{\"amount_mib\":16,\"deflate_on_oom\":false,\"stats_polling_interval_s\":0,"
                 "\"free_page_hinting\":false,\"free_page_reporting\":false}}");
    api_vmm_destroy(a);
}

/* Firecracker's checks at the PUT, its HTTP details, GET /version. */
static void test_api_firecracker(void **state)
{
    (void)state;
    struct api_vmm *a;
    struct errmsg e = { "" };
    char dir[] = "/tmp/minnow-put-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file[64], json[512];
    snprintf(file, sizeof file, "%s/image", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("x", f);
    fclose(f);
    assert_int_equal(api_vmm_create(&a, "vm1", &e), 0);
    expect_reply(a, "GET", "/version", NULL, 200,
                 "{\"firecracker_version\":\"" API_FIRECRACKER_VERSION "\",\"minnow_version\":\"" MINNOW_VERSION "\"}");
    expect_reply(a, "GET", "/version", "{}", 400, "{\"fault_message\":\"GET request cannot have a body.\"}");
    expect_reply(a, "GET", "/nowhere", "{}", 400, "{\"fault_message\":\"GET request cannot have a body.\"}");
    expect_reply(a, "GET", "/version/", NULL, 200,
                 "{\"firecracker_version\":\"" API_FIRECRACKER_VERSION "\",\"minnow_version\":\"" MINNOW_VERSION "\"}");
    expect_reply(a, "PUT", "/machine-config//", "{\"vcpu_count\": 2, \"mem_size_mib\": 64}", 204, NULL);
    expect_reply(a, "GET", "/machine-config/", NULL, 200,
                 "{\"vcpu_count\":2,\"mem_size_mib\":64,\"smt\":false,\"track_dirty_pages\":false,"
                 "\"huge_pages\":\"None\",\"engine\":\"jit\"}");
    /* Paths are opened at the PUT; a refused PUT leaves the resource as it was. */
    expect_reply(a, "PUT", "/boot-source", "{\"kernel_image_path\": \"/nonexistent/Image\"}", 400,
                 "{\"fault_message\":\"boot-source: kernel_image_path '/nonexistent/Image': cannot be opened: "
                 "No such file or directory\"}");
    snprintf(json, sizeof json, "{\"kernel_image_path\": \"%s\", \"initrd_path\": \"%s/no-initrd\"}", file, dir);
    char *body;
    assert_int_equal(req(a, "PUT", "/boot-source", json, &body), 400);
    assert_non_null(strstr(body, "initrd_path"));
    assert_non_null(strstr(body, "/no-initrd': cannot be opened: No such file or directory"));
    free(body);
    snprintf(json, sizeof json, "{\"kernel_image_path\": \"%s\"}", file);
    expect_reply(a, "PUT", "/boot-source", json, 204, NULL);
    snprintf(json, sizeof json, "{\"kernel_image_path\": \"%s/missing\"}", dir);
    assert_int_equal(req(a, "PUT", "/boot-source", json, &body), 400);
    free(body);
    assert_int_equal(req(a, "GET", "/vm/config", NULL, &body), 200);
    assert_non_null(strstr(body, file));
    free(body);
    /* A field error is still reported as one. */
    expect_reply(a, "PUT", "/drives/d", "{\"drive_id\": \"d\", \"path_on_host\": \"/nonexistent/d.img\"}", 400,
                 "{\"fault_message\":\"drives: missing required field 'is_root_device'\"}");
    expect_reply(a, "PUT", "/drives/d/",
                 "{\"drive_id\": \"d\", \"path_on_host\": \"/nonexistent/d.img\", \"is_root_device\": false}", 400,
                 "{\"fault_message\":\"drives: path_on_host '/nonexistent/d.img': cannot be opened for reading and "
                 "writing (is_read_only is false): No such file or directory\"}");
    expect_reply(a, "PUT", "/drives/d",
                 "{\"drive_id\": \"d\", \"path_on_host\": \"/nonexistent/d.img\", \"is_root_device\": false,"
                 " \"is_read_only\": true}", 400,
                 "{\"fault_message\":\"drives: path_on_host '/nonexistent/d.img': cannot be opened for reading: "
                 "No such file or directory\"}");
    snprintf(json, sizeof json, "{\"drive_id\": \"d\", \"path_on_host\": \"%s\", \"is_root_device\": false}", file);
    expect_reply(a, "PUT", "/drives/d", json, 204, NULL);
    expect_reply(a, "PUT", "/network-interfaces/n", "{\"iface_id\": \"n\", \"host_dev_name\": \"mnw-none0\"}", 400,
                 "{\"fault_message\":\"network-interfaces: host_dev_name 'mnw-none0': tap 'mnw-none0': no such "
                 "network interface (create it first: ip tuntap add dev mnw-none0 mode tap user $USER)\"}");
    expect_reply(a, "PUT", "/network-interfaces/n", "{\"iface_id\": \"n\", \"minnow_user\": true}", 204, NULL);
    api_vmm_destroy(a);
    unlink(file);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_full),
        cmocka_unit_test(test_firecracker_example_keys),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_documents),
        cmocka_unit_test(test_slots_and_build_checks),
        cmocka_unit_test(test_api_routes),
        cmocka_unit_test(test_unknown_sections),
        cmocka_unit_test(test_api_firecracker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
