"""Write tests/runtime/resnet20_q.pqm, the ResNet-20 model file of `make
runtime-check`: tests/python/deploy_models.py's pruned_quantized_resnet20
(ResNet-20 for 1x28x28, widths 8/16/32, pruned to 60 % of its MACs, random
1-8-bit layers, 8-bit first and last), saved with the Fashion-MNIST mean and
std. Run from the repository root with PICPQ_LIBRARY set:
    PICPQ_LIBRARY=$PWD/lib/libpicpq.so python3 tests/runtime/make_model.py"""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "python"))
sys.path.insert(0, os.path.join(here, "..", "python"))

from picpq.torch import save_model  # noqa: E402
from deploy_models import pruned_quantized_resnet20  # noqa: E402

small, d2, bits, x = pruned_quantized_resnet20(n_images=2)
path = os.path.join(here, "resnet20_q.pqm")
size = save_model(small, d2, bits, path, x[:1], mean=0.2860, std=0.3530)
print(path, size, "bytes; bits", bits)
