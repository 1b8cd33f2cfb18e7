/* Writes the seed corpus of the search-state fuzzer (tests/fuzz/run.sh):
 * saved states at several points of a small search over fuzz_net(), each
 * prefixed with the harness's mode byte (0 = as is, 1 = CRC fixed up). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define PICPQ_EXPERIMENTAL /* picpq_search_tell_repeat */
#include "picpq.h"
#include "fuzz_net.h"

static void dump(const picpq_search *s, const char *dir, const char *name)
{
    size_t need;
    unsigned char *buf;
    char path[512];
    int mode;
    picpq_search_save(s, NULL, 0, &need);
    buf = malloc(need);
    picpq_search_save(s, buf, need, &need);
    for (mode = 0; mode < 2; mode++) {
        FILE *f;
        unsigned char m = (unsigned char)mode;
        snprintf(path, sizeof path, "%s/%s_%d", dir, name, mode);
        f = fopen(path, "wb");
        if (f == NULL) exit(1);
        fwrite(&m, 1, 1, f);
        fwrite(buf, 1, need, f);
        fclose(f);
    }
    free(buf);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "tests/fuzz/corpus_search";
    picpq_net *net = fuzz_net();
    picpq_search *s = NULL;
    double a[FUZZ_LAYERS], b[FUZZ_LAYERS];
    uint64_t id, ids[4];
    int g;
    picpq_search_create(net, 7, &s);
    picpq_search_set_int(s, PICPQ_SEARCH_POPULATION, 3);
    picpq_search_set_int(s, PICPQ_SEARCH_GENERATIONS, 12);
    dump(s, dir, "fresh");
    for (g = 0; g < 4; g++) picpq_search_ask(s, &ids[g], a, b, FUZZ_LAYERS);
    dump(s, dir, "pending4");
    picpq_search_tell(s, ids[2], 1.5);
    picpq_search_tell(s, ids[0], NAN);
    picpq_search_tell(s, ids[3], 0.5);
    dump(s, dir, "partial");
    picpq_search_tell(s, ids[1], 2.5);
    for (g = 0; picpq_search_ask(s, &id, a, b, FUZZ_LAYERS) == PICPQ_OK; g++)
        if (g % 3) picpq_search_tell(s, id, a[0]);
        else picpq_search_tell_repeat(s, id, a[0]); /* a network scored before */
    dump(s, dir, "done");
    picpq_search_free(s);
    picpq_net_free(net);
    return 0;
}
