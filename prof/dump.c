/* dump.c — writes one profile file (format: docs/profile-format.md).
 *
 * The file is written under a temporary name and renamed into place, so a
 * reader never sees half a profile, and it ends with an `end` line that a
 * reader checks. Formatting goes through a static buffer under a lock: the
 * writer never allocates, so it may run from inside malloc's slow path. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <time.h>
#include <unistd.h>

#include "out.h"
#include "prof.h"

#define FORMAT_VERSION 3

static pthread_mutex_t dump_lock = PTHREAD_MUTEX_INITIALIZER;
static pa_prof_point_t points[PA_PROF_SERIES_MAX];   /* under dump_lock */

typedef struct out {
    pa_out_t w;
    uint64_t stacks;
    char exe[4096];                          /* the program's path, or "" */
} out_t;

static out_t out;

#define put(o, ...) pa_out_put(&(o)->w, __VA_ARGS__)

/* The GNU build-id of a loaded object, from its notes in memory, as hex. */
static void build_id(const struct dl_phdr_info *info, char *hex, size_t cap)
{
    snprintf(hex, cap, "-");
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        size_t align = ph->p_align == 8 ? 8 : 4;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const uint8_t *name = p + sizeof *nh;
            const uint8_t *desc = name + ((nh->n_namesz + align - 1) & ~(align - 1));
            const uint8_t *next = desc + ((nh->n_descsz + align - 1) & ~(align - 1));
            if (next > end) break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(name, "GNU", 4) && nh->n_descsz * 2 < cap) {
                for (size_t k = 0; k < nh->n_descsz; k++) snprintf(hex + 2 * k, 3, "%02x", desc[k]);
                return;
            }
            p = next;
        }
    }
}

typedef struct {
    void (*fn)(const pa_prof_mapping_t *, void *);
    void *arg;
    char exe[4096];
} mappings_t;

static int each_mapping(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    mappings_t *m = arg;
    pa_prof_mapping_t map;
    map.name = info->dlpi_name;
    if (getauxval(AT_SYSINFO_EHDR) && info->dlpi_addr == getauxval(AT_SYSINFO_EHDR))
        map.name = "[vdso]";                 /* no file behind it */
    else if (!map.name || !*map.name)        /* the program itself */
        map.name = m->exe[0] ? m->exe : "[program]";
    build_id(info, map.build_id, sizeof map.build_id);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        map.start = info->dlpi_addr + ph->p_vaddr;
        map.limit = map.start + ph->p_memsz;
        map.offset = ph->p_offset;
        m->fn(&map, m->arg);
    }
    return 0;
}

void pa_prof_mappings(void (*fn)(const pa_prof_mapping_t *, void *), void *arg)
{
    mappings_t m = { fn, arg, "" };
    ssize_t n = readlink("/proc/self/exe", m.exe, sizeof m.exe - 1);
    m.exe[n > 0 ? n : 0] = 0;
    dl_iterate_phdr(each_mapping, &m);
}

/* One line per executable segment of every loaded object. */
static void put_mapping(const pa_prof_mapping_t *m, void *arg)
{
    put((out_t *)arg, "mapping 0x%lx 0x%lx 0x%lx %s %s\n", (unsigned long)m->start, (unsigned long)m->limit,
        (unsigned long)m->offset, m->build_id, m->name);
}

static uint64_t units_to_objects(uint64_t u) { return (u + PA_PROF_ONE / 2) / PA_PROF_ONE; }

/* The `values` header: the numbers of a stack line, in order. */
static const char values[] =
    "alloc_objects alloc_space inuse_objects inuse_space "
    "freed_lt_1us freed_lt_10us freed_lt_100us freed_lt_1ms freed_lt_10ms freed_lt_100ms freed_lt_1s freed_ge_1s "
    "freed_frame_0 freed_frame_1 freed_frame_2 freed_frame_3 freed_returned freed_thread "
    "temporary moved realloc_objects realloc_copied pool_misses peak_objects peak_space";
_Static_assert(PA_FATES == 19, "a fate without a name in `values`");

bool pa_prof_heap_values(const pa_prof_stack_t *st, uint64_t v[4])
{
    uint64_t ao = atomic_load_explicit(&st->alloc_objects, memory_order_relaxed);
    uint64_t as = atomic_load_explicit(&st->alloc_space, memory_order_relaxed);
    uint64_t fo = atomic_load_explicit(&st->free_objects, memory_order_relaxed);
    uint64_t fs = atomic_load_explicit(&st->free_space, memory_order_relaxed);
    if (!ao && !as) return false;            /* nothing allocated here by this process (a fork child) */
    if (fo > ao) fo = ao;                    /* a free counted before its allocation, read mid-way */
    if (fs > as) fs = as;
    v[0] = units_to_objects(ao), v[1] = as, v[2] = units_to_objects(ao - fo), v[3] = as - fs;
    return true;
}

static void put_stack(const pa_prof_stack_t *st, void *arg)
{
    out_t *o = arg;
    uint64_t v[4];
    if (!pa_prof_heap_values(st, v)) return;
    put(o, "stack %llu %llu %llu %llu", (unsigned long long)v[0], (unsigned long long)v[1],
        (unsigned long long)v[2], (unsigned long long)v[3]);
    for (int i = 0; i < PA_FATES; i++) {
        uint64_t v = atomic_load_explicit(&st->fate[i], memory_order_relaxed);
        put(o, " %llu", (unsigned long long)(i == PA_FATE_REALLOC_COPIED ? v : units_to_objects(v)));
    }
    uint64_t po, ps;
    pa_prof_peak_of(st, &po, &ps);
    put(o, " %llu %llu", (unsigned long long)units_to_objects(po), (unsigned long long)ps);
    for (uint32_t i = 0; i < st->depth; i++) put(o, " 0x%lx", (unsigned long)(uintptr_t)st->frames[i]);
    put(o, "\n");
    o->stacks++;
}

/* The whole profile into fd; under dump_lock. Returns 0 or an errno. */
static int write_locked(int fd, const char *reason, uint64_t seq)
{
    out_t *o = &out;
    pa_out_open(&o->w, fd);
    o->stacks = 0;
    ssize_t n = readlink("/proc/self/exe", o->exe, sizeof o->exe - 1);
    o->exe[n > 0 ? n : 0] = 0;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    put(o, "poolalloc-profile %d\n", FORMAT_VERSION);
    put(o, "program %s\n", o->exe[0] ? o->exe : "?");
    char cmd[256];
    pa_program_name(cmd, sizeof cmd);
    if (cmd[0]) put(o, "command %s\n", cmd);
    put(o, "pid %d\n", (int)getpid());
    put(o, "time %lld.%06ld\n", (long long)now.tv_sec, now.tv_nsec / 1000);
    put(o, "uptime %.3f\n", (double)(pa_clock_ns() - pa_start_ns) / 1e9);
    put(o, "reason %s\n", reason);
    put(o, "sequence %llu\n", (unsigned long long)seq);
    put(o, "sample_rate %zu\n", pa_options.sample_rate);
    put(o, "profiler_memory %zu\n", pa_prof_memory());
    put(o, "process %016llx\n", (unsigned long long)pa_prof_process);
    uint64_t peak_bytes, peak_ns;
    pa_prof_peak_total(&peak_bytes, &peak_ns);
    put(o, "peak_inuse_space %llu\n", (unsigned long long)peak_bytes);
    put(o, "peak_uptime %.3f\n", (double)peak_ns / 1e9);
    put(o, "memory_values seconds live resident mapped allocated sampled_inuse\n");
    put(o, "values %s\n", values);
    /* a dump served live takes a point only on the tick's terms: a client
     * polling it must not crowd the series */
    size_t npoints = pa_prof_series(points, PA_PROF_SERIES_MAX, pa_cycle_allocated(), strcmp(reason, "http") != 0);
    for (size_t i = 0; i < npoints; i++) {
        const pa_prof_point_t *pt = &points[i];
        put(o, "memory %.3f %llu %llu %llu %llu %llu\n", (double)pt->ns / 1e9, (unsigned long long)pt->live,
            (unsigned long long)pt->resident, (unsigned long long)pt->mapped, (unsigned long long)pt->allocated,
            (unsigned long long)pt->sampled);
    }
    pa_prof_mappings(put_mapping, o);
    pa_prof_stacks_foreach(put_stack, o);
    put(o, "end %llu\n", (unsigned long long)o->stacks);
    return pa_out_flush(&o->w);
}

int pa_prof_write_fd(int fd, const char *reason, uint64_t seq)
{
    pa_tl_prof_busy++;
    pthread_mutex_lock(&dump_lock);
    int err = write_locked(fd, reason, seq);
    pthread_mutex_unlock(&dump_lock);
    pa_tl_prof_busy--;
    if (err) { errno = err; return -1; }
    return 0;
}

int pa_prof_write(const char *path, const char *reason, uint64_t seq)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) { errno = ENAMETOOLONG; return -1; }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    int err = pa_prof_write_fd(fd, reason, seq) ? errno : 0;
    if (close(fd) && !err) err = errno;
    if (!err && rename(tmp, path)) err = errno;
    if (err) { unlink(tmp); errno = err; return -1; }
    return 0;
}

void pa_prof_dump_fork_child(void) { pthread_mutex_init(&dump_lock, NULL); }
