"""One device-to-host transfer per frame: every tensor the host-side geometry needs, packed as bytes.

On a GPU each read-back is a synchronisation; packing the frame's results (DCF peak values, decisions, the crop's
foreground) into one buffer makes it a single copy and a single wait.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch


def to_host(tensors: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """The given tensors as numpy arrays of the same shapes and dtypes (bool becomes uint8), in one transfer."""
    flat = []
    for tensor in tensors.values():
        value = tensor.detach()
        if value.dtype == torch.bool:
            value = value.to(torch.uint8)
        flat.append(value.contiguous().reshape(-1).view(torch.uint8))
    data = torch.cat(flat).cpu().numpy()
    arrays, offset = {}, 0
    for (name, tensor), part in zip(tensors.items(), flat, strict=True):
        dtype = np.uint8 if tensor.dtype == torch.bool else torch.empty(0, dtype=tensor.dtype).numpy().dtype
        arrays[name] = data[offset:offset + part.numel()].view(dtype).reshape(tuple(tensor.shape))
        offset += part.numel()
    return arrays
