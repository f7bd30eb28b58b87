"""ONNX export of the JCAT network as two graphs, checked against PyTorch with onnxruntime on CPU.

* backbone: ``image`` (Bx3xSxS, normalised) -> ``conv1``, ``layer1``, ``layer2``, ``layer3``.
* head: test ``conv1``..``layer3`` + ``ref_layer3`` + ``ref_mask`` (+ ``dist_map``) -> ``logits`` Bx2xSxS.
  The batch dimension B is dynamic; the crop size S is fixed at export. Weights are stored inside each file.
  The memory bank is left out of the exported head (an empty bank): a tracker that needs the bank keeps
  running the head in PyTorch, or exports one head per bank size.
* verification: each output's max |onnxruntime - PyTorch|, also relative to its max |PyTorch| (float rounding
  grows with the values: the published layer3 reaches ~300), which is what a tolerance applies to.

Uses torch's dynamo-based exporter (``torch.onnx.export(..., dynamo=True)``, the default of torch 2.13, which
is deprecating the TorchScript one), with a symbolic batch dimension declared through ``dynamic_shapes``.
onnx, onnxscript and onnxruntime are optional dependencies (``pip install .[export]``), imported on use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from jcat_core.models.backbone import DEFAULT_LEVELS
from jcat_core.models.jcat_net import JcatNet

OPSET = 18
DEFAULT_TOLERANCE = 1e-4  # relative; a correct fp32 export: ~2e-6 on random weights, 3.5e-6 reported for layer3


class BackboneGraph(nn.Module):
    """image -> (conv1, layer1, layer2, layer3) as a tuple, for export."""

    def __init__(self, net: JcatNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feats = self.net.extract_features(image)
        return tuple(feats[name] for name in DEFAULT_LEVELS)


class HeadGraph(nn.Module):
    """Test levels, reference layer3, reference mask (and distance map) -> logits, for export."""

    def __init__(self, net: JcatNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, conv1: torch.Tensor, layer1: torch.Tensor, layer2: torch.Tensor, layer3: torch.Tensor,
                ref_layer3: torch.Tensor, ref_mask: torch.Tensor, dist_map: torch.Tensor | None = None) -> torch.Tensor:
        test_feats = {"conv1": conv1, "layer1": layer1, "layer2": layer2, "layer3": layer3}
        return self.net.segment(test_feats, {"layer3": ref_layer3}, ref_mask, dist_map)


@dataclass(frozen=True)
class Difference:
    """onnxruntime against PyTorch on one output: max |difference|, and that over max |PyTorch output|."""

    max_abs: float
    relative: float  # float rounding grows with the values, so this is what a tolerance applies to


@dataclass
class ExportResult:
    """Where the graphs went and, when verified, the difference from PyTorch per output."""

    backbone_path: Path
    head_path: Path
    differences: dict[str, Difference] = field(default_factory=dict)

    def failures(self, tolerance: float = DEFAULT_TOLERANCE) -> list[str]:
        """The outputs whose relative difference exceeds ``tolerance``."""
        return [name for name, diff in self.differences.items() if diff.relative > tolerance]


def example_inputs(net: JcatNet, crop_size: int, batch: int = 2, seed: int = 0) -> tuple[dict, dict]:
    """Seeded example inputs: ({"image": ...}, head inputs by name); batch >= 2 keeps B symbolic in export."""
    gen = torch.Generator().manual_seed(seed)
    image = torch.randn(batch, 3, crop_size, crop_size, generator=gen)
    with torch.inference_mode():
        feats = net.extract_features(image)
    mask = torch.zeros(batch, 1, crop_size, crop_size)
    mask[..., crop_size // 3: 2 * crop_size // 3, crop_size // 4: 3 * crop_size // 4] = 1.0
    head = {**{name: feats[name].clone() for name in DEFAULT_LEVELS}, "ref_layer3": feats["layer3"].clone(),
            "ref_mask": mask}
    if net.config.uses_distance_map:
        yx = torch.stack(torch.meshgrid(torch.arange(crop_size), torch.arange(crop_size), indexing="ij")).float()
        head["dist_map"] = (yx - crop_size / 2).norm(dim=0).expand(batch, 1, crop_size, crop_size).clone()
    return {"image": image}, head


def _export(module: nn.Module, inputs: dict[str, torch.Tensor], output_names: list[str], path: Path,
            opset: int) -> None:
    batch = torch.export.Dim("batch")
    torch.onnx.export(module.eval(), tuple(inputs.values()), str(path), input_names=list(inputs),
                      output_names=output_names, opset_version=opset, dynamo=True, external_data=False,
                      dynamic_shapes=tuple({0: batch} for _ in inputs), verbose=False)


def compare_outputs(path: Path, inputs: dict[str, torch.Tensor],
                    expected: dict[str, torch.Tensor]) -> dict[str, Difference]:
    """Run the ONNX file with onnxruntime (CPU) and compare each output with the PyTorch result."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outputs = session.run(list(expected), {name: t.numpy() for name, t in inputs.items()})
    differences = {}
    for (name, reference), out in zip(expected.items(), outputs, strict=True):
        max_abs = float(abs(out - reference.numpy()).max())
        scale = max(float(reference.abs().max()), torch.finfo(torch.float32).tiny)
        differences[name] = Difference(max_abs, max_abs / scale)
    return differences


def verify_onnx(net: JcatNet, result: ExportResult, crop_size: int) -> dict[str, Difference]:
    """Both exported graphs against ``net`` (eval, CPU fp32) on the seeded example inputs."""
    backbone_in, head_in = example_inputs(net, crop_size)
    with torch.inference_mode():
        feats = BackboneGraph(net)(**backbone_in)
        logits = HeadGraph(net)(**head_in)
    return {**compare_outputs(result.backbone_path, backbone_in, dict(zip(DEFAULT_LEVELS, feats, strict=True))),
            **compare_outputs(result.head_path, head_in, {"logits": logits})}


def export_onnx(net: JcatNet, out_dir: str | os.PathLike[str], crop_size: int | None = None, opset: int = OPSET,
                verify: bool = True) -> ExportResult:
    """Export ``net`` (put in eval mode, CPU fp32) as backbone.onnx and head.onnx under ``out_dir``."""
    net = net.eval().float().cpu()
    crop_size = crop_size or net.config.crop_size
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    result = ExportResult(out / "backbone.onnx", out / "head.onnx")
    backbone_in, head_in = example_inputs(net, crop_size)
    _export(BackboneGraph(net), backbone_in, list(DEFAULT_LEVELS), result.backbone_path, opset)
    _export(HeadGraph(net), head_in, ["logits"], result.head_path, opset)
    if verify:
        result.differences = verify_onnx(net, result, crop_size)
    return result
