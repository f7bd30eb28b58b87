"""Agreement of the `default` and `vot` profiles with the published tracker's traces, per sequence.

Runs each trace's profile with the colour-key stand-in on its synthetic sequence (test/data/tracker_traces) and
prints, per sequence: mean box IoU with the reference, the share of frames at IoU >= 0.9 and of positions within
tolerance, and the share of frames whose decisions (move, DCF sample, filter refresh, memory-bank addition) equal
the reference's; the median distance between the two DCF peaks (image px, larger axis), the share of frames whose
DCF peak is on the reference's crop pixel, and of frames where the
reference's peak scores within 0.1 % of ours in our own score map (a tie: which pixel wins is float noise); then
every frame where a decision differs, or the box IoU falls below 0.9. The authors' quirk frames (the traces' README)
are left out of the box, position and peak columns.

    python benchmarks/trace_agreement.py                  # all 18 traces
    python benchmarks/trace_agreement.py default_clean    # some
"""

from __future__ import annotations

import argparse

from jcat_core.eval.traces import DECISIONS, compare_trace, trace_names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("traces", nargs="*", help="trace names (default: all)")
    args = parser.parse_args()
    names = args.traces or trace_names()
    header = ["trace", "mean IoU", "IoU>=0.9", "pos ok", *DECISIONS, "DCF peak diff", "same DCF peak",
              "their peak tied"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    details = []
    for name in names:
        result = compare_trace(name)
        cells = [f"{result.mean_iou:.3f}", f"{result.fraction_iou_above:.0%}", f"{result.fraction_position_within:.0%}",
                 *(f"{result.decision_agreement(d):.0%}" for d in DECISIONS),
                 f"{result.median_peak_distance:.2f} px", f"{result.fraction_same_peak:.0%}",
                 f"{result.fraction_peak_tied():.0%}"]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
        for frame in result.frames:
            low_iou = not frame.excluded and frame.iou < 0.9
            if frame.differing or low_iou:
                what = [f"{d} ours={frame.decisions[d][0]} theirs={frame.decisions[d][1]}" for d in frame.differing]
                details.append(f"{name} frame {frame.frame}: IoU {frame.iou:.3f}" + (" " if what else "")
                               + ", ".join(what))
    print("\nframes where a decision differs or the IoU is below 0.9:")
    print("\n".join(details) if details else "none")


if __name__ == "__main__":
    main()
