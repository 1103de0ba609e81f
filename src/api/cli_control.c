/* Commands that drive a running minnow through its API socket:
 * `minnow pause|resume|snapshot|migrate --api-sock PATH ...`. Each is one
 * or a few REST calls (api_client.h); the answer's fault_message is what
 * the user sees when the call is refused. */
#include "api/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api/api_client.h"

static const char control_usage[] =
    "usage: minnow pause --api-sock PATH\n"
    "       minnow resume --api-sock PATH\n"
    "       minnow snapshot --api-sock PATH --snapshot FILE --mem FILE [--diff]\n"
    "       minnow migrate --api-sock PATH --to tcp:HOST:PORT|unix:PATH [--token FILE]\n"
    "\n"
    "Drive a minnow started with --api-sock (or 'minnow restore --api-sock'):\n"
    "  pause      stop the guest's harts and its clock (PATCH /vm Paused)\n"
    "  resume     let it run on (PATCH /vm Resumed)\n"
    "  snapshot   write a snapshot (PUT /snapshot/create): the state file and\n"
    "             the memory file; --diff writes only the pages changed since\n"
    "             the last snapshot (see 'minnow snapshot-merge --help'). A\n"
    "             running VM is paused for it and resumed after.\n"
    "  migrate    live-migrate the VM to a 'minnow --incoming ADDR' (PUT\n"
    "             /migrate), printing each round, until it runs there or the\n"
    "             migration failed (the VM then keeps running here); --token\n"
    "             FILE: the secret file the target was started with (--token)\n";

struct ctl {
    const char *sock, *snapshot, *mem, *to, *token;
    int diff;
};

/* One call; 0 when the answer is 2xx. Prints the refusal. */
static int call(const struct ctl *c, const char *method, const char *path, const char *body, char *reply,
                size_t cap)
{
    struct errmsg e = { "" };
    int status;
    char local[1024];
    if (!reply) {
        reply = local;
        cap = sizeof local;
    }
    if (api_client_request(c->sock, method, path, body, &status, reply, cap, &e)) {
        fprintf(stderr, "minnow: %s\n", e.text);
        return -1;
    }
    if (status / 100 == 2)
        return 0;
    json_t *j = json_loads(reply, 0, NULL);
    const char *msg = j ? json_string_value(json_object_get(j, "fault_message")) : NULL;
    fprintf(stderr, "minnow: %s %s: %d %s\n", method, path, status, msg ? msg : reply);
    json_decref(j);
    return -1;
}

static int vm_state(const struct ctl *c, char *out, size_t cap)
{
    char reply[1024];
    if (call(c, "GET", "/", NULL, reply, sizeof reply))
        return -1;
    json_t *j = json_loads(reply, 0, NULL);
    const char *s = j ? json_string_value(json_object_get(j, "state")) : NULL;
    snprintf(out, cap, "%s", s ? s : "?");
    json_decref(j);
    return 0;
}

static int snapshot(const struct ctl *c)
{
    char state[32];
    if (vm_state(c, state, sizeof state))
        return CLI_EXIT_ERROR;
    int paused_here = !strcmp(state, "Running");
    if (paused_here && call(c, "PATCH", "/vm", "{\"state\": \"Paused\"}", NULL, 0))
        return CLI_EXIT_ERROR;
    json_t *b = json_pack("{s:s, s:s, s:s}", "snapshot_path", c->snapshot, "mem_file_path", c->mem,
                          "snapshot_type", c->diff ? "Diff" : "Full");
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r = body ? call(c, "PUT", "/snapshot/create", body, NULL, 0) : -1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    free(body);
    if (paused_here && call(c, "PATCH", "/vm", "{\"state\": \"Resumed\"}", NULL, 0))
        r = -1;
    if (r)
        return CLI_EXIT_ERROR;
    printf("snapshot (%s) written to %s and %s in %.1f ms\n", c->diff ? "Diff" : "Full", c->snapshot, c->mem,
           (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    return CLI_EXIT_OK;
}

static int migrate(const struct ctl *c)
{
    json_t *b = json_pack("{s:s}", "destination", c->to);
    /* The source minnow reads the file: give it a path it can open. */
    if (b && c->token) {
        char *abs = realpath(c->token, NULL);
        json_object_set_new(b, "token_path", json_string(abs ? abs : c->token));
        free(abs);
    }
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    int r = body ? call(c, "PUT", "/migrate", body, NULL, 0) : -1;
    free(body);
    if (r)
        return CLI_EXIT_ERROR;
    long last_round = -1;
    for (;;) {
        char reply[2048];
        struct errmsg e = { "" };
        int status;
        if (api_client_request(c->sock, "GET", "/migrate", NULL, &status, reply, sizeof reply, &e)) {
            /* The source exits once the VM runs at the target. */
            printf("migrate: the source minnow has exited: the VM runs on at %s\n", c->to);
            return CLI_EXIT_OK;
        }
        json_t *j = json_loads(reply, 0, NULL);
        const char *state = j ? json_string_value(json_object_get(j, "state")) : NULL;
        long round = j ? (long)json_integer_value(json_object_get(j, "round")) : 0;
        if (state && round != last_round) {
            printf("migrate: round %ld, %lld pages sent (%lld KiB on the wire), %lld dirty in the last round\n",
                   round, (long long)json_integer_value(json_object_get(j, "pages_sent")),
                   (long long)json_integer_value(json_object_get(j, "bytes_sent")) / 1024,
                   (long long)json_integer_value(json_object_get(j, "last_dirty_pages")));
            fflush(stdout);
            last_round = round;
        }
        int done = state && strcmp(state, "Active");
        if (done && !strcmp(state, "Failed"))
            fprintf(stderr, "minnow: migration failed: %s; the VM keeps running at the source\n",
                    json_string_value(json_object_get(j, "error")));
        else if (done)
            printf("migrate: completed in %.1f ms, downtime %.1f ms\n",
                   json_real_value(json_object_get(j, "total_ms")),
                   json_real_value(json_object_get(j, "downtime_ms")));
        int failed = done && !strcmp(state, "Failed");
        json_decref(j);
        if (done)
            return failed ? CLI_EXIT_ERROR : CLI_EXIT_OK;
        nanosleep(&(struct timespec){ .tv_nsec = 100000000 }, NULL);
    }
}

int cli_control(int argc, char **argv)
{
    const char *cmd = argv[1];
    struct ctl c = { 0 };
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(control_usage, stdout);
            return CLI_EXIT_OK;
        }
        const char **slot = !strcmp(a, "--api-sock") ? &c.sock
                          : !strcmp(cmd, "snapshot") && !strcmp(a, "--snapshot") ? &c.snapshot
                          : !strcmp(cmd, "snapshot") && !strcmp(a, "--mem") ? &c.mem
                          : !strcmp(cmd, "migrate") && !strcmp(a, "--to") ? &c.to
                          : !strcmp(cmd, "migrate") && !strcmp(a, "--token") ? &c.token : NULL;
        if (!strcmp(cmd, "snapshot") && !strcmp(a, "--diff")) {
            c.diff = 1;
            continue;
        }
        if (!slot) {
            fprintf(stderr, "minnow: %s: unknown option '%s' (try 'minnow %s --help')\n", cmd, a, cmd);
            return CLI_EXIT_USAGE;
        }
        if (i + 1 >= argc || !*argv[i + 1]) {
            fprintf(stderr, "minnow: %s: %s needs a value\n", cmd, a);
            return CLI_EXIT_USAGE;
        }
        *slot = argv[++i];
    }
    if (!c.sock) {
        fprintf(stderr, "minnow: %s needs --api-sock PATH (the socket of the minnow to drive)\n", cmd);
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(cmd, "pause") || !strcmp(cmd, "resume")) {
        const char *body = !strcmp(cmd, "pause") ? "{\"state\": \"Paused\"}" : "{\"state\": \"Resumed\"}";
        return call(&c, "PATCH", "/vm", body, NULL, 0) ? CLI_EXIT_ERROR : CLI_EXIT_OK;
    }
    if (!strcmp(cmd, "snapshot")) {
        if (!c.snapshot || !c.mem) {
            fprintf(stderr, "minnow: snapshot needs --snapshot FILE and --mem FILE\n");
            return CLI_EXIT_USAGE;
        }
        return snapshot(&c);
    }
    if (!c.to) {
        fprintf(stderr, "minnow: migrate needs --to tcp:HOST:PORT or unix:PATH\n");
        return CLI_EXIT_USAGE;
    }
    return migrate(&c);
}
