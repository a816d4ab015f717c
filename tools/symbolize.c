/* symbolize.c -- return addresses to functions, files and lines, offline.
 *
 * A dump's mapping line gives the file (path, build-id) and where one of its
 * executable segments was loaded. Each file is checked against the build-id
 * once and handed to its own libdwfl session at bias 0, so addresses there
 * are the ELF's own virtual addresses (non-PIE and PIE alike, no overlap
 * between files to worry about). Per file we keep a sorted symbol table
 * (libdwfl's own lookup scans the whole table for every address); per
 * compile unit touched, a sorted table of its functions' address ranges;
 * per function touched, a flat table of its inlined calls' ranges. Every
 * location is cached by (file, file offset), so each distinct return
 * address is symbolized once whatever process and load address it came
 * from. */
#include "symbolize.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

/* libstdc++'s demangler (link with -lstdc++); returns malloc'd text. */
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

#define DEBUG_BUILD_ID_DIR "/usr/lib/debug/.build-id"
#define MAX_SCOPE_DEPTH 256 /* DWARF nesting we follow; real code stays far below */

/* ---- per file ---- */

typedef struct sym {
    uint64_t lo, hi;  /* [lo, hi) in the ELF's addresses */
    const char *raw;  /* in the ELF's string table */
    const char *name; /* demangled and interned on first use */
} sym_t;

typedef struct load {
    uint64_t offset, vaddr, filesz, align;
    bool exec;
} load_t;

typedef struct seg_delta {
    uint64_t offset; /* a mapping line's OFFSET */
    uint64_t delta;  /* p_vaddr - OFFSET, modulo 2^64 */
} seg_delta_t;

typedef struct func_range {
    Dwarf_Addr lo, hi;
    Dwarf_Die die;
} func_range_t;

typedef struct cu_funcs {
    Dwarf_Off cu;     /* the CU DIE's offset; 0: empty slot (a CU DIE is never at 0) */
    func_range_t *v;
    size_t n;
} cu_funcs_t;

typedef struct module {
    pp_module_t pub;  /* first: locations point here */
    const char *base; /* the path's base name, for MODULE+0xOFFSET */
    Dwfl *dwfl;       /* NULL: no usable file */
    Dwfl_Module *dm;
    load_t *loads;
    size_t nloads;
    bool loads_are_offsets; /* p_offset usable (not a debug-only file) */
    seg_delta_t *deltas;
    size_t ndeltas;
    sym_t *syms;
    size_t nsyms;
    int dwarf_state;  /* 0 not looked for, 1 found, -1 none */
    cu_funcs_t *cus;  /* open addressing by CU offset */
    size_t cus_cap, cus_used;
} module_t;

/* ---- the symbolizer ---- */

/* A function's name as DWARF gives it. */
typedef struct die_name {
    const char *name; /* NULL: none */
    bool linkage;     /* from a linkage name: qualified, with parameters */
} die_name_t;

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
} chunk_t;

/* Keys kept in the slot: a lookup touches one cache line. */
typedef struct loc_slot {
    const pp_module_t *module;
    uint64_t file_offset;
    pp_location_t *loc; /* NULL: empty */
} loc_slot_t;

typedef struct memo {
    const pp_mapping_t *m;
    module_t *mod;
} memo_t;

#define MEMO_SIZE 256

struct pp_symbolizer {
    bool lines, inlines;
    const char **dirs;
    unsigned ndirs;
    char *debuginfo_path; /* NULL: libdwfl's default */
    Dwfl_Callbacks cb;

    module_t **mods; /* by id - 1 */
    const pp_module_t **pubs; /* the same, as the interface hands them out */
    size_t nmods, mods_cap;
    module_t **modtab; /* open addressing by (path, build-id) */
    size_t modtab_cap;
    memo_t memo[MEMO_SIZE]; /* mapping line -> module, checked on use */

    pp_location_t **locs; /* by id - 1 */
    size_t nlocs, locs_cap;
    loc_slot_t *loctab; /* open addressing by (module, file offset) */
    size_t loctab_cap;

    pp_ptrmap_t demangled; /* a name's address in its file -> demangled, interned */
    pp_ptrmap_t die_names; /* a DIE's abstract origin (or itself) -> die_name_t */
    pp_ptrmap_t fn_scopes; /* a function's DIE -> fn_scopes_t */
    pp_ptrmap_t files;     /* a file name in libdw's tables -> interned */

    pp_frame_t *scratch; /* frames of the location being built */
    size_t scratch_cap;
    Dwarf_Die *chain;    /* inlined calls, outermost first */
    size_t chain_cap;

    chunk_t *chunks;
};

/* ---- small helpers ---- */

/* A table slot from a key: the product in pp_hash_mix carries entropy
 * upwards only, so fold the high half down (file offsets that differ in
 * high bits alone would share slots otherwise). */
static inline size_t slot_of(uint64_t key, size_t cap)
{
    uint64_t h = pp_hash_mix(0, key);
    return (size_t)(h ^ (h >> 29) ^ (h >> 47)) & (cap - 1);
}

static void *arena_alloc(pp_symbolizer_t *s, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    chunk_t *c = s->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        c = xmalloc(sizeof *c + cap);
        c->next = s->chunks;
        c->used = 0;
        c->cap = cap;
        s->chunks = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Demangled (names starting with _Z) and interned. raw stays where it is
 * (the files' string tables, or interned) while s lives, so its address
 * is the cache key: no hashing of long mangled names. */
static const char *demangle(pp_symbolizer_t *s, const char *raw)
{
    const void **slot = pp_ptrmap_slot(&s->demangled, raw);
    if (!*slot) {
        int status = -1;
        char *d = raw[0] == '_' && raw[1] == 'Z' ? __cxa_demangle(raw, NULL, NULL, &status) : NULL;
        *slot = status == 0 && d ? pp_intern(d) : pp_intern(raw);
        free(d);
    }
    return *slot;
}

/* ---- opening a file: build-id check, search, libdwfl ---- */

enum file_state { FILE_OK, FILE_OPEN_ERROR, FILE_NOT_ELF, FILE_NO_BUILD_ID, FILE_MISMATCH };

/* Checks that path is an ELF file whose build-id is want (any ELF when want
 * is NULL). On a mismatch, got receives the file's build-id in hex. */
static enum file_state check_file(const char *path, const char *want, char *got, size_t got_size, int *err)
{
    got[0] = '\0';
    /* O_NONBLOCK: a path that is now a FIFO must not hang the tool */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        *err = errno;
        return FILE_OPEN_ERROR;
    }
    enum file_state st = FILE_OK;
    struct stat sb;
    Elf *e = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? elf_begin(fd, ELF_C_READ_MMAP, NULL) : NULL;
    if (!e || elf_kind(e) != ELF_K_ELF) {
        st = FILE_NOT_ELF;
    } else if (want) {
        const void *bid;
        ssize_t n = dwelf_elf_gnu_build_id(e, &bid);
        if (n <= 0) {
            st = FILE_NO_BUILD_ID;
        } else {
            size_t k = 0;
            for (ssize_t i = 0; i < n && k + 3 <= got_size; i++)
                k += (size_t)snprintf(got + k, got_size - k, "%02x", ((const unsigned char *)bid)[i]);
            st = strcmp(got, want) == 0 ? FILE_OK : FILE_MISMATCH;
        }
    }
    elf_end(e);
    close(fd);
    return st;
}

/* "abcdef012345..." for messages: build-ids are long and the start tells them apart. */
static const char *short_id(char *buf, size_t size, const char *id)
{
    snprintf(buf, size, "%.12s%s", id, strlen(id) > 12 ? "..." : "");
    return buf;
}

/* Reports the file to a session of its own; fills the module's segment table. */
static bool attach(pp_symbolizer_t *s, module_t *mod, const char *file, const char **why)
{
    Dwfl *dwfl = dwfl_begin(&s->cb);
    if (!dwfl) {
        *why = dwfl_errmsg(-1);
        return false;
    }
    dwfl_report_begin(dwfl);
    /* base 0 with add_p_vaddr: bias 0 for ET_DYN as for ET_EXEC */
    Dwfl_Module *dm = dwfl_report_elf(dwfl, mod->base, file, -1, 0, true);
    dwfl_report_end(dwfl, NULL, NULL);
    GElf_Addr bias;
    Elf *e = dm ? dwfl_module_getelf(dm, &bias) : NULL;
    size_t phnum;
    if (!e || elf_getphdrnum(e, &phnum) != 0) {
        *why = dwfl_errmsg(-1);
        dwfl_end(dwfl);
        return false;
    }
    mod->dwfl = dwfl;
    mod->dm = dm;
    mod->loads = xcalloc(phnum, sizeof *mod->loads);
    mod->loads_are_offsets = false;
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD)
            continue;
        load_t *l = &mod->loads[mod->nloads++];
        *l = (load_t){ph.p_offset, ph.p_vaddr, ph.p_filesz, ph.p_align, (ph.p_flags & PF_X) != 0};
        /* a separate debug file keeps the headers but not the code: its
         * executable segments have no bytes and rewritten offsets */
        if (l->exec && l->filesz > 0)
            mod->loads_are_offsets = true;
    }
    return true;
}

/* Finds, checks and attaches the module's file; warns once if it cannot. */
static void open_module(pp_symbolizer_t *s, module_t *mod, const pp_dump_t *d, const pp_mapping_t *m)
{
    const char *path = pp_dump_file_of(mod->pub.path), *want = mod->pub.build_id;
    bool pseudo = path[0] == '[' || path[0] == '\0';
    char got[256] = "", buf[256];
    int err = 0;
    enum file_state first = FILE_OPEN_ERROR;
    const char *file = NULL, *why = NULL;

    if (!pseudo) {
        first = check_file(path, want, got, sizeof got, &err);
        if (first == FILE_OK)
            file = path;
    }
    /* a moved or replaced file: same base name in the search directories */
    char *cand = NULL;
    for (unsigned i = 0; !file && !pseudo && i < s->ndirs; i++) {
        cand = xasprintf("%s/%s", s->dirs[i], mod->base);
        if (check_file(cand, want, buf, sizeof buf, &(int){0}) == FILE_OK)
            file = cand;
        else {
            free(cand);
            cand = NULL;
        }
    }
    /* the separate debug file carries symbols and DWARF, enough for us */
    if (!file && want && strlen(want) > 2) {
        cand = xasprintf(DEBUG_BUILD_ID_DIR "/%.2s/%s.debug", want, want + 2);
        if (check_file(cand, want, buf, sizeof buf, &(int){0}) == FILE_OK)
            file = cand;
        else {
            free(cand);
            cand = NULL;
        }
    }
    if (file && !attach(s, mod, file, &why)) {
        first = FILE_NOT_ELF;
        file = NULL;
    }
    free(cand);

    const char *dn = d->path;
    unsigned ln = m->line;
    if (!file) {
        char a[32], b[32];
        if (strcmp(path, "[vdso]") == 0)
            ; /* the kernel's: no file, nothing the user can do */
        else if (pseudo)
            pp_warn("%s:%u: %s: the executable's path was not recorded; its frames are shown as %s+0xOFFSET", dn, ln,
                    path, mod->base);
        else if (first == FILE_OPEN_ERROR)
            pp_warn("%s:%u: %s: %s; its frames are shown as %s+0xOFFSET (--search DIR looks for moved files)", dn, ln,
                    path, strerror(err), mod->base);
        else if (first == FILE_MISMATCH)
            pp_warn("%s:%u: %s has build-id %s, the profile says %s (changed since the profile was written); its "
                    "frames are shown as %s+0xOFFSET",
                    dn, ln, path, short_id(a, sizeof a, got), short_id(b, sizeof b, want), mod->base);
        else if (first == FILE_NO_BUILD_ID)
            pp_warn("%s:%u: %s has no build-id, the profile says %s (changed since the profile was written); its "
                    "frames are shown as %s+0xOFFSET",
                    dn, ln, path, short_id(b, sizeof b, want), mod->base);
        else
            pp_warn("%s:%u: %s: %s; its frames are shown as %s+0xOFFSET", dn, ln, path,
                    why ? why : "not an ELF file", mod->base);
        return;
    }
    if (dwfl_module_getsymtab(mod->dm) > 0)
        mod->pub.symbols = true;
    else
        pp_warn("%s:%u: %s: no symbols; its frames are shown as %s+0xOFFSET", dn, ln, path, mod->base);
}

/* ---- symbols ---- */

/* Of aliases at one address, the name a reader knows: a function, exported
 * (global or weak alike: __strdup and strdup), with fewer leading
 * underscores (malloc before __libc_malloc), no .localalias-like suffix. */
static int sym_score(const GElf_Sym *sym, const char *name)
{
    int type = GELF_ST_TYPE(sym->st_info), bind = GELF_ST_BIND(sym->st_info);
    int sc = (type == STT_FUNC || type == STT_GNU_IFUNC) ? 64 : 0;
    sc += bind == STB_GLOBAL || bind == STB_WEAK ? 32 : 0;
    sc += sym->st_size > 0 ? 16 : 0;
    sc += strchr(name, '.') ? 0 : 8;
    int u = 0;
    while (name[u] == '_' && u < 7)
        u++;
    return sc + 7 - u;
}

typedef struct sym_sort {
    sym_t s;
    int score;
} sym_sort_t;

static int cmp_sym(const void *a, const void *b)
{
    const sym_sort_t *x = a, *y = b;
    if (x->s.lo != y->s.lo)
        return x->s.lo < y->s.lo ? -1 : 1;
    return y->score - x->score;
}

/* The code symbols, one per address, sorted; a sizeless one reaches to the next. */
static void load_symbols(module_t *mod)
{
    int n = dwfl_module_getsymtab(mod->dm);
    if (n <= 0)
        return;
    sym_sort_t *v = xmalloc((size_t)n * sizeof *v);
    size_t k = 0;
    for (int i = 1; i < n; i++) {
        GElf_Sym sym;
        GElf_Addr addr;
        GElf_Word shndx;
        Elf *e;
        Dwarf_Addr bias;
        const char *name = dwfl_module_getsym_info(mod->dm, i, &sym, &addr, &shndx, &e, &bias);
        int type = GELF_ST_TYPE(sym.st_info);
        if (!name || !name[0] || shndx == SHN_UNDEF || shndx == SHN_ABS || addr == 0)
            continue;
        if (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_NOTYPE)
            continue;
        if (type == STT_NOTYPE) { /* labels: only those in code */
            GElf_Shdr sh;
            Elf_Scn *scn = e ? elf_getscn(e, shndx) : NULL;
            if (!scn || !gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_EXECINSTR))
                continue;
        }
        v[k].s = (sym_t){addr, sym.st_size ? addr + sym.st_size : 0, name, NULL};
        v[k].score = sym_score(&sym, name);
        k++;
    }
    qsort(v, k, sizeof *v, cmp_sym);
    mod->syms = xmalloc((k ? k : 1) * sizeof *mod->syms);
    size_t m = 0;
    for (size_t i = 0; i < k; i++)
        if (m == 0 || mod->syms[m - 1].lo != v[i].s.lo)
            mod->syms[m++] = v[i].s;
    for (size_t i = 0; i < m; i++)
        if (mod->syms[i].hi == 0)
            mod->syms[i].hi = i + 1 < m ? mod->syms[i + 1].lo : mod->syms[i].lo + 4096;
    mod->nsyms = m;
    free(v);
}

static sym_t *find_symbol(module_t *mod, uint64_t pc)
{
    size_t lo = 0, hi = mod->nsyms;
    while (lo < hi) { /* the first symbol above pc */
        size_t mid = (lo + hi) / 2;
        if (mod->syms[mid].lo <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* a few steps back for symbols nested in a larger one */
    for (size_t i = lo, steps = 0; i > 0 && steps < 4; i--, steps++)
        if (pc < mod->syms[i - 1].hi)
            return &mod->syms[i - 1];
    return NULL;
}

/* ---- segments: file offset to ELF address ---- */

/* The segment a mapping line names, in the file as we have it. */
static const load_t *segment_of(const module_t *mod, const pp_dump_t *d, const pp_mapping_t *m)
{
    if (mod->loads_are_offsets) {
        for (size_t i = 0; i < mod->nloads; i++)
            if (mod->loads[i].offset == m->offset)
                return &mod->loads[i];
        return NULL;
    }
    /* A debug-only file: its offsets are rewritten, but p_vaddr is still
     * congruent to the original p_offset modulo p_align; when that does not
     * decide, its executable segments come in the order of the dump's lines
     * for this file. */
    size_t rank = 0, nmatch = 0, nexec = 0;
    for (size_t i = 0; i < d->nmappings; i++)
        if (d->mappings[i].offset < m->offset && same_str(d->mappings[i].path, m->path) &&
            same_str(d->mappings[i].build_id, m->build_id))
            rank++;
    const load_t *congruent = NULL, *ranked = NULL;
    for (size_t i = 0; i < mod->nloads; i++) {
        const load_t *l = &mod->loads[i];
        if (!l->exec)
            continue;
        if (nexec++ == rank)
            ranked = l;
        if (l->align > 1 && (l->vaddr - m->offset) % l->align == 0) {
            congruent = l;
            nmatch++;
        }
    }
    return nmatch == 1 ? congruent : ranked;
}

/* ELF address - file offset for the mapping's segment (modulo 2^64); 0,
 * addresses equal to offsets, when no segment fits. */
static uint64_t delta_of(module_t *mod, const pp_dump_t *d, const pp_mapping_t *m)
{
    for (size_t i = 0; i < mod->ndeltas; i++)
        if (mod->deltas[i].offset == m->offset)
            return mod->deltas[i].delta;
    const load_t *l = segment_of(mod, d, m);
    uint64_t delta = l ? l->vaddr - m->offset : 0;
    mod->deltas = xrealloc(mod->deltas, (mod->ndeltas + 1) * sizeof *mod->deltas);
    mod->deltas[mod->ndeltas++] = (seg_delta_t){m->offset, delta};
    return delta;
}

/* ---- DWARF: functions of a CU, inlined calls ---- */

typedef struct range_vec {
    func_range_t *v;
    size_t n, cap;
} range_vec_t;

static void collect_functions(Dwarf_Die *parent, range_vec_t *out, int depth)
{
    Dwarf_Die child;
    if (depth > MAX_SCOPE_DEPTH || dwarf_child(parent, &child) != 0)
        return;
    do {
        switch (dwarf_tag(&child)) {
        case DW_TAG_subprogram: {
            Dwarf_Addr base, lo, hi;
            ptrdiff_t off = 0;
            while ((off = dwarf_ranges(&child, off, &base, &lo, &hi)) > 0) {
                if (lo >= hi)
                    continue;
                if (out->n == out->cap) {
                    out->cap = out->cap ? 2 * out->cap : 64;
                    out->v = xrealloc(out->v, out->cap * sizeof *out->v);
                }
                out->v[out->n++] = (func_range_t){lo, hi, child};
            }
            break;
        }
        case DW_TAG_namespace:
        case DW_TAG_class_type:
        case DW_TAG_structure_type:
        case DW_TAG_union_type:
        case DW_TAG_module:
            collect_functions(&child, out, depth + 1);
            break;
        default:
            break;
        }
    } while (dwarf_siblingof(&child, &child) == 0);
}

static int cmp_range(const void *a, const void *b)
{
    const func_range_t *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static cu_funcs_t *cu_functions(module_t *mod, Dwarf_Die *cudie)
{
    Dwarf_Off key = dwarf_dieoffset(cudie);
    if (2 * (mod->cus_used + 1) > mod->cus_cap) {
        size_t cap = mod->cus_cap ? 2 * mod->cus_cap : 64;
        cu_funcs_t *t = xcalloc(cap, sizeof *t);
        for (size_t i = 0; i < mod->cus_cap; i++) {
            if (!mod->cus[i].cu)
                continue;
            size_t j = slot_of(mod->cus[i].cu, cap);
            while (t[j].cu)
                j = (j + 1) & (cap - 1);
            t[j] = mod->cus[i];
        }
        free(mod->cus);
        mod->cus = t;
        mod->cus_cap = cap;
    }
    size_t j = slot_of(key, mod->cus_cap);
    for (; mod->cus[j].cu; j = (j + 1) & (mod->cus_cap - 1))
        if (mod->cus[j].cu == key)
            return &mod->cus[j];
    range_vec_t r = {0};
    collect_functions(cudie, &r, 0);
    if (r.n)
        qsort(r.v, r.n, sizeof *r.v, cmp_range);
    mod->cus[j] = (cu_funcs_t){key ? key : 1, r.v, r.n};
    mod->cus_used++;
    return &mod->cus[j];
}

static Dwarf_Die *find_function(cu_funcs_t *cf, Dwarf_Addr pc)
{
    size_t lo = 0, hi = cf->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cf->v[mid].lo <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo, steps = 0; i > 0 && steps < 4; i--, steps++)
        if (pc < cf->v[i - 1].hi)
            return &cf->v[i - 1].die;
    return NULL;
}

/* A function's nested scopes (inlined calls, blocks), flattened once:
 * walking the DIEs again for every address costs more than this index. */
typedef struct scope {
    uint32_t parent; /* index; NO_SCOPE: the function itself */
    uint32_t depth;
    bool inlined;
    Dwarf_Die die;
} scope_t;

typedef struct scope_range {
    Dwarf_Addr lo, hi;
    uint32_t scope, depth;
} scope_range_t;

typedef struct fn_scopes {
    scope_t *scopes;
    scope_range_t *ranges; /* by lo, then depth */
    size_t nranges;
} fn_scopes_t;

#define NO_SCOPE UINT32_MAX

typedef struct scope_build {
    scope_t *sc;
    size_t nsc, sc_cap;
    scope_range_t *r;
    size_t nr, r_cap;
} scope_build_t;

static void scan_scopes(Dwarf_Die *parent, uint32_t parent_idx, uint32_t depth, scope_build_t *b)
{
    Dwarf_Die child;
    if (depth > MAX_SCOPE_DEPTH || dwarf_child(parent, &child) != 0)
        return;
    do {
        int tag = dwarf_tag(&child);
        if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_lexical_block && tag != DW_TAG_try_block &&
            tag != DW_TAG_catch_block)
            continue;
        if (b->nsc == b->sc_cap) {
            b->sc_cap = b->sc_cap ? 2 * b->sc_cap : 64;
            b->sc = xrealloc(b->sc, b->sc_cap * sizeof *b->sc);
        }
        uint32_t idx = (uint32_t)b->nsc++;
        b->sc[idx] = (scope_t){parent_idx, depth, tag == DW_TAG_inlined_subroutine, child};
        Dwarf_Addr base, lo, hi;
        ptrdiff_t off = 0;
        while ((off = dwarf_ranges(&child, off, &base, &lo, &hi)) > 0) {
            if (lo >= hi)
                continue;
            if (b->nr == b->r_cap) {
                b->r_cap = b->r_cap ? 2 * b->r_cap : 64;
                b->r = xrealloc(b->r, b->r_cap * sizeof *b->r);
            }
            b->r[b->nr++] = (scope_range_t){lo, hi, idx, depth};
        }
        /* blocks without addresses of their own can still hold inlined calls */
        scan_scopes(&child, idx, depth + 1, b);
    } while (dwarf_siblingof(&child, &child) == 0);
}

static int cmp_scope_range(const void *a, const void *b)
{
    const scope_range_t *x = a, *y = b;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    return x->depth < y->depth ? -1 : x->depth > y->depth;
}

static const fn_scopes_t *fn_scopes(pp_symbolizer_t *s, Dwarf_Die *fn)
{
    const void **slot = pp_ptrmap_slot(&s->fn_scopes, fn->addr);
    if (*slot)
        return *slot;
    scope_build_t b = {0};
    scan_scopes(fn, NO_SCOPE, 0, &b);
    if (b.nr)
        qsort(b.r, b.nr, sizeof *b.r, cmp_scope_range);
    fn_scopes_t *f = arena_alloc(s, sizeof *f);
    f->scopes = arena_alloc(s, (b.nsc ? b.nsc : 1) * sizeof *f->scopes);
    f->ranges = arena_alloc(s, (b.nr ? b.nr : 1) * sizeof *f->ranges);
    if (b.nsc)
        memcpy(f->scopes, b.sc, b.nsc * sizeof *f->scopes);
    if (b.nr)
        memcpy(f->ranges, b.r, b.nr * sizeof *f->ranges);
    f->nranges = b.nr;
    free(b.sc);
    free(b.r);
    *slot = f;
    return f;
}

/* The inlined calls containing pc inside fn, outermost first, into s->chain. */
static size_t inline_chain(pp_symbolizer_t *s, Dwarf_Die *fn, Dwarf_Addr pc)
{
    const fn_scopes_t *f = fn_scopes(s, fn);
    size_t lo = 0, hi = f->nranges;
    while (lo < hi) { /* the first range starting above pc */
        size_t mid = (lo + hi) / 2;
        if (f->ranges[mid].lo <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* Scopes nest, so of the ranges holding pc the innermost starts last
     * (and sorts last among equal starts). */
    uint32_t inner = NO_SCOPE;
    for (size_t i = lo; i > 0; i--)
        if (pc < f->ranges[i - 1].hi) {
            inner = f->ranges[i - 1].scope;
            break;
        }
    size_t n = 0;
    for (uint32_t k = inner; k != NO_SCOPE; k = f->scopes[k].parent)
        n += f->scopes[k].inlined;
    if (n > s->chain_cap) {
        s->chain_cap = n;
        s->chain = xrealloc(s->chain, s->chain_cap * sizeof *s->chain);
    }
    size_t i = n;
    for (uint32_t k = inner; k != NO_SCOPE; k = f->scopes[k].parent)
        if (f->scopes[k].inlined)
            s->chain[--i] = f->scopes[k].die;
    return n;
}

/* Where a function is declared: through the abstract origin (an inlined or
 * cloned copy) and the specification (a definition outside its class). */
static Dwarf_Die declaration_of(Dwarf_Die *die)
{
    Dwarf_Die cur = *die, next;
    Dwarf_Attribute a;
    for (int i = 0; i < 16; i++) {
        if (dwarf_formref_die(dwarf_attr(&cur, DW_AT_abstract_origin, &a), &next) ||
            dwarf_formref_die(dwarf_attr(&cur, DW_AT_specification, &a), &next))
            cur = next;
        else
            break;
    }
    return cur;
}

/* name prefixed with its namespaces and classes, as a demangler writes them. */
static const char *qualify(Dwarf_Die *decl, const char *name)
{
    Dwarf_Die *scopes = NULL;
    int n = dwarf_getscopes_die(decl, &scopes);
    pp_buf_t b = {0};
    for (int i = n - 1; i >= 1; i--) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag != DW_TAG_namespace && tag != DW_TAG_class_type && tag != DW_TAG_structure_type &&
            tag != DW_TAG_union_type)
            continue;
        const char *part = dwarf_diename(&scopes[i]);
        pp_buf_puts(&b, part ? part : tag == DW_TAG_namespace ? "(anonymous namespace)" : "{anonymous}");
        pp_buf_puts(&b, "::");
    }
    free(scopes);
    pp_buf_puts(&b, name);
    const char *q = pp_intern(b.data);
    pp_buf_free(&b);
    return q;
}

/* Only C++ names need their scopes (and finding them walks the whole CU). */
static bool in_cxx(Dwarf_Die *die)
{
    Dwarf_Die cu;
    if (!dwarf_diecu(die, &cu, NULL, NULL))
        return false;
    switch (dwarf_srclang(&cu)) {
    case DW_LANG_C_plus_plus:
    case DW_LANG_C_plus_plus_03:
    case DW_LANG_C_plus_plus_11:
    case DW_LANG_C_plus_plus_14:
        return true;
    default:
        return false;
    }
}

static die_name_t die_function_name(pp_symbolizer_t *s, Dwarf_Die *die)
{
    /* the inlined copies of a function share their abstract origin */
    Dwarf_Die origin;
    Dwarf_Attribute a;
    const void *key = dwarf_formref_die(dwarf_attr(die, DW_AT_abstract_origin, &a), &origin) ? origin.addr : die->addr;
    const void **slot = pp_ptrmap_slot(&s->die_names, key);
    if (*slot)
        return *(const die_name_t *)*slot;
    Dwarf_Die decl = declaration_of(die);
    die_name_t *dn = arena_alloc(s, sizeof *dn);
    const char *n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &a));
    if (!n)
        n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a));
    if (n && n[0] == '_' && n[1] == 'Z') {
        *dn = (die_name_t){demangle(s, n), true};
    } else {
        n = dwarf_diename(&decl);
        *dn = (die_name_t){n && in_cxx(&decl) ? qualify(&decl, n) : n ? pp_intern(n) : NULL, false};
    }
    *slot = dn;
    return *dn;
}

/* libdw keeps each file name at one address while its file is open */
static const char *intern_file(pp_symbolizer_t *s, const char *f)
{
    const void **slot = pp_ptrmap_slot(&s->files, f);
    if (!*slot)
        *slot = pp_intern(f);
    return *slot;
}

static const char *call_file(pp_symbolizer_t *s, Dwarf_Die *cudie, Dwarf_Die *inl)
{
    Dwarf_Attribute a;
    Dwarf_Word idx;
    Dwarf_Files *files;
    size_t nfiles;
    if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_file, &a), &idx) != 0 ||
        dwarf_getsrcfiles(cudie, &files, &nfiles) != 0 || idx >= nfiles)
        return NULL;
    const char *f = dwarf_filesrc(files, idx, NULL, NULL);
    return f && strcmp(f, "???") != 0 ? intern_file(s, f) : NULL;
}

static uint32_t call_line(Dwarf_Die *inl)
{
    Dwarf_Attribute a;
    Dwarf_Word w;
    if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_line, &a), &w) != 0 || w > UINT32_MAX)
        return 0;
    return (uint32_t)w;
}

/* ---- building a location ---- */

static pp_frame_t *frame_push(pp_symbolizer_t *s, size_t *n)
{
    if (*n == s->scratch_cap) {
        s->scratch_cap = s->scratch_cap ? 2 * s->scratch_cap : 16;
        s->scratch = xrealloc(s->scratch, s->scratch_cap * sizeof *s->scratch);
    }
    pp_frame_t *f = &s->scratch[(*n)++];
    *f = (pp_frame_t){NULL, NULL, 0};
    return f;
}

/* The symbol's name: demangled, without a symbol version. */
static const char *symbol_name(pp_symbolizer_t *s, sym_t *sym)
{
    if (!sym)
        return NULL;
    if (!sym->name) {
        /* glibc's versioned names: memcpy@@GLIBC_2.14 */
        const char *at = strchr(sym->raw, '@');
        sym->name = demangle(s, at && at > sym->raw ? pp_intern_n(sym->raw, (size_t)(at - sym->raw)) : sym->raw);
    }
    return sym->name;
}

/* Fills s->scratch with the frames of the call at pc (an ELF address of
 * mod); returns their number (>= 1), functions NULL where unknown. */
static size_t symbolize_pc(pp_symbolizer_t *s, module_t *mod, uint64_t pc)
{
    size_t n = 0;
    if (!mod->syms && mod->pub.symbols)
        load_symbols(mod);
    sym_t *sym = find_symbol(mod, pc);
    const char *outer = NULL;
    if (!s->lines && !s->inlines) {
        frame_push(s, &n)->function = symbol_name(s, sym);
        return n;
    }

    if (mod->dwarf_state == 0) {
        Dwarf_Addr b;
        mod->dwarf_state = dwfl_module_getdwarf(mod->dm, &b) ? 1 : -1;
    }
    Dwarf_Addr bias = 0;
    Dwarf_Die *cudie = mod->dwarf_state > 0 ? dwfl_module_addrdie(mod->dm, pc, &bias) : NULL;
    if (!cudie) {
        frame_push(s, &n)->function = symbol_name(s, sym);
        return n;
    }

    /* the line of the innermost code, then each inlined call's call site
     * as the line of the frame around it */
    const char *file = NULL;
    uint32_t line = 0;
    if (s->lines) {
        /* in the CU we have (dwfl_module_getsrc would look it up again) */
        Dwarf_Line *l = dwarf_getsrc_die(cudie, pc - bias);
        int lineno = 0;
        const char *f = l ? dwarf_linesrc(l, NULL, NULL) : NULL;
        if (l && dwarf_lineno(l, &lineno) != 0)
            lineno = 0;
        file = f ? intern_file(s, f) : NULL;
        line = lineno > 0 ? (uint32_t)lineno : 0;
    }
    Dwarf_Die *fn = find_function(cu_functions(mod, cudie), pc - bias);
    size_t nchain = fn ? inline_chain(s, fn, pc - bias) : 0;
    for (size_t i = nchain; i-- > 0;) {
        Dwarf_Die *inl = &s->chain[i];
        if (s->inlines) {
            pp_frame_t *f = frame_push(s, &n);
            f->function = die_function_name(s, inl).name;
            f->file = file;
            f->line = line;
        }
        if (s->lines) {
            file = call_file(s, cudie, inl);
            line = call_line(inl);
        }
    }
    /* The symbol names the code, DWARF the source function: prefer a
     * linkage name (qualified, with parameters, no clone suffix such as
     * "[clone .isra.0]"), and DWARF's plain name only to drop a C clone's
     * suffix (foo.part.0, foo.cold); otherwise the symbol, which keeps the
     * exported alias (__libc_start_main, not __libc_start_main_impl). */
    if (fn) {
        die_name_t dn = die_function_name(s, fn);
        size_t len = dn.name ? strlen(dn.name) : 0;
        if (dn.name && (dn.linkage || !sym || (strncmp(sym->raw, dn.name, len) == 0 && sym->raw[len] == '.')))
            outer = dn.name;
    }
    if (!outer)
        outer = symbol_name(s, sym);
    pp_frame_t *f = frame_push(s, &n);
    f->function = outer;
    f->file = file;
    f->line = line;
    return n;
}

static size_t loc_slot(const pp_module_t *m, uint64_t off, size_t cap)
{
    return slot_of(pp_hash_mix((uintptr_t)m, off), cap);
}

static void loctab_insert(pp_symbolizer_t *s, pp_location_t *loc)
{
    if (2 * (s->nlocs + 1) > s->loctab_cap) {
        size_t cap = s->loctab_cap ? 2 * s->loctab_cap : 4096;
        loc_slot_t *t = xcalloc(cap, sizeof *t);
        for (size_t i = 0; i < s->loctab_cap; i++) {
            loc_slot_t *o = &s->loctab[i];
            if (!o->loc)
                continue;
            size_t j = loc_slot(o->module, o->file_offset, cap);
            while (t[j].loc)
                j = (j + 1) & (cap - 1);
            t[j] = *o;
        }
        free(s->loctab);
        s->loctab = t;
        s->loctab_cap = cap;
    }
    size_t j = loc_slot(loc->module, loc->file_offset, s->loctab_cap);
    while (s->loctab[j].loc)
        j = (j + 1) & (s->loctab_cap - 1);
    s->loctab[j] = (loc_slot_t){loc->module, loc->file_offset, loc};
    if (s->nlocs == s->locs_cap) {
        s->locs_cap = s->locs_cap ? 2 * s->locs_cap : 1024;
        s->locs = xrealloc(s->locs, s->locs_cap * sizeof *s->locs);
    }
    s->locs[s->nlocs++] = loc;
    loc->id = (uint32_t)s->nlocs;
}

static pp_location_t *loctab_find(pp_symbolizer_t *s, const pp_module_t *m, uint64_t off)
{
    if (!s->loctab_cap)
        return NULL;
    for (size_t j = loc_slot(m, off, s->loctab_cap); s->loctab[j].loc; j = (j + 1) & (s->loctab_cap - 1))
        if (s->loctab[j].module == m && s->loctab[j].file_offset == off)
            return s->loctab[j].loc;
    return NULL;
}

static pp_location_t *new_location(pp_symbolizer_t *s, module_t *mod, uint64_t off, const pp_frame_t *frames,
                                   size_t n)
{
    pp_location_t *loc = arena_alloc(s, sizeof *loc);
    pp_frame_t *fr = arena_alloc(s, n * sizeof *fr);
    memcpy(fr, frames, n * sizeof *fr);
    *loc = (pp_location_t){0, mod ? &mod->pub : NULL, off, mod ? mod->pub.start + off - mod->pub.offset : off,
                           (uint32_t)n, fr};
    loctab_insert(s, loc);
    return loc;
}

/* ---- modules ---- */

static size_t mod_hash(const char *path, const char *build_id)
{
    uint64_t h = pp_hash_bytes(path, strlen(path), 0);
    return (size_t)(build_id ? pp_hash_bytes(build_id, strlen(build_id), h) : h);
}

static module_t *module_of(pp_symbolizer_t *s, const pp_dump_t *d, const pp_mapping_t *m)
{
    memo_t *me = &s->memo[slot_of((uintptr_t)m, MEMO_SIZE)];
    /* a dump freed and another read may reuse the address: compare contents */
    if (me->m == m && same_str(me->mod->pub.path, m->path) && same_str(me->mod->pub.build_id, m->build_id))
        return me->mod;

    const char *path = m->path ? m->path : "";
    if (2 * (s->nmods + 1) > s->modtab_cap) {
        size_t cap = s->modtab_cap ? 2 * s->modtab_cap : 64;
        module_t **t = xcalloc(cap, sizeof *t);
        for (size_t i = 0; i < s->modtab_cap; i++) {
            module_t *x = s->modtab[i];
            if (!x)
                continue;
            size_t j = mod_hash(x->pub.path, x->pub.build_id) & (cap - 1);
            while (t[j])
                j = (j + 1) & (cap - 1);
            t[j] = x;
        }
        free(s->modtab);
        s->modtab = t;
        s->modtab_cap = cap;
    }
    size_t j = mod_hash(path, m->build_id) & (s->modtab_cap - 1);
    module_t *mod = NULL;
    for (; s->modtab[j]; j = (j + 1) & (s->modtab_cap - 1))
        if (same_str(s->modtab[j]->pub.path, path) && same_str(s->modtab[j]->pub.build_id, m->build_id)) {
            mod = s->modtab[j];
            break;
        }
    if (!mod) {
        mod = xcalloc(1, sizeof *mod);
        mod->pub.path = pp_intern(path);
        mod->pub.build_id = m->build_id ? pp_intern(m->build_id) : NULL;
        mod->pub.start = m->start;
        mod->pub.end = m->end;
        mod->pub.offset = m->offset;
        mod->base = pp_intern(pp_basename(pp_dump_file_of(mod->pub.path)));
        s->modtab[j] = mod;
        if (s->nmods == s->mods_cap) {
            s->mods_cap = s->mods_cap ? 2 * s->mods_cap : 16;
            s->mods = xrealloc(s->mods, s->mods_cap * sizeof *s->mods);
            s->pubs = xrealloc(s->pubs, s->mods_cap * sizeof *s->pubs);
        }
        s->pubs[s->nmods] = &mod->pub;
        s->mods[s->nmods++] = mod;
        mod->pub.id = (uint32_t)s->nmods;
        open_module(s, mod, d, m);
    }
    me->m = m;
    me->mod = mod;
    return mod;
}

/* ---- the interface ---- */

pp_symbolizer_t *pp_sym_new(const pp_sym_options_t *opt)
{
    pp_symbolizer_t *s = xcalloc(1, sizeof *s);
    elf_version(EV_CURRENT);
    s->lines = opt ? opt->lines : true;
    s->inlines = opt ? opt->inlines : true;
    if (opt && opt->nsearch_dirs) {
        s->ndirs = opt->nsearch_dirs;
        s->dirs = xcalloc(s->ndirs, sizeof *s->dirs);
        for (unsigned i = 0; i < s->ndirs; i++)
            s->dirs[i] = pp_intern(opt->search_dirs[i]);
    }
    s->cb.find_elf = dwfl_build_id_find_elf;
    s->cb.find_debuginfo = dwfl_standard_find_debuginfo;
    s->cb.section_address = dwfl_offline_section_address;
    s->cb.debuginfo_path = &s->debuginfo_path;
    return s;
}

void pp_sym_free(pp_symbolizer_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nmods; i++) {
        module_t *m = s->mods[i];
        if (m->dwfl)
            dwfl_end(m->dwfl);
        for (size_t k = 0; k < m->cus_cap; k++)
            free(m->cus[k].v);
        free(m->cus);
        free(m->loads);
        free(m->deltas);
        free(m->syms);
        free(m);
    }
    free(s->mods);
    free(s->pubs);
    free(s->modtab);
    free(s->locs);
    free(s->loctab);
    pp_ptrmap_free(&s->demangled);
    pp_ptrmap_free(&s->die_names);
    pp_ptrmap_free(&s->fn_scopes);
    pp_ptrmap_free(&s->files);
    free(s->scratch);
    free(s->chain);
    free(s->dirs);
    while (s->chunks) {
        chunk_t *c = s->chunks;
        s->chunks = c->next;
        free(c);
    }
    free(s);
}

const pp_location_t *pp_sym_lookup(pp_symbolizer_t *s, const pp_dump_t *d, uint64_t addr)
{
    const pp_mapping_t *m = pp_dump_mapping_of(d, addr);
    if (!m) {
        pp_location_t *loc = loctab_find(s, NULL, addr);
        if (loc)
            return loc;
        char buf[32];
        if (addr == PP_TRUNCATED_FRAME)          /* the frames a deep stack lost */
            snprintf(buf, sizeof buf, "[truncated]");
        else
            snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)addr);
        pp_frame_t f = {pp_intern(buf), NULL, 0};
        return new_location(s, NULL, addr, &f, 1);
    }
    module_t *mod = module_of(s, d, m);
    uint64_t off = addr - m->start + m->offset;
    pp_location_t *loc = loctab_find(s, &mod->pub, off);
    if (loc)
        return loc;

    size_t n = 0;
    if (mod->dwfl) {
        /* the call is the instruction before the return address */
        uint64_t pc = off + delta_of(mod, d, m) - 1;
        n = symbolize_pc(s, mod, pc);
    } else {
        frame_push(s, &n);
    }
    /* no name found (no file, no symbol, a nameless DIE): MODULE+0xOFFSET */
    const char *unknown = NULL;
    for (size_t i = 0; i < n; i++)
        if (!s->scratch[i].function) {
            if (!unknown) {
                char *name = xasprintf("%s+0x%llx", mod->base, (unsigned long long)off);
                unknown = pp_intern(name);
                free(name);
            }
            s->scratch[i].function = unknown;
        }
    return new_location(s, mod, off, s->scratch, n);
}

const pp_module_t *const *pp_sym_modules(const pp_symbolizer_t *s, uint32_t *n)
{
    *n = (uint32_t)s->nmods;
    return s->pubs;
}

const pp_location_t *const *pp_sym_locations(const pp_symbolizer_t *s, uint32_t *n)
{
    *n = (uint32_t)s->nlocs;
    return (const pp_location_t *const *)s->locs;
}
