/* Bits from layer sparsities, then quantize, export and pack one layer's
 * weights, and report the model size before and after.
 *
 * The layers are VGG-16's 13 convs with the kept-filter counts of the
 * reference repository (METHOD §11.3); the weights are synthetic. */
#include <picpq.h>
#include <stdio.h>
#include <stdlib.h>

#define NL 13

static int fail(const char *what, picpq_status s)
{
    fprintf(stderr, "%s: %s (%s)\n", what, picpq_status_string(s), picpq_last_error());
    return 1;
}

int main(void)
{
    static const int64_t width[NL] = {64,  64,  128, 128, 256, 256, 256,
                                      512, 512, 512, 512, 512, 512};
    static const int64_t kept[NL] = {64, 64, 13, 128, 256, 26, 256, 512, 52, 512, 512, 52, 52};
    static const int32_t max_bits[NL] = {32, 8, 8, 8, 6, 6, 6, 4, 4, 4, 4, 4, 4};
    double s[NL];
    int32_t bits[NL], levels;
    int64_t numel[NL], full[NL], full_bytes, fp32_bytes, packed_bytes, shape[4];
    picpq_tensor *w = NULL;
    int8_t *codes = NULL;
    uint8_t *buf = NULL;
    float *data, magnitude;
    size_t need;
    picpq_status st;
    int32_t l, layer = 2;
    int64_t i, n;

    /* 1. layer sparsity = kept-filter ratio, bits = B - ceil(tau / s), tau = 1/6 */
    for (l = 0; l < NL; l++) {
        s[l] = (double)kept[l] / (double)width[l];
        numel[l] = 9 * kept[l] * (l ? kept[l - 1] : 3);
        full[l] = 9 * width[l] * (l ? width[l - 1] : 3);
    }
    if ((st = picpq_quant_bits_assign(NL, s, max_bits, 1.0 / 6, 2, bits)) != PICPQ_OK)
        return fail("bits_assign", st);
    printf("bits:");
    for (l = 0; l < NL; l++) printf(" %d", (int)bits[l]);
    printf("\n");

    /* 2. quantize one pruned layer's weights (13 x 64 x 3 x 3) */
    shape[0] = kept[layer];
    shape[1] = kept[layer - 1];
    shape[2] = shape[3] = 3;
    if ((st = picpq_tensor_create(PICPQ_F32, 4, shape, &w)) != PICPQ_OK)
        return fail("tensor_create", st);
    n = picpq_tensor_numel(w);
    data = picpq_tensor_data(w);
    srand(1);
    for (i = 0; i < n; i++) data[i] = ((float)rand() / (float)RAND_MAX - 0.5f) * 0.2f;

    /* 3. integer codes: fl32(code / levels) is exactly the quantized weight */
    codes = malloc((size_t)n);
    if (codes == NULL) return 1;
    if ((st = picpq_quant_weight_codes(w, bits[layer], codes, n, &levels, &magnitude)) != PICPQ_OK)
        return fail("weights_export", st);
    if ((st = picpq_quant_weights(w, bits[layer])) != PICPQ_OK) return fail("quantize_weights", st);
    for (i = 0; i < n; i++) {
        float back = magnitude * ((float)codes[i] / (float)levels);
        if (back != data[i]) {
            fprintf(stderr, "export mismatch at %lld\n", (long long)i);
            return 1;
        }
    }
    printf("layer %d: %lld weights at %d bits, codes in [-%d, %d], export exact\n", (int)layer,
           (long long)n, (int)bits[layer], (int)levels, (int)levels);

    /* 4. pack the codes and check the round trip */
    if ((st = picpq_quant_pack(codes, n, bits[layer], NULL, 0, &need)) != PICPQ_OK)
        return fail("pack_bits (size)", st);
    buf = malloc(need);
    if (buf == NULL) return 1;
    if ((st = picpq_quant_pack(codes, n, bits[layer], buf, need, NULL)) != PICPQ_OK)
        return fail("pack_bits", st);
    printf("layer %d: %lld bytes as float32, %zu bytes packed\n", (int)layer, (long long)(4 * n),
           need);

    /* 5. the whole conv stack, before and after */
    {
        int32_t b32[NL];
        for (l = 0; l < NL; l++) b32[l] = 32;
        if ((st = picpq_quant_packed_size(NL, full, b32, &full_bytes)) != PICPQ_OK ||
            (st = picpq_quant_packed_size(NL, numel, b32, &fp32_bytes)) != PICPQ_OK ||
            (st = picpq_quant_packed_size(NL, numel, bits, &packed_bytes)) != PICPQ_OK)
            return fail("packed_size", st);
    }
    printf("conv weights: %lld bytes (float32) -> pruned %lld bytes -> pruned and packed "
           "%lld bytes (%.1fx smaller)\n",
           (long long)full_bytes, (long long)fp32_bytes, (long long)packed_bytes,
           (double)full_bytes / (double)packed_bytes);

    free(buf);
    free(codes);
    picpq_tensor_free(w);
    return 0;
}
