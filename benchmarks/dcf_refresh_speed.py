"""CPU time of one DCF filter refresh: the tracker's Fourier-domain ``refine`` against the autodiff Gauss-Newton
step it replaces, side by side on the same full sample memory (published sizes: 250 samples, 64 channels, 18x18
cells from a 288-px crop, 4x4 filter, 5 CG steps). Reports each one's CPU time of this thread and the ratio,
and the largest difference between the two filters.

    python benchmarks/dcf_refresh_speed.py --threads 1 --repeats 3
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import torch

from jcat_core.tracker.dcf import CorrelationFilter, gauss_newton_step, mlu
from jcat_core.tracker.params import TrackerParams


def full_memory(params: TrackerParams, channels: int = 256, cells: int = 18) -> CorrelationFilter:
    """A filter initialised on 30 random samples and filled to its memory size with random online samples."""
    torch.manual_seed(0)
    dcf = CorrelationFilter(params, torch.device("cpu"))
    dcf.initialize(torch.randn(30, channels, cells, cells), torch.full((30, 2), cells / 2 - 0.5), 1.0)
    while dcf.count < params.sample_memory_size:
        dcf.add_sample(dcf.project(torch.randn(1, channels, cells, cells)), (cells / 2 - 1, cells / 2), 1.0,
                       params.learning_rate)
    return dcf


def autodiff_step(dcf: CorrelationFilter) -> torch.Tensor:
    """The generic Gauss-Newton step on the same loss (torch.func vjp/jvp through the convolutions)."""
    p = dcf.params
    samples, labels = dcf.samples[:dcf.count], dcf.labels[:dcf.count]
    root_weights = dcf.weights[:dcf.count].sqrt().view(-1, 1, 1)

    def residuals(filt: torch.Tensor) -> tuple[torch.Tensor, ...]:
        data = mlu(dcf._response(samples, filt), p.mlu_slope) - labels
        return data * root_weights, math.sqrt(p.filter_regularization) * dcf.spatial_weight * filt

    (filt,) = gauss_newton_step(residuals, (dcf.filter,), p.update_cg_iterations)
    return filt


def fourier_step(dcf: CorrelationFilter) -> torch.Tensor:
    start = dcf.filter
    dcf.refine(dcf.params.update_cg_iterations)
    refined, dcf.filter = dcf.filter, start
    return refined


def cpu_seconds(step: Callable[[CorrelationFilter], torch.Tensor], dcf: CorrelationFilter, repeats: int
                ) -> tuple[float, torch.Tensor]:
    """Median CPU time of this thread over ``repeats`` calls, and the last result."""
    times = []
    for _ in range(repeats):
        start = time.thread_time()
        result = step(dcf)
        times.append(time.thread_time() - start)
    return sorted(times)[len(times) // 2], result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    params = TrackerParams()
    dcf = full_memory(params)
    with torch.no_grad():
        fourier_s, fourier = cpu_seconds(fourier_step, dcf, args.repeats)
    autodiff_s, autodiff = cpu_seconds(autodiff_step, dcf, args.repeats)
    print(f"DCF refresh, {dcf.count} samples, {params.update_cg_iterations} CG steps, torch threads "
          f"{torch.get_num_threads()}, CPU time of this thread (median of {args.repeats})")
    print(f"  autodiff Gauss-Newton step   {1000 * autodiff_s:8.1f} ms")
    print(f"  Fourier-domain refine()      {1000 * fourier_s:8.1f} ms   {autodiff_s / fourier_s:.1f}x faster")
    print(f"  largest filter difference    {float((fourier - autodiff).abs().max()):.2e} "
          f"(filter values up to {float(autodiff.abs().max()):.2e})")


if __name__ == "__main__":
    main()
