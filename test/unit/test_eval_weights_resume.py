"""jcat-eval run as a user meets it: which JCAT weights it takes without --weights (the same choice as jcat-bag
and the node) and where it says so; resume refusing results that other settings made; the speed of unscored
sequences in report.md; a non-zero exit status when nothing was tracked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from jcat_core.cli.eval import main, parse_args
from jcat_core.eval import runner, trackers
from jcat_core.eval.baselines import OpenCVTracker
from jcat_core.eval.datasets import write_synthetic
from jcat_core.models.demo_weights import DEMO_WEIGHTS


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The weights every JCAT tracker is built with; KCF tracks in its place (fast, and no weight file is read)."""
    calls: list[str] = []

    def build(weights, **options):
        calls.append(str(weights))
        return OpenCVTracker("kcf")

    monkeypatch.setattr(trackers, "build_tracker", build)
    monkeypatch.setattr(runner, "_BUILT", {})  # no tracker cached by an earlier test in this process
    return calls


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_synthetic(tmp_path / "data", ("clean",), height=48, width=64, num_frames=5)


def run_args(data: Path, out: Path, names: str = "jcat", *extra: str) -> list[str]:
    return ["run", "--dataset", "got10k", "--root", str(data), "--trackers", names, "--out", str(out),
            "--no-progress", *extra]


def weight_file(folder: Path, content: bytes = b"weights") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "JcatNet.pth.tar").write_bytes(content)
    return folder / "JcatNet.pth.tar"


def test_without_weights_run_takes_the_published_file_and_records_it(
        data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, built: list[str],
        capsys: pytest.CaptureFixture) -> None:
    published = weight_file(tmp_path / "home")
    monkeypatch.setenv("JCAT_WEIGHTS_DIR", str(published.parent))
    out = tmp_path / "out"
    assert main(run_args(data, out, "jcat,csrt")) == 0
    assert built == [str(published.resolve())]
    printed = capsys.readouterr().out
    assert re.search(rf"weights for jcat: {re.escape(str(published))}.*published", printed), printed
    summary = json.loads((out / "got10k" / "summary.json").read_text())
    weights = summary["trackers"]["jcat"]["weights"]
    assert weights["path"] == str(published.resolve()) and "published" in weights["description"]
    assert "weights" not in summary["trackers"]["csrt"]  # OpenCV's trackers have none
    report = (out / "got10k" / "report.md").read_text()
    assert re.search(rf"^- jcat: .*{re.escape(str(published))}.*published", report, re.M), report


def test_without_weights_or_a_published_file_run_takes_the_demo_weights(
        data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, built: list[str],
        capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("JCAT_WEIGHTS_DIR", str(tmp_path / "nothing here"))
    out = tmp_path / "out"
    assert main(run_args(data, out)) == 0
    assert built == [str(DEMO_WEIGHTS)]
    assert "weights for jcat:" in capsys.readouterr().out
    weights = json.loads((out / "got10k" / "summary.json").read_text())["trackers"]["jcat"]["weights"]
    assert weights["path"] == str(DEMO_WEIGHTS) and "demo weights" in weights["description"]


def test_resume_refuses_results_that_other_settings_made(data: Path, tmp_path: Path, built: list[str],
                                                         capsys: pytest.CaptureFixture) -> None:
    first, second = weight_file(tmp_path / "a"), weight_file(tmp_path / "b")
    out = tmp_path / "out"
    record = out / "got10k" / "jcat" / "records" / "clean.json"
    assert main(run_args(data, out, "jcat", "--weights", str(first))) == 0
    capsys.readouterr()

    assert main(run_args(data, out, "jcat", "--weights", str(first))) == 0  # the same settings: resumed
    assert "1 finished tracker/sequence pairs kept (resume), 0 to run" in capsys.readouterr().out

    def refused(*extra: str) -> str:
        kept = record.read_text()
        assert main(run_args(data, out, "jcat", *extra)) == 2
        err = capsys.readouterr().err
        assert "--fresh" in err and "another --out" in err and "Traceback" not in err
        assert record.read_text() == kept  # nothing ran again
        return err

    err = refused("--weights", str(second))
    assert "weights" in err and str(first.resolve()) in err and str(second.resolve()) in err
    assert "profile" in refused("--weights", str(first), "--profile", "vot")
    assert "params" in refused("--weights", str(first), "--param", "segm_size=96")
    first.write_bytes(b"retrained in place: same path, other bytes")
    assert "weights" in refused("--weights", str(first))
    assert main(run_args(data, out, "jcat", "--weights", str(first), "--fresh")) == 0

    settings = json.loads(record.read_text())  # a record from before records kept their settings
    record.write_text(json.dumps({k: v for k, v in settings.items() if k != "settings"}))
    assert "settings" in refused("--weights", str(first))
    assert built.count(str(first.resolve())) == 2 and str(second.resolve()) not in built


def test_a_missing_weights_file_is_an_error_before_anything_runs(data: Path, tmp_path: Path, built: list[str],
                                                                  capsys: pytest.CaptureFixture) -> None:
    missing, out = tmp_path / "nonexistent" / "JcatNet.pth.tar", tmp_path / "out"
    assert main(run_args(data, out, "jcat,csrt", "--weights", str(missing))) == 2
    err = capsys.readouterr().err
    assert f"jcat-eval: error: weight file not found: {missing}" in err
    assert not out.exists() and not built


def test_report_shows_the_speed_of_unscored_sequences(data: Path, tmp_path: Path) -> None:
    truth = data / "clean" / "groundtruth.txt"
    truth.write_text(truth.read_text().splitlines()[0] + "\n")  # the first box only, as GOT-10k's test split
    out = tmp_path / "out"
    assert main(run_args(data, out, "csrt")) == 0
    summary = json.loads((out / "got10k" / "summary.json").read_text())
    assert summary["unscored"] == ["clean"] and summary["trackers"]["csrt"]["run"]["fps"] > 0
    row = re.search(r"^\| csrt \|(.*)\|$", (out / "got10k" / "report.md").read_text(), re.M)
    assert row, "no csrt row"
    fps = [c.strip() for c in row[1].split("|")][6]
    assert fps != "-" and float(fps) > 0


def test_run_exits_1_when_nothing_was_tracked(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_synthetic(data, ("clean", "occlusion"), height=48, width=64, num_frames=5)
    truth = data / "clean" / "groundtruth.txt"
    full = truth.read_text()
    for name in ("clean", "occlusion"):
        lines = (data / name / "groundtruth.txt").read_text().splitlines()
        (data / name / "groundtruth.txt").write_text("\n".join(lines[:2]) + "\n")
    assert main(run_args(data, tmp_path / "none", "csrt")) == 1
    err = capsys.readouterr().err
    assert "skipping clean: ground truth has 2 boxes for 5 frames" in err and "nothing was tracked" in err

    truth.write_text(full)  # one scored, one skipped: a result, with the skipped one listed
    assert main(run_args(data, tmp_path / "some", "csrt")) == 0
    summary = json.loads((tmp_path / "some" / "got10k" / "summary.json").read_text())
    assert [s["sequence"] for s in summary["skipped"]] == ["occlusion"]
    assert set(summary["trackers"]["csrt"]["per_sequence"]) == {"clean"}


def test_run_help_explains_the_exit_status(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        parse_args(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "exit status" in text.lower() and "1 when nothing was tracked" in text
