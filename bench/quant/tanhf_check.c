/* Exhaustive check of the property the weight quantizer relies on: libm's
 * tanhf is monotone non-decreasing and odd over every non-negative float.
 * ~20 s; run.sh runs it when QUANT_TANHF_CHECK=1. Exit 1 on a violation. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    uint32_t u;
    float prev = 0;
    long nonmonotone = 0, nonodd = 0;
    for (u = 0; u < 0x7f800000u; u++) {
        float x, t;
        memcpy(&x, &u, sizeof x);
        t = tanhf(x);
        if (t < prev) nonmonotone++;
        if (tanhf(-x) != -t) nonodd++;
        prev = t;
    }
    printf("tanhf over all %u non-negative finite floats: %ld non-monotone steps, %ld non-odd "
           "values\n",
           0x7f800000u, nonmonotone, nonodd);
    return nonmonotone || nonodd;
}
