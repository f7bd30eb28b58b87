"""scripts/gpu_check.sh, the one-command GPU check: on a machine without CUDA it skips honestly and exits 0, and its
summary table reads what the benchmarks write (``--json``) on a CUDA machine too."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gpu_check.sh"
sys.path.insert(0, str(REPO / "scripts"))
import gpu_check_report  # noqa: E402  (scripts/ is no package)


def test_the_script_parses_and_passes_shellcheck() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck); bash -n passed")
    result = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU path; on a GPU machine run the script itself")
def test_without_cuda_it_skips_every_gpu_row_says_why_and_exits_0(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OUT", "JCAT_WEIGHTS")}
    result = subprocess.run(["bash", str(SCRIPT), "--no-setup", "--out", str(tmp_path)], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    table = (tmp_path / "table.md").read_text()
    assert table in out  # the table printed at the end is the one in table.md
    assert re.search(r"^## GPU check: no CUDA device; torch \S+; CUDA \S+$", table, re.M), table
    assert "**No CUDA device is present**" in table
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| part ")]
    # The CUDA tests ran under pytest, which collected them and skipped each one.
    tests = [row for row in rows if row.startswith("| CUDA tests |")]
    assert len(tests) == 1 and "test_jcat_net.py" in tests[0], table
    skipped = re.search(r"\| SKIPPED by pytest \| (\d+) skipped", tests[0])
    assert skipped and int(skipped.group(1)) >= 4 and "passed" not in tests[0], tests[0]
    assert "needs a CUDA device" in (tmp_path / "cuda_tests.log").read_text()
    # Every GPU benchmark row is there, SKIPPED, with the reason.
    for part in ("network", "tracker", "ROS latency"):
        part_rows = [row for row in rows if row.startswith(f"| {part} |")]
        assert part_rows and all("| SKIPPED | no CUDA device" in row for row in part_rows), (part, table)
    assert "No step failed." in table
    assert not list(tmp_path.glob("*.json")), "no benchmark ran"


def test_a_failed_step_is_a_failed_row_with_its_exit_code_and_the_machine_is_named(tmp_path: Path) -> None:
    (tmp_path / "machine.env").write_text(
        "cuda_available=yes\ngpu_name=NVIDIA H200\ngpu_count=1\ntorch=2.11.0+cu130\ntorch_cuda=13.0\n"
        "python_version=3.12.3\nenvironment=the machine's python3\n")
    (tmp_path / "tracker.log").write_text("Traceback ...\nRuntimeError: CUDA error: an illegal memory access\n")
    steps = [("environment", "scripts/setup.sh", "FALLBACK", "1", "0", "setup.log", "-", "-", "no Python 3.11"),
             ("tracker", "tracker_speed.py", "FAILED", "1", "12", "tracker.log", "-", "some nets", ""),
             ("network", "network_speed.py --compiled", "FAILED", "124", "300", "network_compiled.log", "-", "-", ""),
             ("ROS latency", "ros_latency.py fp32, fp16, bf16", "SKIPPED", "-", "0", "-", "-", "demo", "no rclpy")]
    (tmp_path / "steps.tsv").write_text("".join("\t".join(step) + "\n" for step in steps))
    table = gpu_check_report.render(tmp_path)
    assert table.startswith("## GPU check: NVIDIA H200; torch 2.11.0+cu130; CUDA 13.0\n"), table
    assert "| environment | scripts/setup.sh | FALLBACK (exit 1) | no Python 3.11 |" in table
    assert "| FAILED (exit 1) | RuntimeError: CUDA error: an illegal memory access |" in table
    assert "| FAILED (exit 124, timed out after 300 s) |" in table
    assert "| ROS latency | ros_latency.py fp32, fp16, bf16 | SKIPPED | no rclpy | demo | - |" in table
    assert table.rstrip().endswith("2 step(s) FAILED.")


@pytest.mark.slow
def test_the_table_reads_what_the_benchmarks_write(tmp_path: Path) -> None:
    """The network and tracker benchmarks' --json files, written here on the CPU in a few seconds, become rows."""
    def bench(script: str, *args: str) -> None:
        result = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *args], cwd=REPO,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]

    bench("network_speed.py", "--device", "cpu", "--variant", "resnet18", "--crop-size", "64", "--repeats", "1",
          "--warmup", "0", "--precisions", "fp32", "--compiled", "none", "--json", str(tmp_path / "network.json"))
    bench("tracker_speed.py", "--frames", "2", "--networks", "resnet18", "--skip-opencv", "--threads", "1",
          "--json", str(tmp_path / "tracker.json"))
    ros = {"benchmark": "ros_latency", "device": "cuda (NVIDIA H200)", "precision": "fp16", "weights": "standin",
           "size": "640x480", "frames": 60, "rate_hz": 80.0,
           "in_process": {"track_median_ms": 5.0, "track_p95_ms": 6.0, "paced_latency_median_ms": 5.5,
                          "paced_track_median_ms": 5.1},
           "ros": [{"reliability": "best_effort", "error": None, "e2e_median_ms": 8.25, "e2e_p95_ms": 9.5,
                    "ros_overhead_median_ms": 2.5, "node_track_median_ms": 5.2, "idle_path_median_ms": 2.4,
                    "published": 59, "states": 59, "drops": 0, "node_dropped": 0, "rate_achieved_hz": 79.96,
                    "verdict": "VERDICT [best_effort]: PASS"}]}
    (tmp_path / "ros.json").write_text(json.dumps(ros))
    steps = [("network", "network_speed.py", "ok", "0", "5", "network.log", "network.json", "JcatNet", ""),
             ("tracker", "tracker_speed.py", "ok", "0", "9", "tracker.log", "tracker.json", "-", ""),
             ("ROS latency", "ros_latency.py fp16", "ok", "0", "30", "ros.log", "ros.json", "stand-in", "")]
    (tmp_path / "steps.tsv").write_text("".join("\t".join(step) + "\n" for step in steps))
    table = gpu_check_report.render(tmp_path)
    assert re.search(r"\| network \| network_speed.py: fp32 \| ok \| extract_features [\d.]+ ms \+ segment [\d.]+ ms "
                     r"= [\d.]+ ms \(\d+ fps\) \| JcatNet \|", table), table
    assert re.search(r"\| tracker \| tracker_speed.py: JCAT-resnet18 \(random weights\) \| ok \| per frame median "
                     r"[\d.]+ ms, p95 [\d.]+ ms \([\d.]+ fps\); 2 frames 640x480 \| JcatNet resnet18, random init "
                     r"\(published config\) \|", table), table
    assert ("| ROS latency | ros_latency.py fp16, best_effort, 640x480 at 80.0 Hz | ok | stamp -> ~/state median "
            "8.25 ms (p95 9.50 ms); ROS overhead 2.50 ms; node track() 5.20 ms (in-process 5.10 ms); dropped 0 of 59 "
            "| stand-in |") in table, table
    assert (tmp_path / "table.md").read_text() == table
