/* Header-only builders of the three reference networks of METHOD §16, as
 * picpq_net descriptions: ResNet-56 and VGG-16-BN for CIFAR-10, and the
 * stride-1 MobileNetV2 variant for CIFAR-100. Test material, also read by
 * the plan example and bench/plan (both build with -Itests).
 *
 * Each builder appends to an EMPTY net, connects every conv to the next one
 * (METHOD §5.1 next_conv l -> l+1), couples the chains of METHOD §5.3, and
 * returns the first failing status (the net is then partly built: free it). */
#ifndef PICPQ_REFERENCE_NETS_H
#define PICPQ_REFERENCE_NETS_H

#include "picpq.h"

/* Append a conv fed by layer `prev` (-1: the image) and return its id. */
static inline picpq_status fixture_conv(picpq_net *net, int32_t prev, int64_t in, int64_t out,
                                        int64_t k, int64_t groups, int64_t size, int32_t *id)
{
    picpq_status s = picpq_net_add_conv(net, in, out, k, k, groups, size, size, id);
    if (s == PICPQ_OK && prev >= 0) s = picpq_net_connect(net, prev, *id);
    return s;
}

/* Append the classifier fed by `prev` after global pooling. */
static inline picpq_status fixture_linear(picpq_net *net, int32_t prev, int64_t in, int64_t out,
                                          int32_t *id)
{
    picpq_status s = picpq_net_add_linear(net, in, out, id);
    if (s == PICPQ_OK && prev >= 0) s = picpq_net_connect(net, prev, *id);
    return s;
}

/* ResNet-56 (CIFAR): 55 convs (ids 0..54) + FC 64 -> num_classes (id 55).
 * One chain: the stem and every block's conv2 (even ids 0, 2, ..., 54). */
static inline picpq_status fixture_resnet56(picpq_net *net, int64_t num_classes)
{
    static const int64_t width[3] = {16, 32, 64}, size[3] = {32, 16, 8};
    picpq_status s;
    int32_t id = -1, prev;
    int st, b;
    if ((s = fixture_conv(net, -1, 3, 16, 3, 1, 32, &id)) != PICPQ_OK) return s;
    for (st = 0; st < 3; st++) {
        for (b = 0; b < 9; b++) {
            int64_t in = (st > 0 && b == 0) ? width[st - 1] : width[st];
            prev = id;
            if ((s = fixture_conv(net, prev, in, width[st], 3, 1, size[st], &id)) != PICPQ_OK)
                return s;
            prev = id;
            if ((s = fixture_conv(net, prev, width[st], width[st], 3, 1, size[st], &id)) !=
                PICPQ_OK)
                return s;
            if ((s = picpq_net_couple(net, 0, id)) != PICPQ_OK) return s;
        }
    }
    prev = id;
    return fixture_linear(net, prev, 64, num_classes, &id);
}

/* VGG-16-BN (CIFAR): 13 convs (ids 0..12), FC 512 -> 512 (13), FC 512 -> 10 (14).
 * No chains. */
static inline picpq_status fixture_vgg16(picpq_net *net)
{
    static const int64_t width[13] = {64,  64,  128, 128, 256, 256, 256,
                                      512, 512, 512, 512, 512, 512};
    static const int64_t size[13] = {32, 32, 16, 16, 8, 8, 8, 4, 4, 4, 2, 2, 2};
    picpq_status s;
    int32_t id = -1, prev = -1;
    int64_t in = 3;
    int l;
    for (l = 0; l < 13; l++) {
        if ((s = fixture_conv(net, prev, in, width[l], 3, 1, size[l], &id)) != PICPQ_OK) return s;
        prev = id;
        in = width[l];
    }
    if ((s = fixture_linear(net, prev, 512, 512, &id)) != PICPQ_OK) return s;
    prev = id;
    return fixture_linear(net, prev, 512, 10, &id);
}

/* MobileNetV2 (CIFAR-100, stride-1 stem): 52 convs (ids 0..51) + FC 1280 -> 100
 * (id 52). Chains: every depthwise conv with the conv before it; the
 * projection convs of consecutive blocks joined by an identity residual. */
static inline picpq_status fixture_mobilenetv2(picpq_net *net)
{
    static const int64_t cfg[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 1},  {6, 32, 3, 2}, {6, 64, 4, 1},
                                      {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    picpq_status s;
    int32_t id = -1, prev, last_proj = -1;
    int64_t in = 32, size = 32;
    int c, b;
    if ((s = fixture_conv(net, -1, 3, 32, 3, 1, 32, &id)) != PICPQ_OK) return s;
    last_proj = id;
    for (c = 0; c < 7; c++) {
        for (b = 0; b < cfg[c][2]; b++) {
            int64_t t = cfg[c][0], out = cfg[c][1], hidden = in * t, in_size = size;
            int residual = b > 0; /* stride 1 and in == out exactly for the later blocks */
            int32_t dw_producer = id;
            if (b == 0 && cfg[c][3] == 2) size /= 2; /* the depthwise conv strides */
            prev = id;
            if (t != 1) {
                if ((s = fixture_conv(net, prev, in, hidden, 1, 1, in_size, &id)) != PICPQ_OK)
                    return s;
                dw_producer = id;
            }
            prev = id;
            if ((s = fixture_conv(net, prev, hidden, hidden, 3, hidden, size, &id)) != PICPQ_OK ||
                (s = picpq_net_couple(net, dw_producer, id)) != PICPQ_OK)
                return s;
            prev = id;
            if ((s = fixture_conv(net, prev, hidden, out, 1, 1, size, &id)) != PICPQ_OK) return s;
            if (residual && (s = picpq_net_couple(net, last_proj, id)) != PICPQ_OK) return s;
            last_proj = id;
            in = out;
        }
    }
    prev = id;
    if ((s = fixture_conv(net, prev, 320, 1280, 1, 1, 8, &id)) != PICPQ_OK) return s;
    prev = id;
    return fixture_linear(net, prev, 1280, 100, &id);
}

#endif /* PICPQ_REFERENCE_NETS_H */
