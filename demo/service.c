/*
 * service.c -- the sample service of `make demo`: a small shop's web server
 * that serves synthetic HTTP requests, so that its allocation profile has a
 * story to tell. No network: the requests are made up in memory.
 *
 *     service [REQUESTS [WORKERS]]       defaults: 50000 requests, 3 workers
 *
 * Threads and who frees what:
 *   generator  makes up each request's text (a seeded PRNG: always the same
 *              requests) and hands it to the worker that owns its session;
 *   workers    parse it into per-request hash tables (headers, query
 *              parameters; cleared and rebuilt for every request), look the
 *              session up in their LRU cache, render a response into a buffer
 *              that grows by realloc, "send" it (a checksum), free the request
 *              and hand an access-log record to the logger;
 *   logger     writes the records into its (in-memory) log file and frees them.
 *
 * What stays allocated at exit, on purpose: the session caches (servers let
 * the process exit reclaim them; the pages they keep are most of it), and the
 * dumps that log_slow_request forgets to free (the deliberate leak: one
 * request in about 1,500, the biggest uploads). Everything else is freed.
 *
 * The summary printed at the end depends only on the arguments: a session's
 * requests always go to the same worker, in order, and every total is a sum.
 *
 * Build: gcc -std=gnu11 -O1 -g -fno-omit-frame-pointer -Wall -Wextra -Werror
 *            -pthread -o service demo/service.c
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Kept out of line so that each step has its own frame in the profile. */
#define NOINLINE __attribute__((noinline))

#define DEFAULT_REQUESTS 50000
#define DEFAULT_WORKERS 3
#define MAX_WORKERS 16
#define SESSIONS 12000              /* distinct visitors */
#define SESSION_CACHE 600           /* sessions each worker keeps */
#define QUEUE_SLOTS 128
#define SLOW_UPLOAD_BYTES (384u << 10)
#define SLOW_DUMP_MAX (256u << 10)

__attribute__((noreturn)) static void die(const char *what)
{
    fprintf(stderr, "service: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* must(malloc(n)): the allocation is called from the function that needs
 * the memory, so that function is the innermost frame of its stack. */
static void *must(void *p)
{
    if (!p) die("out of memory");
    return p;
}

/* ---- small helpers ---------------------------------------------------------- */

struct rng { uint64_t s; };

static uint64_t rng_next(struct rng *r)     /* splitmix64 */
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint32_t rng_below(struct rng *r, uint32_t n) { return (uint32_t)(rng_next(r) % n); }

static double rng_unit(struct rng *r) { return (double)(rng_next(r) >> 11) / 9007199254740992.0; }

static uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3u;
    return h;
}

#define FNV_START 0xcbf29ce484222325u

/* ---- growable buffer ---------------------------------------------------------- */

struct buffer { char *data; size_t len, cap; };

/* Doubles the capacity (from 256) until need fits: a chain of reallocs. */
NOINLINE static void buffer_grow(struct buffer *b, size_t need)
{
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    b->data = must(realloc(b->data, cap));
    b->cap = cap;
}

NOINLINE static void buffer_append(struct buffer *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) buffer_grow(b, b->len + n + 1);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

__attribute__((format(printf, 2, 3)))
NOINLINE static void buffer_printf(struct buffer *b, const char *fmt, ...)
{
    for (;;) {
        size_t room = b->cap - b->len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) die("vsnprintf");
        if ((size_t)n < room) { b->len += (size_t)n; return; }
        buffer_grow(b, b->len + (size_t)n + 1);
    }
}

static void buffer_free(struct buffer *b)
{
    free(b->data);
    *b = (struct buffer){0};
}

/* ---- queue: a bounded FIFO of pointers between threads; NULL means stop --------- */

struct queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    void *slot[QUEUE_SLOTS];
    size_t head, count;
};

static void queue_init(struct queue *q)
{
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    q->head = q->count = 0;
}

static void queue_destroy(struct queue *q)
{
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
}

static void queue_push(struct queue *q, void *item)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == QUEUE_SLOTS) pthread_cond_wait(&q->not_full, &q->lock);
    q->slot[(q->head + q->count++) % QUEUE_SLOTS] = item;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
}

static void *queue_pop(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == 0) pthread_cond_wait(&q->not_empty, &q->lock);
    void *item = q->slot[q->head];
    q->head = (q->head + 1) % QUEUE_SLOTS;
    q->count--;
    pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->lock);
    return item;
}

/* ---- hash table of strings (headers, query parameters) ---------------------------- */

struct entry { struct entry *next; uint64_t hash; char *key, *value; };
struct table { struct entry **bucket; size_t nbuckets, count; };

/* Doubles the buckets and rehashes, as the table fills up. */
NOINLINE static void header_table_resize(struct table *t)
{
    size_t n = t->nbuckets ? t->nbuckets * 2 : 8;
    struct entry **b = must(calloc(n, sizeof *b));
    for (size_t i = 0; i < t->nbuckets; i++)
        for (struct entry *e = t->bucket[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    free(t->bucket);
    t->bucket = b;
    t->nbuckets = n;
}

static uint64_t key_hash(const char *k, size_t n)
{
    uint64_t h = FNV_START;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)(k[i] | 0x20)) * 0x100000001b3u;
    return h;
}

/* Stores a copy of key (lowercased: names are case-insensitive) and value;
 * a second value for the same key replaces the first. Returns the copy of value. */
NOINLINE static char *header_table_put(struct table *t, const char *k, size_t klen,
                                      const char *v, size_t vlen)
{
    uint64_t h = key_hash(k, klen);
    if (t->count + 1 > t->nbuckets * 3 / 4) header_table_resize(t);
    struct entry **head = &t->bucket[h & (t->nbuckets - 1)];
    for (struct entry *e = *head; e; e = e->next)
        if (e->hash == h && strncasecmp(e->key, k, klen) == 0 && e->key[klen] == '\0') {
            free(e->value);
            return e->value = must(strndup(v, vlen));
        }
    struct entry *e = must(malloc(sizeof *e));
    e->hash = h;
    e->key = must(strndup(k, klen));
    for (char *c = e->key; *c; c++) if (*c >= 'A' && *c <= 'Z') *c += 'a' - 'A';
    e->value = must(strndup(v, vlen));
    e->next = *head;
    *head = e;
    t->count++;
    return e->value;
}

static const char *header_table_get(const struct table *t, const char *k)
{
    if (!t->count) return NULL;
    uint64_t h = key_hash(k, strlen(k));
    for (struct entry *e = t->bucket[h & (t->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && strcmp(e->key, k) == 0) return e->value;
    return NULL;
}

/* Frees every entry and the buckets: the next request builds the table anew. */
NOINLINE static void header_table_clear(struct table *t)
{
    for (size_t i = 0; i < t->nbuckets; i++)
        for (struct entry *e = t->bucket[i], *next; e; e = next) {
            next = e->next;
            free(e->key);
            free(e->value);
            free(e);
        }
    free(t->bucket);
    *t = (struct table){0};
}

/* ---- the request, as the generator hands it over ------------------------------------ */

struct request {
    uint64_t id;
    unsigned worker;        /* the one that owns its session */
    size_t len;
    char text[];            /* len bytes: request line, headers, body */
};

NOINLINE static struct request *request_new(uint64_t id, size_t len)
{
    struct request *r = must(malloc(sizeof *r + len + 1));
    r->id = id;
    r->len = len;
    r->text[len] = '\0';
    return r;
}

static void request_free(struct request *r) { free(r); }

/* ---- generator -------------------------------------------------------------------- */

static const char *const WORDS[] = {
    "red", "blue", "shoes", "jacket", "wool", "linen", "summer", "winter", "kids", "boots",
    "scarf", "hat", "sale", "organic", "cotton", "leather", "running", "trail", "rain", "bag",
};
static const char *const AGENTS[] = {
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "curl/8.5.0",
    "shop-app/3.2 (Android 14)",
};
static const char *const LANGUAGES[] = { "en-US,en;q=0.9", "de-DE,de;q=0.8,en;q=0.5", "fr-FR,fr;q=0.9", "ja,en;q=0.3" };
static const char *const STATIC_FILES[] = {
    "/static/app.js", "/static/app.css", "/static/logo.svg", "/static/vendor.js",
    "/static/fonts.css", "/static/icons.svg", "/static/checkout.js", "/favicon.ico",
};
#define NSTATIC (sizeof STATIC_FILES / sizeof *STATIC_FILES)
#define COUNT(a) (sizeof (a) / sizeof *(a))

struct generator {
    struct rng rng;
    uint32_t online[64];    /* visitors browsing now: their requests come in bursts */
    uint64_t requests;
    unsigned nworkers;
    struct worker *workers; /* a request goes to the inbox of workers[request->worker] */
};

/* A visitor who comes online: a few regulars come back most often. */
static uint32_t new_visitor(struct rng *r)
{
    double u = rng_unit(r);
    return (uint32_t)(SESSIONS * u * u * u);
}

/* The session of the next request: one of the visitors online, who may then
 * leave for another. */
static uint32_t pick_session(struct generator *g)
{
    uint32_t *v = &g->online[rng_below(&g->rng, COUNT(g->online))];
    uint32_t session = *v;
    if (!rng_below(&g->rng, 8)) *v = new_visitor(&g->rng);
    return session;
}

/* Makes up one request: which page, its headers, its body. */
NOINLINE static struct request *generate_request(struct generator *g, uint64_t id)
{
    struct rng *r = &g->rng;
    char head[4096], line[512];
    size_t n = 0, body_len = 0;
    int kind = (int)rng_below(r, 1000);
    uint32_t session = pick_session(g);
    uint64_t x = rng_next(r);   /* bits for the request line (one draw: the order is fixed) */
    enum { NO_BODY, FORM, EVENTS, BINARY } body_kind = NO_BODY;
    const char *ctype = NULL;

#define ADD(...) (n += (size_t)snprintf(head + n, sizeof head - n, __VA_ARGS__))
    if (kind < 420) {                       /* search */
        ADD("GET /search?q=%s+%s&page=%u&sort=%s HTTP/1.1\r\n", WORDS[x % COUNT(WORDS)],
            WORDS[(x >> 8) % COUNT(WORDS)], 1 + (unsigned)(x >> 16) % 5, x >> 63 ? "price" : "relevance");
    } else if (kind < 690) {                /* product page */
        ADD("GET /item/%u?ref=%s HTTP/1.1\r\n", (unsigned)(x % 5000), x >> 63 ? "search" : "home");
    } else if (kind < 840) {                /* asset */
        ADD("GET %s HTTP/1.1\r\n", STATIC_FILES[x % NSTATIC]);
    } else if (kind < 930) {                /* add to cart: a form */
        ADD("POST /cart/add HTTP/1.1\r\n");
        body_kind = FORM;
        ctype = "application/x-www-form-urlencoded";
        body_len = (size_t)snprintf(line, sizeof line, "item=%u&qty=%u&csrf=%016" PRIx64,
                                    (unsigned)(x % 5000), 1 + (unsigned)(x >> 32) % 3, rng_next(r));
    } else if (kind < 975) {                /* a batch of analytics events */
        ADD("POST /api/events HTTP/1.1\r\n");
        body_kind = EVENTS;
        ctype = "text/plain";
        body_len = 1024 + x % (5 << 10);
    } else if (kind < 978) {                /* an upload: 16 KiB to 1 MiB */
        ADD("POST /upload HTTP/1.1\r\n");
        body_kind = BINARY;
        ctype = "application/octet-stream";
        size_t base = (size_t)16 << (10 + x % 6);
        body_len = base + (x >> 8) % base;
    } else {                                /* a page that does not exist */
        ADD("GET /old/%%7Euser%u/index.html HTTP/1.1\r\n", (unsigned)(x % 100));
    }

    ADD("Host: shop.example.com\r\nUser-Agent: %s\r\n", AGENTS[rng_below(r, COUNT(AGENTS))]);
    ADD("Cookie: session=s%06" PRIu32 "; theme=%s\r\n", session, rng_below(r, 3) ? "light" : "dark");
    ADD("X-Request-Id: %016" PRIx64 "\r\n", rng_next(r));
    if (rng_below(r, 4)) ADD("Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n");
    if (rng_below(r, 4)) ADD("Accept-Language: %s\r\n", LANGUAGES[rng_below(r, COUNT(LANGUAGES))]);
    if (rng_below(r, 2)) ADD("Accept-Encoding: gzip, deflate, br\r\n");
    if (rng_below(r, 2)) ADD("Connection: keep-alive\r\n");
    if (rng_below(r, 3)) ADD("Referer: https://shop.example.com/item/%u\r\n", rng_below(r, 5000));
    if (rng_below(r, 3)) {
        x = rng_next(r);
        ADD("X-Forwarded-For: 10.%u.%u.%u\r\n", (unsigned)(x & 255), (unsigned)(x >> 8 & 255), (unsigned)(x >> 16 & 255));
    }
    if (!rng_below(r, 5)) ADD("Cache-Control: no-cache\r\n");
    for (unsigned i = rng_below(r, 4); i > 0; i--)
        ADD("X-Trace-%u: %016" PRIx64 "\r\n", i, rng_next(r));
    if (!rng_below(r, 200)) ADD("this line is not a header\r\n");   /* a broken client */

    if (ctype) ADD("Content-Type: %s\r\nContent-Length: %zu\r\n", ctype, body_len);
    ADD("\r\n");
#undef ADD

    struct request *req = request_new(id, n + body_len);
    req->worker = session % g->nworkers;
    memcpy(req->text, head, n);
    char *body = req->text + n;
    if (body_kind == FORM) {
        memcpy(body, line, body_len);
    } else if (body_kind == EVENTS) {
        size_t at = 0;                      /* event lines, cut at body_len */
        while (at < body_len) {
            x = rng_next(r);
            int k = snprintf(line, sizeof line, "type=%s&item=%u&ms=%u\n",
                             x % 3 ? "view" : "click", (unsigned)(x >> 8) % 5000, (unsigned)(x >> 32) % 90000);
            size_t take = (size_t)k < body_len - at ? (size_t)k : body_len - at;
            memcpy(body + at, line, take);
            at += take;
        }
    } else if (body_kind == BINARY) {
        for (size_t at = 0; at < body_len; at += 8) {   /* "binary" data */
            x = rng_next(r);
            memcpy(body + at, &x, body_len - at < 8 ? body_len - at : 8);
        }
    }
    return req;
}


/* ---- sessions: each worker's LRU cache ------------------------------------------------ */

struct session {
    struct session *hnext;              /* hash chain */
    struct session *prev, *next;        /* LRU list, most recent first */
    uint32_t number;
    char id[16];
    char csrf[24];
    uint32_t viewed[32];                /* recently viewed items, a ring */
    unsigned nviewed, requests;
    uint32_t *cart;                     /* item numbers, grown by realloc */
    size_t ncart, cart_cap;
    char *last_page;                    /* the last search page, for "back" */
    size_t last_page_len;
};

struct session_cache {
    struct session *bucket[1024];
    struct session *newest, *oldest;
    size_t count;
};

struct stats {
    uint64_t requests, response_bytes, checksum, status[6];
    uint64_t sessions_created, sessions_evicted, cart_items, events, upload_bytes;
    uint64_t leaked, leaked_bytes;
};
enum { S200, S201, S204, S303, S400, S404 };
static const int STATUS_CODE[] = { 200, 201, 204, 303, 400, 404 };
static const char *const STATUS_TEXT[] = { "OK", "Created", "No Content", "See Other", "Bad Request", "Not Found" };

struct worker {
    pthread_t thread;
    struct queue inbox;
    struct queue *log;
    struct table headers, params;       /* of the current request */
    struct session_cache sessions;
    struct stats stats;
};

/* Global so that the sessions left at exit stay reachable (valgrind: "still
 * reachable", not lost). */
static struct worker workers[MAX_WORKERS];

static void lru_unlink(struct session_cache *c, struct session *s)
{
    if (s->prev) s->prev->next = s->next; else c->newest = s->next;
    if (s->next) s->next->prev = s->prev; else c->oldest = s->prev;
}

static void lru_push_front(struct session_cache *c, struct session *s)
{
    s->prev = NULL;
    s->next = c->newest;
    if (c->newest) c->newest->prev = s; else c->oldest = s;
    c->newest = s;
}

NOINLINE static void session_free(struct session *s)
{
    free(s->cart);
    free(s->last_page);
    free(s);
}

/* Drops the least recently used session to make room. */
NOINLINE static void session_evict(struct worker *w)
{
    struct session_cache *c = &w->sessions;
    struct session *s = c->oldest;
    lru_unlink(c, s);
    struct session **p = &c->bucket[s->number % COUNT(c->bucket)];
    while (*p != s) p = &(*p)->hnext;
    *p = s->hnext;
    c->count--;
    w->stats.sessions_evicted++;
    session_free(s);
}

NOINLINE static struct session *session_create(struct worker *w, uint32_t number)
{
    struct session_cache *c = &w->sessions;
    if (c->count == SESSION_CACHE) session_evict(w);
    struct session *s = must(calloc(1, sizeof *s));
    s->number = number;
    snprintf(s->id, sizeof s->id, "s%06" PRIu32, number);
    snprintf(s->csrf, sizeof s->csrf, "%016" PRIx64, fnv1a(s->id, strlen(s->id), FNV_START));
    struct session **head = &c->bucket[number % COUNT(c->bucket)];
    s->hnext = *head;
    *head = s;
    lru_push_front(c, s);
    c->count++;
    w->stats.sessions_created++;
    return s;
}

/* The session named by the cookie, made if it is new or was evicted. */
NOINLINE static struct session *session_lookup(struct worker *w, const char *cookie)
{
    const char *at = cookie ? strstr(cookie, "session=s") : NULL;
    uint32_t number = at ? (uint32_t)strtoul(at + 9, NULL, 10) : 0;
    struct session_cache *c = &w->sessions;
    for (struct session *s = c->bucket[number % COUNT(c->bucket)]; s; s = s->hnext)
        if (s->number == number) {
            lru_unlink(c, s);
            lru_push_front(c, s);
            return s;
        }
    return session_create(w, number);
}

NOINLINE static void session_cart_add(struct session *s, uint32_t item)
{
    if (s->ncart == s->cart_cap) {
        s->cart_cap = s->cart_cap ? s->cart_cap * 2 : 4;
        s->cart = must(realloc(s->cart, s->cart_cap * sizeof *s->cart));
    }
    s->cart[s->ncart++] = item;
}

/* Keeps a copy of the page, so that "back" needs no new search: this is what
 * makes the session cache big. */
NOINLINE static void session_remember_page(struct session *s, const struct buffer *page)
{
    free(s->last_page);
    s->last_page = must(malloc(page->len));
    memcpy(s->last_page, page->data, page->len);
    s->last_page_len = page->len;
}

/* ---- parsing -------------------------------------------------------------------------- */

struct parsed {
    const char *method;
    char *path;                 /* decoded */
    const char *query, *body;
    size_t query_len, body_len;
};

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes %XX and '+' in place; returns the new length. */
static size_t url_decode_inplace(char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') s[o++] = ' ';
        else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            s[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else s[o++] = s[i];
    }
    s[o] = '\0';
    return o;
}

NOINLINE static char *url_decode(const char *s, size_t n)
{
    char *d = must(strndup(s, n));
    url_decode_inplace(d, n);
    return d;
}

/* "METHOD PATH[?QUERY] HTTP/1.x\r\n"; returns where the headers start, or NULL. */
NOINLINE static const char *parse_request_line(struct parsed *p, const char *text)
{
    const char *sp = strchr(text, ' ');
    const char *eol = strstr(text, "\r\n");
    if (!sp || !eol || sp > eol) return NULL;
    p->method = strncmp(text, "GET ", 4) == 0 ? "GET" : strncmp(text, "POST ", 5) == 0 ? "POST" : NULL;
    const char *target = sp + 1, *end = memchr(target, ' ', (size_t)(eol - target));
    if (!p->method || !end || strncmp(end, " HTTP/1.", 8) != 0) return NULL;
    const char *q = memchr(target, '?', (size_t)(end - target));
    p->path = url_decode(target, (size_t)((q ? q : end) - target));
    p->query = q ? q + 1 : end;
    p->query_len = (size_t)(end - p->query);
    return eol + 2;
}

/* "Name: value\r\n" lines up to an empty line; returns where the body starts,
 * or NULL if a line is not a header. */
NOINLINE static const char *parse_headers(struct table *t, const char *at)
{
    for (;;) {
        const char *eol = strstr(at, "\r\n");
        if (!eol) return NULL;
        if (eol == at) return eol + 2;
        const char *colon = memchr(at, ':', (size_t)(eol - at));
        if (!colon || colon == at) return NULL;
        const char *v = colon + 1;
        while (v < eol && *v == ' ') v++;
        header_table_put(t, at, (size_t)(colon - at), v, (size_t)(eol - v));
        at = eol + 2;
    }
}

/* "k=v&k=v" into the table, values decoded. */
NOINLINE static void parse_query_string(struct table *t, const char *s, size_t n)
{
    const char *end = s + n;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        if (!amp) amp = end;
        const char *eq = memchr(s, '=', (size_t)(amp - s));
        if (eq && eq > s) {
            size_t vlen = (size_t)(amp - eq - 1);
            url_decode_inplace(header_table_put(t, s, (size_t)(eq - s), eq + 1, vlen), vlen);
        }
        s = amp + 1;
    }
}

/* ---- rendering ------------------------------------------------------------------------ */

struct static_file { const char *path; char *data; size_t len; };
static struct static_file static_files[NSTATIC];

static void static_files_load(void)
{
    struct rng r = { 7 };
    for (size_t i = 0; i < NSTATIC; i++) {
        size_t len = 2048 + rng_below(&r, 40 << 10);
        char *d = must(malloc(len));
        for (size_t j = 0; j < len; j++) d[j] = (char)('a' + (j * 7 + i) % 26);
        static_files[i] = (struct static_file){ STATIC_FILES[i], d, len };
    }
}

static void static_files_free(void)
{
    for (size_t i = 0; i < NSTATIC; i++) free(static_files[i].data);
}

NOINLINE static void render_search_results(struct buffer *body, const char *q, unsigned page, int by_price)
{
    uint64_t h = fnv1a(q, strlen(q), page);
    unsigned results = 10 + (unsigned)(h % 90);
    buffer_printf(body, "<!doctype html>\n<html><head><title>%s - search</title>"
                  "<link rel=\"stylesheet\" href=\"/static/app.css\"></head>\n<body><h1>Results for \"%s\"</h1>\n<ol>\n", q, q);
    for (unsigned i = 0; i < results; i++) {
        h = h * 6364136223846793005u + 1442695040888963407u;
        unsigned item = (unsigned)(h >> 40) % 5000, cents = 500 + (unsigned)(h >> 20) % 20000;
        buffer_printf(body, "<li class=\"result\"><a href=\"/item/%u?ref=search\"><img src=\"/img/%u/thumb.jpg\" "
                      "alt=\"\">%s item %u</a> <span class=\"price\">%u.%02u EUR</span> "
                      "<span class=\"stars\">%u/5</span> <button data-item=\"%u\">Add to cart</button></li>\n",
                      item, item, q, item, cents / 100, cents % 100, (unsigned)(h >> 60) % 6, item);
    }
    buffer_printf(body, "</ol>\n<p>Page %u, sorted by %s.</p></body></html>\n", page, by_price ? "price" : "relevance");
}

NOINLINE static void render_item_page(struct buffer *body, unsigned item, const struct session *s)
{
    buffer_printf(body, "<!doctype html>\n<html><head><title>Item %u</title></head>\n<body><h1>Item %u</h1>\n", item, item);
    for (unsigned i = 0; i < 24; i++)
        buffer_printf(body, "<p class=\"spec\">Property %u of item %u: value %u, measured to the standard.</p>\n",
                      i, item, (item * 31 + i * 17) % 1000);
    buffer_printf(body, "<h2>You recently viewed</h2>\n<ul>\n");
    for (unsigned i = 0; i < s->nviewed && i < COUNT(s->viewed); i++)
        buffer_printf(body, "<li><a href=\"/item/%u\">item %u</a></li>\n", s->viewed[i], s->viewed[i]);
    buffer_printf(body, "</ul>\n<p>%zu items in your cart.</p></body></html>\n", s->ncart);
}

/* Status line and headers, then the body, copied in. */
NOINLINE static void render_response(struct buffer *out, int status, const char *ctype,
                                     const char *body, size_t body_len, const struct session *s,
                                     const char *request_id)
{
    buffer_printf(out, "HTTP/1.1 %d %s\r\nServer: shop/1.4\r\nX-Request-Id: %s\r\n"
                  "Content-Type: %s\r\nContent-Length: %zu\r\n",
                  STATUS_CODE[status], STATUS_TEXT[status], request_id, ctype, body_len);
    if (s && s->requests == 1) buffer_printf(out, "Set-Cookie: session=%s; HttpOnly\r\n", s->id);
    buffer_append(out, "\r\n", 2);
    buffer_append(out, body, body_len);
}

/* ---- logging ------------------------------------------------------------------------- */

struct log_record { size_t len; char line[]; };

/* One access-log line, handed to the logger thread, which frees it. */
__attribute__((format(printf, 2, 3)))
NOINLINE static void access_log(struct worker *w, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    struct log_record *rec = must(malloc(sizeof *rec + len + 1));
    rec->len = len;
    memcpy(rec->line, line, len + 1);
    queue_push(w->log, rec);
}

/* Logs that a request was slow, with a dump of it for debugging.
 * The deliberate leak of the demo: the dump is never freed. */
NOINLINE static void log_slow_request(struct worker *w, const struct request *req, const char *what)
{
    size_t keep = req->len < SLOW_DUMP_MAX ? req->len : SLOW_DUMP_MAX;
    char *dump = must(malloc(keep + 128));
    int n = snprintf(dump, 128, "slow request %" PRIu64 " (%s, %zu bytes), first %zu bytes:\n",
                     req->id, what, req->len, keep);
    memcpy(dump + n, req->text, keep);
    access_log(w, "%.*s", n - 1, dump);
    w->stats.leaked++;
    w->stats.leaked_bytes += keep + 128;
    /* forgot: free(dump); */
}

struct logger {
    pthread_t thread;
    struct queue queue;
    char file[64 << 10];        /* the log "file": written round and round */
    size_t at;
    uint64_t lines, bytes;
};

static void *logger_main(void *arg)
{
    struct logger *l = arg;
    struct log_record *rec;
    while ((rec = queue_pop(&l->queue))) {
        if (l->at + rec->len + 1 > sizeof l->file) l->at = 0;
        memcpy(l->file + l->at, rec->line, rec->len);
        l->file[l->at + rec->len] = '\n';
        l->at += rec->len + 1;
        l->lines++;
        l->bytes += rec->len + 1;
        free(rec);
    }
    return NULL;
}

/* ---- handlers --------------------------------------------------------------------------- */

/* What a handler answers: a body it rendered, or fixed bytes it points to. */
struct reply { int status; const char *ctype; struct buffer body; const char *fixed; size_t fixed_len; };

NOINLINE static void handle_search(struct worker *w, struct session *s, struct reply *rep)
{
    const char *q = header_table_get(&w->params, "q");
    const char *page = header_table_get(&w->params, "page");
    const char *sort = header_table_get(&w->params, "sort");
    render_search_results(&rep->body, q ? q : "", page ? (unsigned)atoi(page) : 1, sort && !strcmp(sort, "price"));
    session_remember_page(s, &rep->body);
    rep->status = S200;
}

NOINLINE static void handle_item(const struct parsed *p, struct session *s, struct reply *rep)
{
    unsigned item = (unsigned)strtoul(p->path + 6, NULL, 10);
    s->viewed[s->nviewed++ % COUNT(s->viewed)] = item;
    render_item_page(&rep->body, item, s);
    rep->status = S200;
}

NOINLINE static void handle_static(const struct parsed *p, struct reply *rep)
{
    for (size_t i = 0; i < NSTATIC; i++)
        if (strcmp(p->path, static_files[i].path) == 0) {
            rep->status = S200;
            rep->ctype = strstr(p->path, ".js") ? "text/javascript" : strstr(p->path, ".css") ? "text/css"
                      : strstr(p->path, ".ico") ? "image/x-icon" : "image/svg+xml";
            rep->fixed = static_files[i].data;
            rep->fixed_len = static_files[i].len;
            return;
        }
    rep->status = S404;
}

NOINLINE static void handle_cart_add(struct worker *w, const struct parsed *p, struct session *s, struct reply *rep)
{
    parse_query_string(&w->params, p->body, p->body_len);
    const char *item = header_table_get(&w->params, "item");
    const char *qty = header_table_get(&w->params, "qty");
    const char *csrf = header_table_get(&w->params, "csrf");
    if (!item || !qty || !csrf) { rep->status = S400; return; }
    for (int n = atoi(qty); n > 0; n--) session_cart_add(s, (uint32_t)atoi(item));
    w->stats.cart_items += (uint64_t)atoi(qty);
    rep->status = S303;
    rep->fixed = "<a href=\"/cart\">See your cart</a>\n";
    rep->fixed_len = strlen(rep->fixed);
}

/* Each line is an event in query-string form: parsed into the table, counted,
 * and the table cleared for the next line. */
NOINLINE static void handle_events(struct worker *w, const struct parsed *p, struct reply *rep)
{
    const char *at = p->body, *end = p->body + p->body_len;
    while (at < end) {
        const char *nl = memchr(at, '\n', (size_t)(end - at));
        if (!nl) nl = end;
        parse_query_string(&w->params, at, (size_t)(nl - at));
        if (header_table_get(&w->params, "type")) w->stats.events++;
        header_table_clear(&w->params);
        at = nl + 1;
    }
    rep->status = S204;
}

/* Keeps the upload in its own buffer (a real server would write it out). */
NOINLINE static void store_upload(struct worker *w, const struct request *req, const struct parsed *p, struct reply *rep)
{
    char *copy = must(malloc(p->body_len));
    memcpy(copy, p->body, p->body_len);
    uint64_t sum = fnv1a(copy, p->body_len, FNV_START);
    free(copy);
    w->stats.upload_bytes += p->body_len;
    if (p->body_len > SLOW_UPLOAD_BYTES) log_slow_request(w, req, "upload");
    buffer_printf(&rep->body, "{\"stored\": %zu, \"fnv1a\": \"%016" PRIx64 "\"}\n", p->body_len, sum);
    rep->status = S201;
    rep->ctype = "application/json";
}

/* Counts the response's bytes and checksums them, as if it went out. */
NOINLINE static void send_response(struct worker *w, const struct buffer *out)
{
    w->stats.response_bytes += out->len;
    w->stats.checksum += fnv1a(out->data, out->len, FNV_START);
}

NOINLINE static void handle_request(struct worker *w, struct request *req)
{
    struct parsed p = {0};
    struct reply rep = { .status = S400, .ctype = "text/html; charset=utf-8" };
    struct session *s = NULL;
    const char *at = parse_request_line(&p, req->text);
    if (at) at = parse_headers(&w->headers, at);
    if (at) {
        p.body = at;
        p.body_len = req->len - (size_t)(at - req->text);
        const char *cl = header_table_get(&w->headers, "content-length");
        if (cl && strtoull(cl, NULL, 10) != p.body_len) at = NULL;
    }
    if (at) {
        s = session_lookup(w, header_table_get(&w->headers, "cookie"));
        s->requests++;
        int get = strcmp(p.method, "GET") == 0;
        parse_query_string(&w->params, p.query, p.query_len);
        if (get && strcmp(p.path, "/search") == 0) {
            handle_search(w, s, &rep);
        } else if (get && strncmp(p.path, "/item/", 6) == 0) {
            handle_item(&p, s, &rep);
        } else if (get) {
            handle_static(&p, &rep);
        } else if (strcmp(p.path, "/cart/add") == 0) {
            handle_cart_add(w, &p, s, &rep);
        } else if (strcmp(p.path, "/api/events") == 0) {
            handle_events(w, &p, &rep);
        } else if (strcmp(p.path, "/upload") == 0) {
            store_upload(w, req, &p, &rep);
        } else {
            rep.status = S404;
        }
    }
    if (rep.status == S404 || rep.status == S400) {
        buffer_printf(&rep.body, "<html><body><h1>%d %s</h1><p>%s</p></body></html>\n", STATUS_CODE[rep.status],
                      STATUS_TEXT[rep.status], p.path ? p.path : "malformed request");
    }

    struct buffer out = {0};
    const char *rid = header_table_get(&w->headers, "x-request-id");
    if (rep.fixed) render_response(&out, rep.status, rep.ctype, rep.fixed, rep.fixed_len, s, rid ? rid : "-");
    else render_response(&out, rep.status, rep.ctype, rep.body.data ? rep.body.data : "", rep.body.len, s, rid ? rid : "-");
    send_response(w, &out);
    w->stats.requests++;
    w->stats.status[rep.status]++;
    const char *agent = header_table_get(&w->headers, "user-agent");
    access_log(w, "10.0.0.%u - %s [req %" PRIu64 "] \"%s %s\" %d %zu \"%s\"", (unsigned)(req->id % 250),
               s ? s->id : "-", req->id, p.method ? p.method : "-", p.path ? p.path : "-",
               STATUS_CODE[rep.status], out.len, agent ? agent : "-");

    buffer_free(&out);
    buffer_free(&rep.body);
    free(p.path);
    header_table_clear(&w->headers);
    header_table_clear(&w->params);
    request_free(req);
}

static void *generator_main(void *arg)
{
    struct generator *g = arg;
    for (size_t i = 0; i < COUNT(g->online); i++) g->online[i] = new_visitor(&g->rng);
    for (uint64_t id = 1; id <= g->requests; id++) {
        struct request *req = generate_request(g, id);
        queue_push(&g->workers[req->worker].inbox, req);
    }
    for (unsigned w = 0; w < g->nworkers; w++) queue_push(&g->workers[w].inbox, NULL);
    return NULL;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct request *req;
    while ((req = queue_pop(&w->inbox))) handle_request(w, req);
    return NULL;
}

/* ---- main ---------------------------------------------------------------------------- */

static unsigned long parse_count(const char *s, const char *what, unsigned long max)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v == 0 || v > max || *s == '-') {
        fprintf(stderr, "service: %s must be a number from 1 to %lu, not '%s'\n"
                "usage: service [REQUESTS [WORKERS]]\n", what, max, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc > 3) {
        fprintf(stderr, "usage: service [REQUESTS [WORKERS]]   (defaults: %d, %d)\n", DEFAULT_REQUESTS, DEFAULT_WORKERS);
        return 2;
    }
    unsigned long requests = argc > 1 ? parse_count(argv[1], "REQUESTS", 100000000) : DEFAULT_REQUESTS;
    unsigned nworkers = argc > 2 ? (unsigned)parse_count(argv[2], "WORKERS", MAX_WORKERS) : DEFAULT_WORKERS;

    static_files_load();
    static struct logger logger;            /* static: its 64 KiB log file */
    queue_init(&logger.queue);
    struct generator gen = { .rng = { 20260101 }, .requests = requests, .nworkers = nworkers, .workers = workers };
    pthread_t generator;
    int err = pthread_create(&logger.thread, NULL, logger_main, &logger);
    for (unsigned i = 0; i < nworkers && !err; i++) {
        workers[i].log = &logger.queue;
        queue_init(&workers[i].inbox);
        err = pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
    }
    if (!err) err = pthread_create(&generator, NULL, generator_main, &gen);
    if (err) {
        errno = err;
        die("pthread_create");
    }
    pthread_join(generator, NULL);
    struct stats t = {0};
    uint64_t cached = 0, cached_bytes = 0;
    for (unsigned i = 0; i < nworkers; i++) {
        struct worker *w = &workers[i];
        pthread_join(w->thread, NULL);
        queue_destroy(&w->inbox);
        cached += w->sessions.count;
        for (struct session *s = w->sessions.newest; s; s = s->next)
            cached_bytes += sizeof *s + s->cart_cap * sizeof *s->cart + s->last_page_len;
        t.requests += w->stats.requests;
        t.response_bytes += w->stats.response_bytes;
        t.checksum += w->stats.checksum;
        for (size_t k = 0; k < COUNT(t.status); k++) t.status[k] += w->stats.status[k];
        t.sessions_created += w->stats.sessions_created;
        t.sessions_evicted += w->stats.sessions_evicted;
        t.cart_items += w->stats.cart_items;
        t.events += w->stats.events;
        t.upload_bytes += w->stats.upload_bytes;
        t.leaked += w->stats.leaked;
        t.leaked_bytes += w->stats.leaked_bytes;
    }
    queue_push(&logger.queue, NULL);
    pthread_join(logger.thread, NULL);
    queue_destroy(&logger.queue);
    static_files_free();

    printf("service: %" PRIu64 " requests served by %u workers\n", t.requests, nworkers);
    printf("  responses   %" PRIu64 " bytes, checksum %016" PRIx64 "\n", t.response_bytes, t.checksum);
    printf("  statuses   ");
    for (size_t k = 0; k < COUNT(t.status); k++) printf(" %d: %" PRIu64 "%s", STATUS_CODE[k], t.status[k], k + 1 < COUNT(t.status) ? "," : "\n");
    printf("  work        %" PRIu64 " events counted, %" PRIu64 " items added to carts, %" PRIu64 " bytes uploaded\n",
           t.events, t.cart_items, t.upload_bytes);
    printf("  sessions    %" PRIu64 " created, %" PRIu64 " evicted, %" PRIu64 " cached at exit in %" PRIu64
           " bytes (left for exit to reclaim)\n", t.sessions_created, t.sessions_evicted, cached, cached_bytes);
    printf("  access log  %" PRIu64 " lines, %" PRIu64 " bytes (written by the logger thread)\n", logger.lines, logger.bytes);
    printf("  leaked      %" PRIu64 " slow-request dumps, %" PRIu64 " bytes (log_slow_request never frees them: the demo's bug)\n",
           t.leaked, t.leaked_bytes);
    return 0;
}
