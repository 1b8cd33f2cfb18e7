/* libFuzzer harness for picpq_lub_read (tests/fuzz/run.sh lub_read).
 *
 * Input: the --lub text itself, read against a net of three prunable convs
 * and one frozen one. Whatever the bytes, read returns a status and leaves
 * a and b untouched on error; text it accepts writes back (lub_write) and
 * reads again to the very same doubles. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PICPQ_EXPERIMENTAL /* picpq_lub_read, picpq_lub_write */
#include "picpq.h"

#define LAYERS 4

static picpq_net *make_net(void)
{
    picpq_net *net = NULL;
    int32_t id, l;
    if (picpq_net_create(&net) != PICPQ_OK) return NULL;
    for (l = 0; l < LAYERS; l++) picpq_net_add_conv(net, 4, 4, 3, 3, 1, 4, 4, &id);
    picpq_net_set_prunable(net, 2, 0);
    return net;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static picpq_net *net;
    double a[LAYERS], b[LAYERS], a2[LAYERS], b2[LAYERS];
    char *text;
    size_t need;
    int l;
    if (net == NULL && (net = make_net()) == NULL) __builtin_trap();
    for (l = 0; l < LAYERS; l++) a[l] = b[l] = -12345;
    /* a copy of exactly `size` bytes, so that ASan sees any read past len */
    text = malloc(size ? size : 1);
    if (text == NULL) return 0;
    memcpy(text, data, size);
    if (picpq_lub_read(net, text, size, a, b, LAYERS) != PICPQ_OK) {
        for (l = 0; l < LAYERS; l++)
            if (a[l] != -12345 || b[l] != -12345) __builtin_trap();
        if (picpq_last_error()[0] == '\0') __builtin_trap();
        free(text);
        return 0;
    }
    free(text);
    if (memchr(data, '\0', size) != NULL) __builtin_trap(); /* a NUL is always refused */
    for (l = 0; l < LAYERS; l++)
        if (!isfinite(a[l]) || !isfinite(b[l])) __builtin_trap();
    if (a[2] != 1.0 || b[2] != 0.0) __builtin_trap(); /* the frozen layer */
    if (picpq_lub_write(net, a, b, LAYERS, NULL, 0, &need) != PICPQ_OK) __builtin_trap();
    text = malloc(need);
    if (text == NULL) return 0;
    if (picpq_lub_write(net, a, b, LAYERS, text, need, &need) != PICPQ_OK) __builtin_trap();
    if (strlen(text) + 1 != need) __builtin_trap();
    if (picpq_lub_read(net, text, need - 1, a2, b2, LAYERS) != PICPQ_OK) __builtin_trap();
    if (memcmp(a, a2, sizeof a) != 0 || memcmp(b, b2, sizeof b) != 0) __builtin_trap();
    free(text);
    return 0;
}
