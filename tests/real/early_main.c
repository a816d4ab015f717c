/* early_main.c — linked with early_lib.so: checks that the library's
 * constructor allocated before this program's constructors ran, and uses and
 * frees that memory. Prints deterministic lines; exit status 1 on a problem. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char *early_str;
extern int *early_ints;
extern void *early_aligned;
extern int early_constructed;

static int seen_in_constructor;

__attribute__((constructor(101))) static void main_init(void)
{
    seen_in_constructor = early_constructed;
    char *mine = malloc(123);     /* the program's own first allocation */
    free(mine);
}

int main(void)
{
    int ok = seen_in_constructor && early_str && early_ints && early_aligned;
    ok = ok && strcmp(early_str, "allocated in a library constructor") == 0;
    for (int i = 0; ok && i < 1000; i++) ok = early_ints[i] == i * i;
    ok = ok && ((uintptr_t)early_aligned & 4095) == 0 && ((unsigned char *)early_aligned)[(3u << 20) - 1] == 7;
    early_str = realloc(early_str, 100000);
    strcat(early_str, " and grown in main");
    printf("%s\n", early_str);
    free(early_str);
    early_ints[199999] = 1;
    printf("library constructor ran before the program's: %s\n", seen_in_constructor ? "yes" : "no");
    printf("early allocations intact: %s\n", ok ? "yes" : "no");
    return ok ? 0 : 1;
}
