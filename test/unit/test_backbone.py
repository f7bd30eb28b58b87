"""ResNet backbone: torchvision parameter names, feature levels JCAT reads, and no work past the last level."""

from __future__ import annotations

import pytest
import torch

from jcat_core.models.backbone import build_backbone

BN_ENTRIES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def torchvision_resnet_keys(layers: tuple[int, ...], bottleneck: bool) -> list[str]:
    """torchvision's state_dict key order: stem, then per block conv_i/bn_i (+ downsample on block 0), fc."""
    keys = ["conv1.weight", *(f"bn1.{e}" for e in BN_ENTRIES)]
    convs_per_block = 3 if bottleneck else 2
    for stage, blocks in enumerate(layers, start=1):
        for index in range(blocks):
            prefix = f"layer{stage}.{index}"
            for conv in range(1, convs_per_block + 1):
                keys += [f"{prefix}.conv{conv}.weight", *(f"{prefix}.bn{conv}.{e}" for e in BN_ENTRIES)]
            # a projection shortcut where channels or stride change: every stage's first Bottleneck,
            # and the first BasicBlock of stages 2-4
            if index == 0 and (bottleneck or stage > 1):
                keys += [f"{prefix}.downsample.0.weight", *(f"{prefix}.downsample.1.{e}" for e in BN_ENTRIES)]
    return [*keys, "fc.weight", "fc.bias"]


@pytest.fixture(scope="module")
def resnet50() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_backbone("resnet50").eval()


def test_resnet50_state_dict_keys_equal_torchvision_key_list(resnet50: torch.nn.Module) -> None:
    assert list(resnet50.state_dict()) == torchvision_resnet_keys((3, 4, 6, 3), bottleneck=True)


@pytest.mark.parametrize(("name", "layers"), [("resnet18", (2, 2, 2, 2)), ("resnet34", (3, 4, 6, 3))])
def test_basic_block_resnets_have_torchvision_keys(name: str, layers: tuple[int, ...]) -> None:
    assert list(build_backbone(name).state_dict()) == torchvision_resnet_keys(layers, bottleneck=False)


def test_resnet50_shapes_and_stride_on_the_3x3_conv(resnet50: torch.nn.Module) -> None:
    state = resnet50.state_dict()
    assert state["fc.weight"].shape == (1000, 2048)
    assert state["layer3.5.conv3.weight"].shape == (1024, 256, 1, 1)
    first = resnet50.layer2[0]
    assert first.conv1.stride == (1, 1) and first.conv2.stride == (2, 2)  # torchvision v1.5
    assert first.downsample[0].stride == (2, 2)


def test_resnet50_levels_have_published_shapes_at_384(resnet50: torch.nn.Module) -> None:
    with torch.inference_mode():
        feats = resnet50.forward_levels(torch.randn(1, 3, 384, 384))
    assert {k: tuple(v.shape[1:]) for k, v in feats.items()} == {
        "conv1": (64, 192, 192), "layer1": (256, 96, 96), "layer2": (512, 48, 48), "layer3": (1024, 24, 24),
    }


def test_conv1_level_is_after_relu_and_before_maxpool(resnet50: torch.nn.Module) -> None:
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        conv1 = resnet50.forward_levels(x, ("conv1",))["conv1"]
        expected = torch.relu(resnet50.bn1(resnet50.conv1(x)))
    assert conv1.shape == (1, 64, 32, 32)
    torch.testing.assert_close(conv1, expected, rtol=0, atol=0)


def test_resnet18_levels_channels() -> None:
    with torch.inference_mode():
        feats = build_backbone("resnet18").eval().forward_levels(torch.randn(1, 3, 384, 384))
    assert {k: tuple(v.shape[1:]) for k, v in feats.items()} == {
        "conv1": (64, 192, 192), "layer1": (64, 96, 96), "layer2": (128, 48, 48), "layer3": (256, 24, 24),
    }


def test_deeper_layers_are_not_executed_unless_requested(resnet50: torch.nn.Module) -> None:
    fired: list[str] = []
    handles = [getattr(resnet50, name).register_forward_hook(lambda *_, n=name: fired.append(n))
               for name in ("layer3", "layer4", "fc")]
    try:
        with torch.inference_mode():
            resnet50.forward_levels(torch.randn(1, 3, 64, 64))
            assert fired == ["layer3"]
            resnet50.forward_levels(torch.randn(1, 3, 64, 64), ("layer1", "layer2"))
            assert fired == ["layer3"]
            resnet50.forward_levels(torch.randn(1, 3, 64, 64), ("layer4",))
            assert fired == ["layer3", "layer3", "layer4"]
    finally:
        for handle in handles:
            handle.remove()


def test_classification_forward_runs_layer4_and_fc(resnet50: torch.nn.Module) -> None:
    with torch.inference_mode():
        assert resnet50(torch.randn(2, 3, 64, 64)).shape == (2, 1000)


def test_unknown_level_and_backbone_are_rejected(resnet50: torch.nn.Module) -> None:
    with pytest.raises(ValueError, match="layer5"):
        resnet50.forward_levels(torch.randn(1, 3, 32, 32), ("layer5",))
    with pytest.raises(ValueError, match="resnet101"):
        build_backbone("resnet101")
