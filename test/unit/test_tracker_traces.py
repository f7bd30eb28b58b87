"""The `default` and `vot` profiles against the published tracker's own per-frame traces (test/data/tracker_traces,
made by running the authors' tracker with the colour-key stand-in on these synthetic sequences).

The issue's bar (#17): per sequence, box IoU >= 0.9 with the reference on >= 97 % of frames, mean IoU >= 0.97, and
the move / DCF-sample / refresh / memory-bank decisions equal on >= 98 % of frames; the frames the traces' README
names as the authors' quirks are left out of box and position comparisons (jcat_core.eval.traces.QUIRK_FRAMES).
``test_trace_agreement`` holds every trace to that bar except the measured gaps in KNOWN_GAPS, which it holds to
their measured level instead; ``test_known_gaps_still_fall_short`` fails (strict xfail) once a gap closes, so the
table cannot go stale.
"""

from __future__ import annotations

import functools

import pytest
import torch

from jcat_core.eval.traces import DECISIONS, TraceComparison, _peak_agreement, compare_trace, trace_names
from jcat_core.tracker.geometry import CropWindow
from jcat_core.tracker.tracker import FrameRecord

BAR = {"mean_iou": 0.97, "iou_0.9": 0.97, **{name: 0.98 for name in DECISIONS}}

# Measured on this commit (benchmarks/trace_agreement.py); why each falls short is in docs/TRACE_AGREEMENT.md.
# - mean IoU 0.944-0.969: the masks differ at their edges by a few crop pixels from frame 2 on (areas within
#   ~2 %), with every decision equal; the DCF peaks differ by about one crop pixel from the first tracked frame, so
#   the segmentation crops (centred on the peak) are cut one pixel apart.
# - refresh / bank: DCF hard negatives (peak 2 > 0.3 x peak 1) within a few % of the threshold (rotation_elong has
#   41 in 89 reference frames), which score maps that differ that little flip: computing the filter refresh's
#   products in real instead of complex arithmetic (the same sums in another order) moved vot exit_reentry's refresh
#   agreement from 99 % to 92 %, complex products over a smaller transform to 91 % (frames 39-48, target out of
#   view, peak ratio 0.289-0.294 against the 0.3 threshold).
# - vot exit_reentry: the rotated box fitted to the triangle's mask differs by a few degrees on 8 frames (IoU
#   0.86-0.9 there, with the positions within 1 px).
KNOWN_GAPS: dict[str, dict[str, float]] = {
    "default_clean": {"mean_iou": 0.96},
    "default_distractor": {"mean_iou": 0.96},
    "default_exit_reentry": {"mean_iou": 0.965, "refresh": 0.95},
    "default_fast": {"mean_iou": 0.955},
    "default_occlusion": {"mean_iou": 0.96, "refresh": 0.96},
    "default_rotation": {"mean_iou": 0.96},
    "default_rotation_elong": {"mean_iou": 0.96, "refresh": 0.79, "bank_added": 0.86},
    "default_scale": {"mean_iou": 0.965},
    "vot_distractor": {"mean_iou": 0.965},
    "vot_exit_reentry": {"mean_iou": 0.94, "iou_0.9": 0.87, "refresh": 0.91},
    "vot_fast": {"mean_iou": 0.955},
    "vot_occlusion": {"mean_iou": 0.96, "refresh": 0.94},
    "vot_rotation": {"mean_iou": 0.96},
    "vot_rotation_elong": {"refresh": 0.83, "bank_added": 0.97},
}


@functools.cache
def comparison(name: str) -> TraceComparison:
    return compare_trace(name)


def measured(result: TraceComparison) -> dict[str, float]:
    return {"mean_iou": result.mean_iou, "iou_0.9": result.fraction_iou_above,
            **{name: result.decision_agreement(name) for name in DECISIONS}}


@pytest.mark.parametrize("name", trace_names("default") + trace_names("vot"))
def test_trace_agreement(name: str) -> None:
    values = measured(comparison(name))
    floors = {**BAR, **KNOWN_GAPS.get(name, {})}
    short = {key: round(values[key], 3) for key, floor in floors.items() if values[key] < floor}
    assert not short, f"{name}: below the bar {floors}: {short}"


@pytest.mark.parametrize("name", sorted(KNOWN_GAPS))
@pytest.mark.xfail(strict=True, reason="a measured gap to the issue's bar (KNOWN_GAPS): an XPASS means it closed")
def test_known_gaps_still_fall_short(name: str) -> None:
    values = measured(comparison(name))
    assert all(values[key] >= floor for key, floor in BAR.items())


def test_every_trace_is_compared_and_the_stand_in_setup_is_the_traces_one() -> None:
    names = trace_names()
    assert len(names) == 18 and set(KNOWN_GAPS) <= set(names)
    result = comparison("default_clean")
    assert len(result.frames) == 89 and not any(frame.excluded for frame in result.frames)
    assert all(frame.position_error <= frame.position_tolerance for frame in result.frames)


def test_the_peak_columns_read_our_score_map_at_their_peak() -> None:
    window = CropWindow(50.0, 40.0, 32.0, 16)  # 2 image px per crop px, origin (34, 24)
    score = torch.full((16, 16), 0.5)
    score[8, 8], score[9, 8] = 1.0, 0.9995
    record = FrameRecord(2, dcf_peak=(50.0, 40.0), dcf_window=window)  # crop pixel (8, 8)
    assert _peak_agreement(record, score, [50.0, 40.0]) == (True, 1.0)
    assert _peak_agreement(record, score, [50.0, 42.0]) == (False, pytest.approx(0.9995))  # a tie, one row down
    assert _peak_agreement(record, score, [10.0, 40.0]) == (False, None)  # off our crop
    result = comparison("default_clean")
    assert 0 <= result.fraction_same_peak <= result.fraction_peak_tied() <= 1 and result.median_peak_distance > 0
