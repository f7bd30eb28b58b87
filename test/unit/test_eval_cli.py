"""The jcat-eval command line: its default trackers, its help text, and the roots it refuses before running or
writing anything (a missing folder; for the synthetic suite, a folder it did not create)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jcat_core.cli.eval import main, parse_args
from jcat_core.eval import trackers
from jcat_core.eval.datasets import load_dataset
from jcat_core.eval.trackers import TrackerSpec, parse_trackers
from jcat_core.models.demo_weights import DEMO_WEIGHTS

SMALL = ["--synthetic", "clean", "--synthetic-size", "64x48", "--synthetic-frames", "5", "--trackers", "csrt",
         "--no-progress"]


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every path under the folder with its bytes (None for folders)."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in folder.rglob("*")}


@pytest.mark.parametrize("command", [["run", "--dataset", "otb", "--root", "data"], ["vot", "--root", "data"]])
def test_the_default_trackers_are_jcat_with_the_best_weights_available_and_csrt(
        command: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """As jcat-bag and the node choose (choose_weights): the published file where it belongs, else the demo
    weights; a TrackerSpec made without weights still gets build_tracker's default."""
    monkeypatch.setenv("JCAT_WEIGHTS_DIR", str(tmp_path))
    args = parse_args(command)
    specs = parse_trackers(args.trackers, args.weights)
    assert [(s.name, s.weights) for s in specs] == [("jcat", str(DEMO_WEIGHTS)), ("csrt", None)]
    (tmp_path / "JcatNet.pth.tar").write_bytes(b"published")
    specs = parse_trackers(args.trackers, args.weights)
    assert [(s.name, s.weights) for s in specs] == [("jcat", str(tmp_path / "JcatNet.pth.tar")), ("csrt", None)]
    calls = []
    monkeypatch.setattr(trackers, "build_tracker", lambda weights, **options: calls.append(weights))
    TrackerSpec("jcat").build()
    assert calls == [None]  # build_tracker picks its default weights


def test_help_is_plain_and_short(capsys: pytest.CaptureFixture) -> None:
    """No markup from the module docstring, and every command's help fits a screen."""
    for command in ([], ["run"], ["report"], ["compare"], ["vot"]):
        with pytest.raises(SystemExit) as exit_info:
            parse_args([*command, "--help"])
        assert exit_info.value.code == 0
        text = capsys.readouterr().out
        assert "`" not in text, text
        assert len(text.splitlines()) <= 40, text
        assert all(len(line) <= 100 for line in text.splitlines()), text
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    assert "benchmark" in capsys.readouterr().out.splitlines()[2].lower()  # the description follows the usage


@pytest.mark.parametrize("command", ["run --dataset otb --root {missing} --trackers csrt",
                                     "run --dataset synthetic --root {new} --dataset otb --root {missing}",
                                     "report --dataset got10k --root {missing}",
                                     "compare --dataset lasot --root {missing} --results p={new}",
                                     "vot --root {missing} --trackers csrt"])
def test_a_missing_root_is_named(command: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    missing, new, out = tmp_path / "no" / "such", tmp_path / "new", tmp_path / "out"
    assert main([*command.format(missing=missing, new=new).split(), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"jcat-eval: error: --root {missing} does not exist" in err and "Traceback" not in err
    assert not out.exists() and not new.exists()  # nothing ran or was written


def test_a_root_that_is_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    file = tmp_path / "list.txt"
    file.write_text("x\n")
    assert main(["report", "--dataset", "got10k", "--root", str(file), "--out", str(tmp_path / "out")]) == 2
    assert f"--root {file} is not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("content", ["own sequences", "empty"])
def test_synthetic_never_writes_into_a_folder_it_did_not_create(content: str, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    root, out = tmp_path / "mine", tmp_path / "out"
    root.mkdir()
    if content == "own sequences":  # GOT-10k layout without a list.txt
        (root / "walk" / "img").mkdir(parents=True)
        (root / "walk" / "img" / "00000001.jpg").write_bytes(b"a frame")
        (root / "walk" / "groundtruth.txt").write_text("1,2,3,4\n")
    before = tree(root)
    assert main(["run", "--dataset", "synthetic", "--root", str(root), "--out", str(out), *SMALL]) == 2
    err = capsys.readouterr().err
    assert f"--root {root}" in err and "list.txt" in err and "--dataset got10k" in err
    assert tree(root) == before and not out.exists()


def test_synthetic_writes_a_new_root_and_scores_only_its_sequences(tmp_path: Path) -> None:
    root, out = tmp_path / "suite", tmp_path / "out"
    assert main(["run", "--dataset", "synthetic", "--root", str(root), "--out", str(out), *SMALL]) == 0
    assert (root / "list.txt").read_text() == "clean\n"
    assert [s.name for s in load_dataset("synthetic", root).sequences] == ["clean"]
    assert main(["run", "--dataset", "synthetic", "--root", str(root), "--out", str(out), *SMALL]) == 0  # reused
