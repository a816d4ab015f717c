/* dump.h -- one profile dump as written by POOLALLOC_PROFILE, read and
 * checked against docs/profile-format.md (versions 1 to 3). Nothing here
 * knows the allocator: the format document is the whole contract. */
#ifndef PP_DUMP_H
#define PP_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PP_FORMAT_VERSION 3 /* the newest read; versions 1 and 2 are read too */
#define PP_MAX_FRAMES 64

/* The numbers a stack line can carry that this reader knows, in the
 * writer's order: X(ENUM, name, unit). Version 1 has the first four, and a
 * version-2 file names its own in the `values` header (others are read and
 * ignored). Units: "count" (objects) or "bytes". */
#define PP_VALUE_LIST(X)                                                                                  \
    X(ALLOC_OBJECTS, alloc_objects, count) X(ALLOC_SPACE, alloc_space, bytes)                             \
    X(INUSE_OBJECTS, inuse_objects, count) X(INUSE_SPACE, inuse_space, bytes)                             \
    X(FREED_LT_1US, freed_lt_1us, count) X(FREED_LT_10US, freed_lt_10us, count)                           \
    X(FREED_LT_100US, freed_lt_100us, count) X(FREED_LT_1MS, freed_lt_1ms, count)                         \
    X(FREED_LT_10MS, freed_lt_10ms, count) X(FREED_LT_100MS, freed_lt_100ms, count)                       \
    X(FREED_LT_1S, freed_lt_1s, count) X(FREED_GE_1S, freed_ge_1s, count)                                 \
    X(FREED_FRAME_0, freed_frame_0, count) X(FREED_FRAME_1, freed_frame_1, count)                         \
    X(FREED_FRAME_2, freed_frame_2, count) X(FREED_FRAME_3, freed_frame_3, count)                         \
    X(FREED_RETURNED, freed_returned, count) X(FREED_THREAD, freed_thread, count)                         \
    X(TEMPORARY, temporary, count) X(MOVED, moved, count) X(REALLOC_OBJECTS, realloc_objects, count)      \
    X(REALLOC_COPIED, realloc_copied, bytes) X(POOL_MISSES, pool_misses, count)                           \
    X(PEAK_OBJECTS, peak_objects, count) X(PEAK_SPACE, peak_space, bytes)

enum pp_value {
#define PP_VALUE_ENUM(e, name, unit) PP_##e,
    PP_VALUE_LIST(PP_VALUE_ENUM)
#undef PP_VALUE_ENUM
    PP_NVALUES
};

/* Bit v of a mask: value v. The four of Go's heap profile (every version
 * has them), and the fates of version 2 (docs/lifetimes.md). */
_Static_assert(PP_NVALUES < 32, "a mask of values is 32 bits");
#define PP_VALUE_BIT(v) (1u << (v))
#define PP_ALL_VALUES (PP_VALUE_BIT(PP_NVALUES) - 1)
#define PP_GO_VALUES (PP_VALUE_BIT(PP_INUSE_SPACE + 1) - 1)
#define PP_FATE_VALUES (PP_VALUE_BIT(PP_POOL_MISSES + 1) - PP_VALUE_BIT(PP_FREED_LT_1US))
#define PP_PEAK_VALUES (PP_VALUE_BIT(PP_PEAK_OBJECTS) | PP_VALUE_BIT(PP_PEAK_SPACE))   /* version 3 */

/* The names as the format writes them ("alloc_objects", ...). */
extern const char *const pp_value_names[PP_NVALUES];

typedef struct pp_mapping {
    uint64_t start, end, offset; /* [start, end) in the process; p_offset in the file */
    const char *build_id;        /* lowercase hex, NULL for "-" */
    const char *path;            /* as written: bytes, may hold spaces */
    unsigned line;               /* its line in the dump, for messages */
} pp_mapping_t;

typedef struct pp_dump_stack {
    uint64_t value[PP_NVALUES];  /* by name; 0 for a value the file does not name */
    uint32_t nframes;
    uint64_t *frames;            /* return addresses, innermost first */
    unsigned line;
} pp_dump_stack_t;

/* One point of memory over time (the `memory` header lines, version 3). */
typedef struct pp_memory_point {
    double seconds;              /* since the allocator started */
    uint64_t live, resident, mapped, allocated, sampled_inuse; /* bytes; 0 if the file has no such column */
} pp_memory_point_t;

typedef struct pp_dump {
    const char *path;            /* the file it was read from */
    unsigned version;            /* 1 or 2 */
    uint32_t present;            /* the values the file has (PP_VALUE_BIT); version 1: PP_GO_VALUES */
    /* header (known keys; unknown keys are skipped) */
    const char *program;
    const char *command;         /* argv[0]'s name as run (version 3), NULL if absent */
    uint64_t pid, sequence, sample_rate, profiler_memory;
    double time, uptime;
    uint64_t peak_inuse_space;   /* version 3: the sampled in-use bytes at the peak, 0 if unknown */
    double peak_uptime;          /* and when (seconds of uptime) */
    pp_memory_point_t *memory;   /* memory over time, in file order (version 3) */
    size_t nmemory;
    const char *reason;
    const char *process;         /* the "process" key (interned), NULL in older files */
    pp_mapping_t *mappings;      /* sorted by start */
    size_t nmappings;
    pp_dump_stack_t *stacks;     /* in file order */
    size_t nstacks;
    uint64_t *frames_storage;    /* private: every stack's frames */
} pp_dump_t;

/* Reads and checks the file at path ("-": stdin). On success returns the
 * dump; on failure returns NULL and puts "PATH:LINE: why" (or "PATH: why")
 * in err (err_size bytes, always terminated). */
pp_dump_t *pp_dump_read(const char *path, char *err, size_t err_size);

/* The same, from memory (the fuzz target's entry); name is used in messages. */
pp_dump_t *pp_dump_parse(const char *name, const char *data, size_t len, char *err, size_t err_size);

void pp_dump_free(pp_dump_t *d);

/* The file a program or mapping path names: /proc/self/exe adds
 * " (deleted)" once the program was removed or replaced while it ran, so one
 * process can write dumps with both forms. Interned. */
const char *pp_dump_file_of(const char *path);

/* The mapping holding addr, or NULL. */
const pp_mapping_t *pp_dump_mapping_of(const pp_dump_t *d, uint64_t addr);

#endif
