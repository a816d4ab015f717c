/* symbolize.h -- return addresses from a dump to functions, files and lines,
 * offline, through the dump's mapping lines and the ELF/DWARF of the files
 * they name (elfutils libdwfl), with build-id checks. */
#ifndef PP_SYMBOLIZE_H
#define PP_SYMBOLIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "dump.h"

/* One function activation: a location holds one, or several when calls
 * were inlined. Strings are interned (common.h). */
typedef struct pp_frame {
    const char *function; /* demangled; "MODULE+0xOFFSET" (MODULE the file's
                             base name) when unknown, never NULL */
    const char *file;     /* source file, NULL if unknown */
    uint32_t line;        /* 0 if unknown */
} pp_frame_t;

/* An object file, identified by path and build-id. */
typedef struct pp_module {
    uint32_t id;              /* 1, 2, ... in order of first use */
    const char *path;         /* as the dump names it (interned) */
    const char *build_id;     /* hex, NULL if none */
    uint64_t start, end, offset; /* the first mapping line seen for it */
    bool symbols;             /* its file was found, matched and has symbols */
} pp_module_t;

/* A return address, symbolized. Equal (module, file offset) give the same
 * location, whichever dump and address they came from. */
typedef struct pp_location {
    uint32_t id;              /* 1, 2, ... in order of first use */
    const pp_module_t *module; /* NULL: the address was in no mapping */
    uint64_t file_offset;     /* return address - START + OFFSET (the
                                 address itself when module is NULL) */
    uint64_t address;         /* the return address in module's first
                                 mapping: module->start + file_offset -
                                 module->offset (pprof's Location.address) */
    uint32_t nframes;         /* >= 1 */
    const pp_frame_t *frames; /* innermost first: inlined callees, then the
                                 function the code belongs to */
} pp_location_t;

typedef struct pp_sym_options {
    bool lines;               /* look up file:line (default on) */
    bool inlines;             /* expand inlined calls into frames */
    const char *const *search_dirs; /* where to look for files that moved */
    unsigned nsearch_dirs;
} pp_sym_options_t;

typedef struct pp_symbolizer pp_symbolizer_t;

/* The frame a profile puts last on a stack deeper than it keeps
 * (docs/profile-format.md): symbolized as "[truncated]". */
#define PP_TRUNCATED_FRAME 1

pp_symbolizer_t *pp_sym_new(const pp_sym_options_t *opt);
void pp_sym_free(pp_symbolizer_t *s);

/* The location of return address addr in dump d (the call is at addr - 1).
 * Problems with a mapping's file (missing, build-id differs, no symbols)
 * are warned about once per file, naming the dump and the mapping's line;
 * its frames then read MODULE+0xOFFSET. Never fails. */
const pp_location_t *pp_sym_lookup(pp_symbolizer_t *s, const pp_dump_t *d, uint64_t addr);

/* Every module and location handed out so far, by id (index id - 1). */
const pp_module_t *const *pp_sym_modules(const pp_symbolizer_t *s, uint32_t *n);
const pp_location_t *const *pp_sym_locations(const pp_symbolizer_t *s, uint32_t *n);

#endif
