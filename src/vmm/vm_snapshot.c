/* Snapshots of a paused VM and VMs restored from them (see vm.h).
 *
 * Taking one: the harts are parked (the VM is paused) and the I/O thread
 * is held, so neither a hart nor a device writes guest RAM; the devices
 * finish their in-flight work inside virt_save. Then the memory file is
 * written: every page for a Full snapshot (pages of zeros are left as
 * holes), only the pages dirtied since the previous snapshot for a Diff
 * one, at their offsets in a sparse file of the RAM's size. The dirty
 * bitmap is taken (and cleared) in both cases, and every hart's TLB is
 * dropped, so the next write to a page marks it again (cpu/hart.h: struct
 * hart_mem). A snapshot that fails gives the bits back. */
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/clint.h"
#include "machine/ram.h"
#include "machine/virt_snapshot.h"
#include "vmm/snapshot_commit.h"
#include "vmm/snapshot_mem.h"
#include "vmm/vm_impl.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define MAX_RUN_PAGES 4096u /* 16 MiB per write at most */

/* Writes the pages of RAM that `want` selects, skipping pages of zeros
 * when skip_zero, into fd at their offsets, with one write per run of
 * consecutive pages. Returns the bytes written, or a negative errno. */
static int64_t write_pages(int fd, const struct guest_mem *ram, const uint64_t *want, int skip_zero)
{
    uint64_t pages = ram->size / 4096, written = 0, run = 0, run_len = 0;
    for (uint64_t p = 0; p <= pages; p++) {
        int take = p < pages && ((want[p / 64] >> (p % 64)) & 1) && !(skip_zero && ram_page_is_zero(ram, p));
        if (run_len && (!take || p != run + run_len || run_len == MAX_RUN_PAGES)) {
            int r = snapshot_pwrite_all(fd, ram->host + run * 4096, run_len * 4096, run * 4096);
            if (r)
                return r;
            written += run_len * 4096;
            run_len = 0;
        }
        if (take) {
            if (!run_len)
                run = p;
            run_len++;
        }
    }
    return (int64_t)written;
}

/* Full: every page that is not all zeros (pages the host never populated
 * are not even read); Diff: the dirty ones, zeros included. Into fd, the
 * new memory file (snapshot_commit.h). */
static int write_memory(struct vm *vm, int fd, const char *path, const uint64_t *dirty, int diff, uint64_t *bytes,
                        struct errmsg *e)
{
    struct guest_mem *ram = &vm->board->ram;
    uint64_t *want = (uint64_t *)dirty;
    if (!diff) {
        if (!(want = malloc(ram_dirty_words(ram) * sizeof *want)))
            return errmsg_set(e, -ENOMEM, "out of memory");
        ram_populated(ram, want);
    }
    int r = 0;
    int64_t n = 0;
    if (ftruncate(fd, (off_t)ram->size))
        r = errmsg_set(e, -errno, "cannot write memory file '%s': %s", path, strerror(errno));
    else if ((n = write_pages(fd, ram, want, !diff)) < 0)
        r = errmsg_set(e, (int)n, "cannot write memory file '%s': %s", path, strerror((int)-n));
    else
        *bytes = (uint64_t)n;
    if (want != dirty)
        free(want);
    return r;
}

/* Under ctl, with the VM paused. */
static int snapshot_paused(struct vm *vm, const struct vm_snapshot_params *p, struct vm_snapshot_stats *st,
                           struct errmsg *e)
{
    uint64_t t0 = now_ns();
    struct virt *v = vm->board;
    size_t words = ram_dirty_words(&v->ram);
    struct snapshot_commit c;
    int r = snapshot_commit_begin(&c, p->state_path, p->mem_path, e);
    if (r)
        return r;
    uint64_t *dirty = malloc(words * sizeof *dirty);
    if (!dirty) {
        snapshot_commit_abort(&c);
        return errmsg_set(e, -ENOMEM, "out of memory for the dirty-page bitmap");
    }
    struct snap_writer w;
    snapw_init(&w);
    event_loop_hold(vm->io);
    r = virt_save(v, &w, e);
    if (!r) {
        ram_dirty_take(&v->ram, dirty);
        for (unsigned i = 0; i < v->nharts; i++)
            hart_flush_tlb(v->harts[i].hart);
        st->dirty_pages = 0;
        for (size_t i = 0; i < words; i++)
            st->dirty_pages += (uint64_t)__builtin_popcountll(dirty[i]);
        r = write_memory(vm, c.mem_fd, p->mem_path, dirty, p->diff, &st->mem_bytes_written, e);
        /* RAM read through a mapping of a memory file that changed under
         * us reads zeros (machine/ram_fault.h): not a snapshot. */
        const char *lost = ram_lost(&v->ram, NULL);
        if (!r && lost)
            r = errmsg_set(e, -EIO, "the VM's memory file '%s' changed under it: its RAM is lost", lost);
        struct snapshot_file f = {
            .flags = p->diff ? SNAPSHOT_DIFF : 0, .mem_size = v->ram.size, .config_json = p->config_json,
            .machine = w.buf, .machine_len = w.len, .pages = dirty, .pages_words = p->diff ? words : 0,
        };
        memcpy(f.id, c.id, sizeof f.id);
        if (p->diff)
            memcpy(f.parent, vm->snapshot_id, sizeof f.parent);
        if (!r)
            r = snapshot_commit_finish(&c, &f, p->diff ? SNAPSHOT_MEM_DIFF : SNAPSHOT_MEM_FULL, e);
        else
            snapshot_commit_abort(&c);
        if (!r)
            memcpy(vm->snapshot_id, c.id, sizeof vm->snapshot_id);
        else /* the next snapshot must still see these pages as dirty */
            for (size_t i = 0; i < words; i++)
                atomic_fetch_or(&v->ram.dirty[i], dirty[i]);
    } else {
        snapshot_commit_abort(&c);
    }
    event_loop_release(vm->io);
    st->state_bytes = w.len;
    st->ns = now_ns() - t0;
    snapw_free(&w);
    free(dirty);
    return r;
}

int vm_snapshot(struct vm *vm, const struct vm_snapshot_params *p, struct vm_snapshot_stats *st, struct errmsg *e)
{
    memset(st, 0, sizeof *st);
    /* The whole snapshot under ctl: no resume and no migration pause
     * interleaves with it. */
    pthread_mutex_lock(&vm->ctl);
    char dest[256];
    int r;
    if (!vm->user_paused)
        r = errmsg_set(e, -EINVAL, "the microVM must be paused for a snapshot (PATCH /vm {\"state\": \"Paused\"})");
    else if (virt_end_reason(vm->board) != VIRT_RUNNING)
        r = errmsg_set(e, -EINVAL, "the microVM's run has ended: nothing to snapshot");
    else if (vm_migration_active(vm, dest, sizeof dest))
        r = errmsg_set(e, -EBUSY, "a migration to %s is under way (it takes the dirty pages a snapshot would)",
                       dest);
    else
        r = snapshot_paused(vm, p, st, e);
    pthread_mutex_unlock(&vm->ctl);
    return r;
}

void vm_snapshot_set_base(struct vm *vm, const uint8_t id[16])
{
    memcpy(vm->snapshot_id, id, sizeof vm->snapshot_id);
}

int vm_restore_begin(struct vm **out, const struct virt_config *cfg, struct errmsg *e)
{
    if (!cfg->restore)
        return errmsg_set(e, -EINVAL, "internal: vm_restore_begin needs cfg->restore");
    int r = vm_create(out, cfg, e);
    if (r)
        return r;
    /* Guest time stands still from here until vm_resume: clint_load sets
     * the saved time into the frozen clock. */
    clint_freeze((*out)->board->clint);
    (*out)->paused = 1;
    (*out)->user_paused = 1;
    return 0;
}

int vm_restore_finish(struct vm *vm, const uint8_t *state, size_t len, struct errmsg *e)
{
    struct snap_reader rd;
    snapr_init(&rd, state, len);
    int r = virt_load(vm->board, &rd, e);
    return r ? r : vm_start(vm, e);
}

int vm_restore(struct vm **out, const struct virt_config *cfg, const uint8_t *state, size_t len,
               struct errmsg *e)
{
    struct vm *vm;
    int r = vm_restore_begin(&vm, cfg, e);
    if (r)
        return r;
    if ((r = vm_restore_finish(vm, state, len, e))) {
        vm_destroy(vm);
        return r;
    }
    *out = vm;
    return 0;
}
