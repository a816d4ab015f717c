/* wrapper.c -- allocation sites moved out past allocation wrappers.
 *
 * A stack is read as its frames in order, inlined ones included, from the
 * allocating frame (pp_alloc_frame) outwards. Among the first DEPTH of
 * them, a function is thin if every allocation that passes through it
 * does so at one of at most THIN_LINES lines (it does little but call on),
 * and shared if at least SHARED_CALLERS distinct functions call it on the
 * way to an allocation. The first thin and shared function of a stack is a
 * wrapper, and so are the thin functions it calls; a function the user
 * names (--wrapper) is one wherever it is. The site is then the frame that
 * called the outermost of them, and that wrapper is its "via".
 *
 * So redis's zmalloc (one line, called from hundreds of places) is a
 * wrapper and its inlined ztrymalloc_usable_internal with it, while
 * lpInsert (several allocating lines) or a constructor called from two
 * places is not. Detection stops at the first shared wrapper: a constructor
 * such as createStringObject, thin and shared too, stays a site rather than
 * handing every string to the command that made it. */
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

void pp_wrappers_apply(const pp_wrappers_t *w, pp_profile_t *p, const pp_profile_t *from)
{
    pp_sites_t t;
    pp_sites_init(&t, sizeof(function_t));
    learn(&t, from);
    for (size_t i = 0; i < p->nstacks; i++) {
        pp_stack_t *s = &p->stacks[i];
        if (!s->nlocs)
            continue;
        cursor_t c = {s, pp_alloc_frame(s->locs, s->nlocs), 0}, site = c;
        const pp_frame_t *via = NULL;
        bool found = false; /* a shared wrapper: only named ones after it */
        for (int d = 0; d < DEPTH; d++) {
            const pp_frame_t *f = at(&c);
            function_t *fn = function_of(&t, f->function);
            bool thin = fn->nlines <= THIN_LINES, shared = fn->ncallers >= SHARED_CALLERS;
            bool wrapper = named(w, fn) || (w->detect && !found && thin && shared);
            if (!wrapper && !(w->detect && !found && thin))
                break;              /* neither a wrapper nor thin below one */
            cursor_t caller = c;
            if (!outward(&caller))
                break;              /* the root calls no one's wrapper */
            if (wrapper) {
                found |= !named(w, fn);
                via = f, site = caller;
            }
            c = caller;
        }
        s->via = via;
        s->site_frame = site.frame;
        if (s->alloc_frame != site.loc) {
            s->alloc_frame = site.loc;
            pp_stack_reweigh(p, s);
        }
    }
    pp_sites_free(&t);
}
