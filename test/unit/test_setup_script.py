"""scripts/setup.sh refuses bad starting points with a message that says what to do, and never leaves an
environment behind that later commands would trust."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the files setup.sh reads, so the real environment is never touched."""
    root = tmp_path / "jcat_ros"
    shutil.copytree(REPO / "scripts", root / "scripts")
    for name in ("setup.py", "pyproject.toml", "README.md", "package.xml", "CMakeLists.txt"):
        shutil.copy(REPO / name, root / name)
    return root


def children_cpu_s() -> float:
    """User + system CPU seconds of this process's waited-for children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_setup(root: Path, **env_overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("ROS_DISTRO", "VIRTUAL_ENV")}
    env.update(env_overrides)
    return subprocess.run(["bash", str(root / "scripts" / "setup.sh")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)


def assert_nothing_trusted(root: Path) -> None:
    assert not (root / "env.sh").exists()
    assert not (root / ".venv" / ".jcat-pip-stamp").exists()
    assert not (root / "install" / ".jcat-build-stamp").exists()


def test_missing_python_says_what_to_install(checkout: Path) -> None:
    result = run_setup(checkout, JCAT_PYTHON="/nonexistent/python3.11")
    assert result.returncode != 0
    assert "'/nonexistent/python3.11' not found" in result.stderr
    assert "apt install python3.11 python3.11-venv" in result.stderr
    assert not (checkout / ".venv").exists()
    assert_nothing_trusted(checkout)


def test_wrong_python_version_is_refused(checkout: Path, tmp_path: Path) -> None:
    fake = tmp_path / "python3.9"
    fake.write_text("#!/bin/sh\necho 3.9\n")
    fake.chmod(0o755)
    result = run_setup(checkout, JCAT_PYTHON=str(fake))
    assert result.returncode != 0
    assert "is Python 3.9, but the ROS 2 wheels on PyPI need Python 3.11" in result.stderr
    assert not (checkout / ".venv").exists()


def test_failed_download_stops_with_a_message_and_marks_nothing_ready(checkout: Path) -> None:
    python311 = sys.executable if sys.version_info[:2] == (3, 11) else shutil.which("python3.11")
    if python311 is None:
        pytest.skip("needs a Python 3.11 interpreter to get as far as the downloads")
    offline = {"JCAT_PYTHON": python311, "PIP_INDEX_URL": "file:///nonexistent/index", "PIP_EXTRA_INDEX_URL": "",
               "PIP_FIND_LINKS": "", "PIP_CONFIG_FILE": "/dev/null"}
    # Every package index unreachable: the first download fails.
    result = run_setup(checkout, **offline)
    assert result.returncode != 0
    assert "pip could not install what is needed while upgrading pip" in result.stderr
    assert "Check the network connection to PyPI" in result.stderr
    assert "The environment is marked incomplete" in result.stderr
    assert_nothing_trusted(checkout)

    # A second attempt does not take the half-made venv for a finished one.
    again = run_setup(checkout, **offline)
    assert again.returncode != 0
    assert "Python packages up to date" not in again.stdout
    assert_nothing_trusted(checkout)


def test_second_run_on_a_ready_environment_takes_seconds_and_rebuilds_nothing() -> None:
    if not (REPO / "env.sh").exists():
        pytest.skip("the environment has not been made in this checkout (run scripts/setup.sh)")
    env_before = (REPO / "env.sh").read_text()
    cpu_before, started = children_cpu_s(), time.monotonic()
    result = run_setup(REPO)
    cpu_s, elapsed = children_cpu_s() - cpu_before, time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "Python packages up to date" in result.stdout
    assert "interfaces up to date" in result.stdout
    # CPU time, which other load on the machine does not stretch (3 s here; a rebuild of the interfaces alone
    # takes over 15 s); the wall-clock bound only catches a hang
    assert cpu_s < 12, f"an up-to-date setup used {cpu_s:.1f} s of CPU"
    assert elapsed < 180, f"an up-to-date setup took {elapsed:.1f} s"
    assert (REPO / "env.sh").read_text() == env_before
