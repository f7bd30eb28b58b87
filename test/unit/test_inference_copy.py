"""The tracker's inference copies: BatchNorm folded into convolutions and channels-last, with unchanged outputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from jcat_core.models.inference import channels_last, fold_batchnorm, inference_copy
from jcat_core.models.jcat_net import JcatConfig, build_jcat_net


def with_random_statistics(net: nn.Module) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine parameters, so that folding has something to get wrong."""
    generator = torch.Generator().manual_seed(0)
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            c = module.num_features
            module.running_mean.copy_(torch.randn(c, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(c, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(c, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(c, generator=generator) * 0.1)
    return net.eval()


@pytest.mark.parametrize("backbone", ["resnet18", "efficientnet_lite0"])
def test_the_inference_copy_gives_the_same_features_and_logits(backbone: str, one_thread) -> None:
    torch.manual_seed(0)
    net = with_random_statistics(build_jcat_net(JcatConfig(backbone=backbone, crop_size=64)))
    fast = inference_copy(net)
    images = torch.rand(2, 3, 64, 64)
    mask = (torch.rand(2, 1, 64, 64) > 0.5).float()
    dist = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        expected = net.extract_features(images)
        got = fast.extract_features(channels_last(images))
        for level, value in expected.items():
            torch.testing.assert_close(got[level], value, atol=1e-4, rtol=1e-4, msg=level)
        torch.testing.assert_close(fast.segment(got, got, mask, dist), net.segment(expected, expected, mask, dist),
                                   atol=1e-4, rtol=1e-4)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules())  # the original is left as it was
    conv = next(m for m in fast.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not any(p.requires_grad for p in fast.parameters())


def test_folding_refuses_a_module_in_train_mode() -> None:
    with pytest.raises(ValueError, match="eval mode"):
        fold_batchnorm(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)))


@pytest.mark.gpu
@pytest.mark.slow
def test_the_demo_tracker_on_cuda_follows_the_cpu_one() -> None:
    """The fast path (inference copy in channels-last on CUDA, lite profile) against the same tracker on the CPU."""
    import numpy as np

    from jcat_core.data.synthetic import SyntheticSequence, synthetic_suite
    from jcat_core.eval.metrics import box_iou
    from jcat_core.tracker import build_tracker

    frames = list(SyntheticSequence(synthetic_suite(num_frames=30, seed=0)["clean"]))
    boxes = {}
    for device in ("cpu", "cuda"):
        tracker = build_tracker(device=device)
        tracker.initialize(frames[0].image, box=frames[0].box)
        boxes[device] = np.array([tracker.track(f.image).box for f in frames[1:]])
    assert float(box_iou(boxes["cuda"], boxes["cpu"]).mean()) > 0.95
    assert float(box_iou(boxes["cuda"], np.array([f.box for f in frames[1:]])).mean()) > 0.75
