/* dump.h -- one profile dump as written by POOLALLOC_PROFILE, read and
 * checked against docs/profile-format.md (version 1). Nothing here knows
 * the allocator: the format document is the whole contract. */
#ifndef PP_DUMP_H
#define PP_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PP_FORMAT_VERSION 1
#define PP_MAX_FRAMES 64

enum pp_value { PP_ALLOC_OBJECTS, PP_ALLOC_SPACE, PP_INUSE_OBJECTS, PP_INUSE_SPACE, PP_NVALUES };

typedef struct pp_mapping {
    uint64_t start, end, offset; /* [start, end) in the process; p_offset in the file */
    const char *build_id;        /* lowercase hex, NULL for "-" */
    const char *path;            /* as written: bytes, may hold spaces */
    unsigned line;               /* its line in the dump, for messages */
} pp_mapping_t;

typedef struct pp_dump_stack {
    uint64_t value[PP_NVALUES];
    uint32_t nframes;
    uint64_t *frames;            /* return addresses, innermost first */
    unsigned line;
} pp_dump_stack_t;

typedef struct pp_dump {
    const char *path;            /* the file it was read from */
    /* header (keys of version 1; unknown keys are skipped) */
    const char *program;
    uint64_t pid, sequence, sample_rate, profiler_memory;
    double time, uptime;
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
