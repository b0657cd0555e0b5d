"""Which number format a job computes in, decided once for training and evaluation.

A CPU with native bf16 matrix units (AVX512-BF16 or AMX) runs a SmolLM2 bf16 matrix product
6.5-8.9x faster than fp32 on one thread; elsewhere bf16 is emulated and slower than fp32. So on
a CPU, bf16 is used only where it is native, and ``auto`` picks it only there (or on a GPU that
supports it). torch is imported inside the functions: the tables' environment reads modules that
reach this one and has no torch.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def cpu_has_native_bf16() -> bool:
    import torch

    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def on_gpu(gpus: int) -> bool:
    """Whether a job given ``gpus`` GPUs runs on one (CUDA is present and it was given some)."""
    import torch

    return torch.cuda.is_available() and gpus > 0


def effective_precision(precision: str, on_gpu: bool) -> str:
    """The precision a stage trains in. On a CPU, bf16 (autocast, fp32 master weights) only where the
    CPU has native bf16 matrix units (a SmolLM2 step 2.2-2.5x faster than fp32 there); fp16, or
    bf16 on other CPUs, train in fp32, which is then faster and exact."""
    if on_gpu or precision == "fp32":
        return precision
    if precision == "bf16" and cpu_has_native_bf16():
        return "bf16"
    log.warning("training.precision %s has no native support on this CPU: training in fp32", precision)
    return "fp32"


def evaluation_dtype(dtype: str | None, device: str = "cpu") -> str | None:
    """A model's load dtype: ``auto`` is bfloat16 where the device computes it natively (a CUDA GPU
    with bf16, or a CPU with bf16 units), else float32; any other name (or None, as saved) is kept."""
    if dtype != "auto":
        return dtype
    import torch

    if str(device).startswith("cuda") or (device == "auto" and torch.cuda.is_available()):
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    return "bfloat16" if cpu_has_native_bf16() else "float32"
