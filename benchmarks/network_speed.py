"""Per-call time of JcatNet.extract_features and JcatNet.segment at 384x384, by precision, ratios vs fp32.

CPU: fp32 and bf16 autocast (on CPUs without bf16 units bf16 is tens of times slower: ``--skip-cpu-bf16``
or ``--cpu-bf16-repeats 1`` keep the run short). CUDA (when available): fp32, fp16, bf16 and fp16 with
torch.compile. Random weights: speed does not depend on them. One batch-1 crop per call, distance map on,
empty memory bank.

    python benchmarks/network_speed.py [--variant resnet50|resnet18] [--repeats 5] [--device auto|cpu|cuda]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from jcat_core.models.jcat_net import JcatConfig, JcatNet
from jcat_core.models.precision import Precision, inference, resolve_device


@dataclass
class Row:
    """Median per-call milliseconds of one configuration."""

    name: str
    extract_ms: float
    segment_ms: float

    @property
    def total_ms(self) -> float:
        return self.extract_ms + self.segment_ms


def median_ms(fn: Callable[[], object], device: torch.device, warmup: int, repeats: int) -> float:
    """Median wall time of ``fn`` in ms, synchronising CUDA around each call."""
    times = []
    for i in range(warmup + repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def measure(net: JcatNet, device: torch.device, precision: Precision, crop: int, warmup: int, repeats: int,
            compiled: bool = False, name: str | None = None) -> Row:
    """Time extract_features and segment (test crop vs itself as reference) under one precision."""
    image = torch.randn(1, 3, crop, crop, device=device)
    mask = torch.zeros(1, 1, crop, crop, device=device)
    mask[..., crop // 3: 2 * crop // 3, crop // 3: 2 * crop // 3] = 1
    dist = torch.rand(1, 1, crop, crop, device=device) * crop
    extract, segment = net.extract_features, net.segment
    if compiled:
        extract, segment = torch.compile(extract), torch.compile(segment)
    with inference(device, precision):
        feats = extract(image)
        extract_ms = median_ms(lambda: extract(image), device, warmup, repeats)
        segment_ms = median_ms(lambda: segment(feats, feats, mask, dist), device, warmup, repeats)
    return Row(name or precision, extract_ms, segment_ms)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
                 platform.processor())
    return f"{model} ({torch.get_num_threads()} threads)"


def print_table(rows: list[Row], title: str) -> None:
    base = rows[0]
    print(f"\n{title}")
    print(f"| {'precision':<14} | {'extract_features ms':>19} | {'segment ms':>10} | {'total ms':>9} | {'fps':>7} "
          f"| {'x fp32 (extract)':>16} | {'x fp32 (segment)':>16} |")
    print(f"|{'-' * 16}|{'-' * 21}:|{'-' * 12}:|{'-' * 11}:|{'-' * 9}:|{'-' * 18}:|{'-' * 18}:|")
    for row in rows:
        print(f"| {row.name:<14} | {row.extract_ms:>19.1f} | {row.segment_ms:>10.1f} | {row.total_ms:>9.1f} "
              f"| {1e3 / row.total_ms:>7.1f} | {row.extract_ms / base.extract_ms:>16.2f} "
              f"| {row.segment_ms / base.segment_ms:>16.2f} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", choices=("resnet50", "resnet18"), default="resnet50")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available, else CPU), cpu or cuda")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per measurement (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls first")
    parser.add_argument("--crop-size", type=int, default=384)
    parser.add_argument("--skip-cpu-bf16", action="store_true", help="leave out CPU bf16 (very slow without AMX)")
    parser.add_argument("--cpu-bf16-repeats", type=int, default=1, help="timed calls for CPU bf16 (default 1)")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    torch.manual_seed(0)
    net = JcatNet(JcatConfig(backbone=args.variant, crop_size=args.crop_size)).eval().to(device)
    print(f"JcatNet {args.variant}, {args.crop_size}x{args.crop_size}, batch 1; torch {torch.__version__}; "
          f"{device.type}: {device_name(device)}")
    if device.type == "cpu":
        rows = [measure(net, device, "fp32", args.crop_size, args.warmup, args.repeats)]
        if not args.skip_cpu_bf16:
            rows.append(measure(net, device, "bf16", args.crop_size, min(args.warmup, 1), args.cpu_bf16_repeats))
        print_table(rows, "CPU (median ms per call; fps = 1000 / total)")
    else:
        rows = [measure(net, device, p, args.crop_size, args.warmup, args.repeats) for p in ("fp32", "fp16", "bf16")]
        rows.append(measure(net, device, "fp16", args.crop_size, max(args.warmup, 3), args.repeats, compiled=True,
                            name="fp16 compiled"))
        print_table(rows, "CUDA (median ms per call; fps = 1000 / total)")


if __name__ == "__main__":
    main()
