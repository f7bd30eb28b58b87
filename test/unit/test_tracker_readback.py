"""Per-frame device work reads back to the host once (twice on the frames that feed the memory bank, whose entry the
published tracker uses from the next frame on), and the device-placed crop equals the host one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

import jcat_core.tracker.tracker as tracker_module
from jcat_core.data.synthetic import Occlusion, SequenceSpec, SyntheticSequence
from jcat_core.models.jcat_net import JcatConfig, build_jcat_net
from jcat_core.tracker import build_tracker
from jcat_core.tracker.geometry import CropWindow, crop, crop_moved
from jcat_core.tracker.readback import to_host

# Tensor operations that bring a value to the host (a synchronisation on a GPU).
HOST_READS = frozenset({"item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__"})


class ReadCounter(TorchFunctionMode):
    """Counts ``to_host`` calls and fails on any other host read while active."""

    def __init__(self) -> None:
        super().__init__()
        self.transfers = 0
        self.stray: list[str] = []
        self._inside_transfer = False

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        name = getattr(func, "__name__", "")
        if name in HOST_READS and not self._inside_transfer:
            self.stray.append(name)
        return func(*args, **(kwargs or {}))

    def counted_to_host(self, tensors: dict) -> dict:
        self.transfers += 1
        self._inside_transfer = True
        try:
            return to_host(tensors)
        finally:
            self._inside_transfer = False


def test_to_host_round_trips_dtypes_and_shapes() -> None:
    tensors = {"f": torch.arange(6, dtype=torch.float32).view(2, 3) / 7, "b": torch.tensor([True, False]),
               "u": torch.arange(4, dtype=torch.uint8), "i": torch.tensor([-3, 2**40]), "s": torch.tensor(2.5)}
    host = to_host(tensors)
    assert list(host) == list(tensors)
    for name, tensor in tensors.items():
        expected = tensor.to(torch.uint8) if tensor.dtype == torch.bool else tensor
        assert host[name].shape == tuple(tensor.shape)
        np.testing.assert_array_equal(host[name], expected.numpy())


def test_crop_moved_equals_the_host_crop_of_the_moved_window() -> None:
    frame = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8))
    window = CropWindow(50.0, 40.0, 60.0, 32)
    for centre in [(50.0, 40.0), (71.3, 28.9), (10.0, 85.0)]:  # the last one leaves the image
        moved = crop_moved(frame, window, torch.tensor(centre), reach=40.0)
        expected = crop(frame, CropWindow(*centre, window.side, window.size))
        torch.testing.assert_close(moved, expected, atol=1e-2, rtol=0)  # float32 grid rounding, 0..255


@pytest.mark.slow
@pytest.mark.parametrize("network", ["standin", "standin-lite", "jcatnet"])
def test_every_tracked_frame_reads_back_once(network: str, monkeypatch: pytest.MonkeyPatch, one_thread) -> None:
    # 30 frames: DCF refreshes (every 10th), memory-bank frames (2-10, 20) and an occlusion (LOST frames)
    spec = SequenceSpec(name="readback", num_frames=31, height=120, width=160, seed=3, speed=0.01,
                        occlusions=(Occlusion(14, 22),))
    sequence = SyntheticSequence(spec)
    if network.startswith("standin"):
        tracker = build_tracker("standin", device="cpu", profile="lite" if network.endswith("lite") else "default")
    else:
        torch.manual_seed(0)
        tracker = build_tracker(build_jcat_net(JcatConfig(backbone="resnet18")), device="cpu", dcf_sample_size=96,
                                segm_size=128)
    tracker.initialize(sequence[0].image, box=sequence[0].box)
    counter = ReadCounter()
    monkeypatch.setattr(tracker_module, "to_host", counter.counted_to_host)
    states = set()
    expected = 0
    for index, frame in enumerate(sequence[1:], start=1):
        with counter:
            states.add(tracker.track(frame.image).state)
        # a bank frame segments its bank crop and reads that mask back too, except with one backbone pass (lite),
        # whose bank entry is the frame's own segmented crop
        bank_frame = tracker.bank.last_update == tracker.frame and not tracker.params.one_backbone_pass
        expected += 2 if bank_frame else 1
        assert counter.transfers == expected, f"frame {index}: {counter.transfers - expected} extra transfers"
        assert not counter.stray, f"frame {index}: host reads outside the transfer: {counter.stray}"
    if network.startswith("standin"):  # learning, bank additions and the occlusion's other states were all read-free
        assert tracker.dcf.samples_added > 0 and len(tracker.bank) > 1 and len(states) > 1


def test_the_vot2020_profile_reads_the_probability_map_in_place_of_the_foreground(
        monkeypatch: pytest.MonkeyPatch, one_thread) -> None:
    """Its output mask needs the crop's foreground probability: the frame's one read carries that map (float32)
    instead of the thresholded foreground, and its memory bank never adds an entry (no second read)."""
    spec = SequenceSpec(name="readback", num_frames=13, height=120, width=160, seed=3, speed=0.01,
                        occlusions=(Occlusion(7, 10),))
    sequence = SyntheticSequence(spec)
    tracker = build_tracker("standin", device="cpu", profile="vot2020")
    tracker.initialize(sequence[0].image, mask=sequence[0].mask)
    counter = ReadCounter()
    read: list[torch.dtype] = []

    def recording(tensors: dict) -> dict:
        read.append(tensors["segmentation"].dtype)
        return counter.counted_to_host(tensors)

    monkeypatch.setattr(tracker_module, "to_host", recording)
    for index, frame in enumerate(sequence[1:], start=1):
        with counter:
            tracker.track(frame.image)
        assert counter.transfers == index, f"frame {index}: {counter.transfers - index} extra transfers"
        assert not counter.stray, f"frame {index}: host reads outside the transfer: {counter.stray}"
    assert read == [torch.float32] * (len(sequence) - 1)
