"""PyTorch helpers of libpicpq (needs torch): describe an nn.Module as a
picpq.Net, measure the filter property with forward hooks, build the
physically pruned model of a plan, quantization-aware training modules
that run on the model's device, and integer export.

    desc = describe(model, example_input)         # torch.fx trace -> desc.net
    rank_filters(model, desc, batches)            # FP of every conv, one data pass
    plan = picpq.Plan(desc.net); plan.compute(a, b, 0.5)
    small = apply_plan(model, desc, plan)         # a smaller nn.Module
"""
from .describe import Description, Layer, UnsupportedModel, describe
from .export import export
from .qat import ActQuant, WeightQuant, quantize_activations, quantize_model, quantize_weights
from .rank import feed_ranker, rank_filters, set_filter_properties
from .surgery import apply_plan, mask_model

__all__ = ["ActQuant", "Description", "Layer", "UnsupportedModel", "WeightQuant", "apply_plan",
           "describe", "export", "feed_ranker", "mask_model", "quantize_activations",
           "quantize_model", "quantize_weights", "rank_filters", "set_filter_properties"]
