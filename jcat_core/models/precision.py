"""Device and numeric precision selection for inference: fp32 everywhere, bf16 on CPU, fp16/bf16 on CUDA.

Reduced precision goes through ``torch.autocast`` (weights stay fp32). On CPUs without bf16 units bf16 is
far slower than fp32 (about 65x for the ResNet-50 backbone on the dev machines): fp32 is the CPU default.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal

import torch

Precision = Literal["fp32", "fp16", "bf16"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "fp16", "bf16")
_AUTOCAST_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" -> CUDA when available, else CPU; asking for CUDA without one is an error that says so."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch sees no CUDA device; use 'cpu' or 'auto'")
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {resolved}; use 'cpu', 'cuda' or 'auto'")
    return resolved


def autocast_dtype(device: torch.device, precision: Precision) -> torch.dtype | None:
    """The autocast dtype for (device, precision), None for fp32; fp16 on CPU is refused."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "fp16" and device.type == "cpu":
        raise ValueError("fp16 is supported on CUDA only; use fp32 (default) or bf16 on CPU")
    return _AUTOCAST_DTYPES.get(precision)


def autocast(device: torch.device, precision: Precision) -> contextlib.AbstractContextManager:
    """torch.autocast for reduced precision, a no-op context for fp32."""
    dtype = autocast_dtype(device, precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


@contextlib.contextmanager
def inference(device: torch.device, precision: Precision = "fp32") -> Iterator[None]:
    """Inference scope: torch.inference_mode plus the precision's autocast."""
    with torch.inference_mode(), autocast(device, precision):
        yield
