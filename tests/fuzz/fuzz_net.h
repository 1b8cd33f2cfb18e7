/* The fixed net of the search-state fuzzer and of its seed corpus: three
 * 3x3 convs (4, 5, 6 filters; the second one frozen) and a classifier. */
#ifndef FUZZ_NET_H
#define FUZZ_NET_H

#include "picpq.h"

static picpq_net *fuzz_net(void)
{
    static const double fp0[4] = {0, 7, 3, 10}, fp2[6] = {1, 1.5, 4, 2, 8, 3};
    picpq_net *net = NULL;
    int32_t id;
    if (picpq_net_create(&net) != PICPQ_OK) return NULL;
    picpq_net_add_conv(net, 3, 4, 3, 3, 1, 8, 8, &id);
    picpq_net_add_conv(net, 4, 5, 3, 3, 1, 8, 8, &id);
    picpq_net_add_conv(net, 5, 6, 3, 3, 1, 8, 8, &id);
    picpq_net_add_linear(net, 6, 10, &id);
    picpq_net_set_prunable(net, 1, 0);
    picpq_net_set_fp(net, 0, fp0, 4);
    picpq_net_set_fp(net, 2, fp2, 6);
    return net;
}

#define FUZZ_LAYERS 4

#endif
