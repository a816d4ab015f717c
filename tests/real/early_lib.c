/* early_lib.c — a shared library whose constructor allocates before main and
 * before any constructor of the program that links it (priority 101, the
 * earliest): malloc, calloc, realloc, posix_memalign, strdup. The program
 * (early_main.c) checks and frees that memory; the destructor frees the rest
 * after main has returned. */
#include <stdlib.h>
#include <string.h>

char *early_str;                  /* set by the constructor */
int *early_ints;
void *early_aligned;
int early_constructed;

__attribute__((constructor(101))) static void early_init(void)
{
    char *tmp = malloc(40);                       /* freed at once */
    strcpy(tmp, "temporary");
    early_str = strdup("allocated in a library constructor");
    early_ints = calloc(1000, sizeof *early_ints);
    for (int i = 0; i < 1000; i++) early_ints[i] = i * i;
    early_ints = realloc(early_ints, 200000 * sizeof *early_ints);   /* grows past 512 KiB */
    if (posix_memalign(&early_aligned, 4096, 3u << 20) == 0) memset(early_aligned, 7, 3u << 20);
    free(tmp);
    early_constructed = 1;
}

__attribute__((destructor(101))) static void early_fini(void)
{
    free(early_aligned);        /* after main returned: possibly after the allocator's own destructor */
    free(early_ints);
}
