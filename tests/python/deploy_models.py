"""Small compressed models shared by the deploy tests (model file, ONNX)."""
import numpy as np
import torch
from torch import nn

import picpq
from picpq.torch import apply_plan, describe, quantize_model, rank_filters
from picpq.torch.models import ResNetCifar


def randomize_bn(model, gen):
    """Batch-norm statistics and affine values away from the identity."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.2, 0.2, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.1, 0.2, generator=gen)


def pruned_quantized_resnet20(n_images=200, min_bits=1):
    """A narrow ResNet-20 for 1x28x28 inputs, pruned to 60 % of its MACs and
    quantized with random per-layer bits (8 for the first and last layer).
    Returns (model, description, bits, images)."""
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = ResNetCifar(20, 1, 10, widths=(8, 16, 32))
    randomize_bn(model, gen)
    x = torch.rand(n_images, 1, 28, 28, generator=gen)
    desc = describe(model, x[:2])
    rank_filters(model, desc, [x[:8]])
    plan = picpq.Plan(desc.net)
    n = desc.net.num_layers
    plan.compute(np.ones(n), np.zeros(n), 0.6)
    small = apply_plan(model, desc, plan)
    d2 = describe(small, x[:2])
    rng = np.random.default_rng(1)
    bits = [int(rng.integers(min_bits, 9)) for _ in d2.layers]
    bits[0] = bits[-1] = 8
    quantize_model(small, d2, bits)
    return small.eval(), d2, bits, x
