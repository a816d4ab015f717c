/* wrapper.c -- allocation sites moved out past allocation wrappers.
 *
 * A stack is read as its frames in order, inlined ones included, from the
 * allocating frame (pp_alloc_frame) outwards; a function calling itself, or
 * its split part, is one frame. Among the first DEPTH of them, a function is
 * thin if every allocation that passes through it does so at one of at most
 * THIN_LINES lines (it does little but call on), and shared if at least
 * SHARED_CALLERS distinct functions call it on the way to an allocation
 * (both counted over the whole profile). The wrappers of a stack are
 *   - the frames next to the allocation that are thin and named in the
 *     allocator's words ("alloc", "strdup": zmalloc_usable and its
 *     ztrymalloc_usable_internal, xmalloc, g_strdup, PyMem_Malloc), or
 *     named by the user (--wrapper); or else
 *   - the first shared thin function and the thin ones it calls on the way
 *     (git's xstrdup and its helpers), with the named ones just outside it.
 * The site is the frame that called the outermost wrapper, and that wrapper
 * is its "via": "lpInsert via zrealloc_usable".
 *
 * Detection stops there: a constructor such as createStringObject, thin
 * and shared too, stays a site rather than handing every string to the
 * command that made it; and a function named "alloc" further out, past a
 * frame that is no wrapper, is not one for this stack. */
#include "wrapper.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "site.h"

#define DEPTH 8           /* frames looked at from the allocating frame */
#define THIN_LINES 3      /* allocating lines of a thin function, at most */
#define SHARED_CALLERS 4  /* distinct callers of a shared function, at least */

void pp_wrappers_init(pp_wrappers_t *w) { *w = (pp_wrappers_t){.detect = true}; }

bool pp_wrappers_name(pp_wrappers_t *w, const char *regex, char *err, size_t errsize)
{
    w->named = xrealloc(w->named, (w->nnamed + 1) * sizeof *w->named);
    int rc = regcomp(&w->named[w->nnamed], regex, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[128];
        regerror(rc, &w->named[w->nnamed], why, sizeof why);
        snprintf(err, errsize, "--wrapper '%s': %s", regex, why);
        return false;
    }
    w->nnamed++;
    return true;
}

void pp_wrappers_free(pp_wrappers_t *w)
{
    for (size_t i = 0; i < w->nnamed; i++)
        regfree(&w->named[i]);
    free(w->named);
    *w = (pp_wrappers_t){0};
}

/* ---- a stack's frames, inlined ones included, from the allocating frame -- */

typedef struct {
    const pp_stack_t *s;
    uint32_t loc, frame; /* the current frame: s->locs[loc]->frames[frame] */
} cursor_t;

static const pp_frame_t *at(const cursor_t *c) { return &c->s->locs[c->loc]->frames[c->frame]; }

static bool step(cursor_t *c)
{
    if (c->frame + 1 < c->s->locs[c->loc]->nframes)
        c->frame++;
    else if (c->loc + 1 < c->s->nlocs)
        c->loc++, c->frame = 0;
    else
        return false;
    return true;
}

/* Steps to the caller, a frame of another function (recursion and a
 * function's split parts, PyUnicode_New calling PyUnicode_New, are one
 * frame here); false at the root. */
static bool outward(cursor_t *c)
{
    const char *self = at(c)->function;
    cursor_t next = *c;
    do
        if (!step(&next))
            return false;
    while (at(&next)->function == self);
    *c = next;
    return true;
}

/* ---- what is known of each function near the allocator ---------------- */

typedef struct {
    pp_frame_t key;                        /* the function only (file NULL, line 0) */
    const char *caller[SHARED_CALLERS];    /* distinct callers, the first few */
    size_t ncallers;
    pp_frame_t line[THIN_LINES + 1];       /* distinct allocating lines, the first few */
    size_t nlines;
    int named;                             /* 0 unknown, 1 yes, 2 no */
} function_t;

static function_t *function_of(pp_sites_t *t, const char *name)
{
    return pp_site_of(t, &(pp_frame_t){.function = name});
}

static void note_line(function_t *f, const pp_frame_t *line)
{
    for (size_t i = 0; i < f->nlines; i++)
        if (f->line[i].file == line->file && f->line[i].line == line->line)
            return;
    if (f->nlines <= THIN_LINES)
        f->line[f->nlines++] = *line;
}

static void note_caller(function_t *f, const char *caller)
{
    for (size_t i = 0; i < f->ncallers; i++)
        if (f->caller[i] == caller)
            return;
    if (f->ncallers < SHARED_CALLERS)
        f->caller[f->ncallers++] = caller;
}

static void learn(pp_sites_t *t, const pp_profile_t *p)
{
    for (size_t i = 0; i < p->nstacks; i++) {
        const pp_stack_t *s = &p->stacks[i];
        if (!s->nlocs)
            continue;
        cursor_t c = {s, pp_alloc_frame(s->locs, s->nlocs), 0};
        for (int d = 0; d < DEPTH; d++) {
            const pp_frame_t *f = at(&c);
            note_line(function_of(t, f->function), f);
            if (!outward(&c))
                break;
            note_caller(function_of(t, f->function), at(&c)->function);
        }
    }
}

static bool named(const pp_wrappers_t *w, function_t *f)
{
    if (!f->named) {
        f->named = 2;
        for (size_t i = 0; i < w->nnamed; i++)
            if (regexec(&w->named[i], f->key.function, 0, NULL, 0) == 0)
                f->named = 1;
    }
    return f->named == 1;
}

static bool thin(const function_t *f) { return f->nlines <= THIN_LINES; }

/* Named by the user, or thin and named in the allocator's words. */
static bool by_name(const pp_wrappers_t *w, function_t *f)
{
    return named(w, f) || (w->detect && thin(f) && (strcasestr(f->key.function, "alloc") ||
                                                    strcasestr(f->key.function, "strdup")));
}

typedef struct {
    cursor_t at;             /* the frame looked at */
    cursor_t site;           /* the caller of the last wrapper so far */
    const pp_frame_t *via;   /* that wrapper */
    int depth;
} walk_t;

/* Makes the frame looked at a wrapper and looks at its caller; false at
 * the root, which calls no one's wrapper. */
static bool take(walk_t *k)
{
    cursor_t caller = k->at;
    if (!outward(&caller))
        return false;
    k->via = at(&k->at), k->site = caller, k->at = caller;
    return true;
}

/* Past the wrappers named so (by_name) that follow one another. */
static bool skip_named(const pp_wrappers_t *w, pp_sites_t *t, walk_t *k)
{
    bool any = false;
    while (k->depth < DEPTH && by_name(w, function_of(t, at(&k->at)->function)) && take(k))
        k->depth++, any = true;
    return any;
}

/* A frame the symbolizer could not name (MODULE+0xOFFSET, a stripped
 * program) is one address, not a function: its callers say nothing of
 * what it does, so the shape rule leaves it alone. */
static bool unnamed(const pp_frame_t *f) { return !f->file && strstr(f->function, "+0x"); }

/* Past the first shared thin function and the thin ones it calls. */
static void skip_shared(pp_sites_t *t, walk_t *k)
{
    walk_t look = *k;
    for (; look.depth < DEPTH; look.depth++) {
        const pp_frame_t *f = at(&look.at);
        function_t *fn = function_of(t, f->function);
        if (!thin(fn) || unnamed(f))
            return;
        cursor_t caller = look.at;
        if (!outward(&caller))
            return;
        if (fn->ncallers >= SHARED_CALLERS) {
            take(&look);
            *k = look;
            k->depth++;
            return;
        }
        look.at = caller;
    }
}

void pp_wrappers_apply(const pp_wrappers_t *w, pp_profile_t *p, const pp_profile_t *from)
{
    pp_sites_t t;
    pp_sites_init(&t, sizeof(function_t));
    learn(&t, from);
    for (size_t i = 0; i < p->nstacks; i++) {
        pp_stack_t *s = &p->stacks[i];
        if (!s->nlocs)
            continue;
        cursor_t c = {s, pp_alloc_frame(s->locs, s->nlocs), 0};
        walk_t k = {c, c, NULL, 0};
        if (!skip_named(w, &t, &k) && w->detect) {
            skip_shared(&t, &k);
            if (k.via)
                skip_named(w, &t, &k);
        }
        s->via = k.via;
        s->site_frame = k.site.frame;
        if (s->alloc_frame != k.site.loc) {
            s->alloc_frame = k.site.loc;
            pp_stack_reweigh(p, s);
        }
    }
    pp_sites_free(&t);
}
