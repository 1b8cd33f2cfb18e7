"""PyTorch helpers of libpicpq (needs torch): describe an nn.Module as a
picpq.Net, measure the filter property with forward hooks, build the
physically pruned model of a plan, quantization-aware training modules
that run on the model's device, and integer export.

    desc = describe(model, example_input)         # torch.fx trace -> desc.net
    rank_filters(model, desc, batches)            # FP of every conv, one data pass
    plan = picpq.Plan(desc.net); plan.compute(a, b, 0.5)
    small = apply_plan(model, desc, plan)         # a smaller nn.Module
"""
from . import _omp  # noqa: F401  (first: OpenMP's wait policy, before torch loads)
from .describe import ActSite, Description, Layer, UnsupportedModel, describe
from .export import export, model_file_bytes, save_model
from .onnx_export import export_onnx
from .qat import (ActQuant, PerUseAct, WeightQuant, bops_of_model, check_bits, check_description,
                  inserted_bits, quantize_activations, quantize_model, quantize_weights,
                  residual_ranges)
from .rank import FP_AT, feed_ranker, rank_filters, set_filter_properties
from .surgery import apply_plan, mask_model

from . import data
from .data import Batches, evaluate, recalibrate_bn, train
from .io import load_compressed, save_compressed, write_atomic
from .pipeline import (BIT_RULES, DEFAULTS, FAITHFUL, Compressor, SearchResult, compress,
                       configure_threads, default_bits, fit_bits)

__all__ = ["ActQuant", "ActSite", "Description", "Layer", "PerUseAct", "UnsupportedModel",
           "WeightQuant", "apply_plan", "bops_of_model", "check_bits", "check_description",
           "describe", "export", "export_onnx", "feed_ranker", "inserted_bits", "mask_model",
           "model_file_bytes", "quantize_activations", "quantize_model", "quantize_weights",
           "rank_filters", "residual_ranges", "save_model", "set_filter_properties"]

__all__ += ["BIT_RULES", "DEFAULTS", "FAITHFUL", "FP_AT", "Batches", "Compressor", "SearchResult",
            "compress", "configure_threads", "data", "default_bits", "evaluate", "fit_bits",
            "load_compressed", "recalibrate_bn", "save_compressed", "train", "write_atomic"]
