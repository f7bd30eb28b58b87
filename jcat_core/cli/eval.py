"""``jcat-eval``: benchmark evaluation. ``run`` tracks (JCAT, the stand-in, OpenCV baselines) and reports;
``report`` re-scores result folders; ``compare`` adds published raw results; ``vot`` is the supervised VOT run."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from jcat_core.eval.datasets import LOADERS, Dataset, LayoutError, load_dataset, write_synthetic
from jcat_core.eval.report import ResultSource, record_list, report
from jcat_core.eval.results import BOX_FORMATS, MASK_FORMATS
from jcat_core.eval.runner import check_resume, run
from jcat_core.eval.trackers import TrackerSpec, known_trackers, parse_params, parse_trackers
from jcat_core.eval.vot import REGIONS, SupervisedConfig, run_supervised
from jcat_core.tracker import AUTO, PROFILES

TRACKERS_INI = Path(__file__).resolve().parents[2] / "config" / "vot" / "trackers.ini"
SPLIT_LOADERS = {"trackingnet", "davis", "youtube-vos"}  # loaders taking a split= option
DEFAULT_TRACKERS = "jcat,csrt"  # JCAT with the best weights available (choose_weights), beside OpenCV's CSRT
DESCRIPTION = "Benchmark evaluation: track datasets with JCAT and baseline trackers, score result folders, report."
NOTHING_TRACKED = 1  # run's exit status when no tracker/sequence pair was tracked; 2 = refused before running
RUN_EPILOG = ("exit status: 0 when something was tracked (skipped and failed sequences are listed); 1 when nothing "
              "was tracked (all skipped, none found, or all failed); 2 when refused before running (bad arguments, "
              "a missing root or weight file, a resume over results of other settings)")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="jcat-eval", description=DESCRIPTION)
    commands = parser.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")

    def data(sub: argparse.ArgumentParser, many: bool) -> None:
        action = "append" if many else "store"
        sub.add_argument("--dataset", action=action, required=True, choices=sorted(LOADERS), metavar="FAMILY",
                         help=f"one of {', '.join(sorted(LOADERS))}" + (" (repeat with --root)" if many else ""))
        sub.add_argument("--root", action=action, required=True, metavar="DIR", help="the dataset folder")
        sub.add_argument("--split", help="split: TrackingNet (TEST), DAVIS (val), YouTube-VOS (valid)")
        sub.add_argument("--out", default="runs/eval", metavar="DIR", help="output folder (default runs/eval)")

    def trackers(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--trackers", default=DEFAULT_TRACKERS, metavar="NAMES",
                         help=f"comma-separated, from {', '.join(known_trackers())} (default {DEFAULT_TRACKERS})")
        sub.add_argument("--weights", metavar="FILE", help="JcatNet weights for jcat: a file, 'published' or 'standin' "
                         "(default: the published JcatNet.pth.tar in $JCAT_WEIGHTS_DIR or ~/.cache/jcat if there, "
                         "else the demo weights)")
        sub.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
        sub.add_argument("--profile", default=AUTO, choices=(AUTO, *PROFILES), metavar="PROFILE",
                         help=f"tracker parameters: {', '.join((AUTO, *PROFILES))} (default auto: lite for "
                              "EfficientNet-Lite weights, else default)")
        sub.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                         help="a TrackerParams override for jcat/standin (repeatable)")
        sub.add_argument("--no-progress", action="store_true", help="no progress bar")

    run_cmd = commands.add_parser("run", help="track a dataset with several trackers, then report", epilog=RUN_EPILOG)
    data(run_cmd, many=True)
    trackers(run_cmd)
    run_cmd.add_argument("--workers", type=int, default=1, metavar="N",
                         help="worker processes over sequences (default 1)")
    run_cmd.add_argument("--fresh", action="store_true", help="run finished sequences again (a resume refuses results "
                         "made with other settings)")
    run_cmd.add_argument("--init-mask", action="store_true", help="start from the first ground-truth mask")
    run_cmd.add_argument("--synthetic", default="", metavar="NAMES", help="for --dataset synthetic with a new root: "
                         "the suite sequences to write (default all), e.g. clean,occlusion")
    run_cmd.add_argument("--synthetic-size", default="320x240", metavar="WxH",
                         help="size of written synthetic frames (default 320x240)")
    run_cmd.add_argument("--synthetic-frames", type=int, default=60, metavar="N",
                         help="frames per written synthetic sequence (default 60)")

    for name, text in (("report", "score the result folders under --out (and --results) and write the report"),
                       ("compare", "score published raw results (--results) beside ours and write the report")):
        sub = commands.add_parser(name, help=text)
        data(sub, many=False)
        sub.add_argument("--trackers", metavar="NAMES",
                         help="our tracker folders under --out/<dataset> (default: all with records)")
        sub.add_argument("--results", action="append", default=[], metavar="NAME=DIR[:FORMAT]",
                         help=f"a result folder to score, format one of {', '.join(BOX_FORMATS + MASK_FORMATS)} "
                              "(default: the dataset's)")

    vot_cmd = commands.add_parser("vot", help="VOT-style supervised run (resets after failures): accuracy, failures")
    vot_cmd.add_argument("--root", required=True, metavar="DIR", help="a VOT dataset folder (list.txt + sequences)")
    vot_cmd.add_argument("--out", default="runs/eval/vot", metavar="DIR", help="output folder (default runs/eval/vot)")
    vot_cmd.add_argument("--region", default="box", choices=REGIONS, help="what the tracker reports (default box)")
    trackers(vot_cmd)

    ini = commands.add_parser("trackers-ini", help="write the VOT toolkit's trackers.ini for this environment")
    ini.add_argument("--out", required=True, metavar="FILE", help="where to write it (the VOT workspace's "
                                                                    "trackers.ini)")
    ini.add_argument("--weights", default="", metavar="FILE", help="JcatNet weights for the jcat entries")

    commands.add_parser("list", help="the known trackers and dataset families")
    args = parser.parse_args(argv)
    if args.command == "run" and len(args.dataset) != len(args.root):
        parser.error("give one --root per --dataset")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Console script ``jcat-eval``; returns the exit status."""
    args = parse_args(argv)
    try:
        _check_roots(args)
        if args.command == "list":
            print("trackers:", ", ".join(known_trackers()))
            print("datasets:", ", ".join(LOADERS))
            return 0
        if args.command == "vot":
            return _vot(args)
        if args.command == "trackers-ini":
            return _trackers_ini(args)
        if args.command == "run":
            return _run(args)
        return _report(args)
    except ValueError as error:
        print(f"jcat-eval: error: {error}", file=sys.stderr)
        return 2


def _roots(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The command's (dataset family, --root) pairs."""
    if args.command == "run":
        return list(zip(args.dataset, args.root, strict=True))
    if args.command in ("report", "compare"):
        return [(args.dataset, args.root)]
    return [("vot", args.root)] if args.command == "vot" else []


def _check_roots(args: argparse.Namespace) -> None:
    """Refuse every bad --root before anything runs or is written: a missing one, one that is not a folder, and for
    ``run --dataset synthetic`` an existing folder without a list.txt (the suite is only written into a folder
    that ``run`` creates, so the user's own files are never mixed in or scored as the suite)."""
    for family, root in _roots(args):
        path = Path(root).expanduser()
        if family == "synthetic" and args.command == "run" and not _has_list(path):
            if path.exists():
                raise ValueError(f"--root {root} exists but has no list.txt: jcat-eval writes the synthetic suite "
                                 "only into a folder that does not exist yet. Give a new --root, add a list.txt "
                                 "naming the sequences to score, or use --dataset got10k for your own sequences")
            continue  # _run creates it and writes the suite there
        if not path.exists():
            raise ValueError(f"--root {root} does not exist")
        if not path.is_dir():
            raise ValueError(f"--root {root} is not a folder")


def _has_list(root: Path) -> bool:
    """Whether ROOT holds a list.txt (a written synthetic suite, or the user's list of sequences)."""
    return (root / "list.txt").is_file()


def _specs(args: argparse.Namespace) -> list[TrackerSpec]:
    """The trackers that ``run`` and ``vot`` build, from --trackers and their options; says which weights JCAT
    takes (ValueError for a weight file that is not there)."""
    specs = parse_trackers(args.trackers, args.weights, args.device, args.profile, parse_params(args.param))
    for spec in specs:
        if spec.weights_description:
            print(f"[jcat-eval] weights for {spec.name}: {spec.weights_description}", flush=True)
    return specs


def _load(family: str, root: str, split: str | None) -> Dataset:
    options = {"split": split} if split and family in SPLIT_LOADERS else {}
    return load_dataset(family, root, **options)


def _run(args: argparse.Namespace) -> int:
    """Load every dataset, refuse a resume over results made with other settings (before anything runs), run,
    report; NOTHING_TRACKED when no tracker/sequence pair was tracked in any dataset."""
    specs = _specs(args)
    out = Path(args.out)
    overview: dict = {"datasets": {}, "skipped_datasets": []}
    loaded: list[tuple[str, Dataset]] = []
    for family, root in _roots(args):
        if family == "synthetic" and not _has_list(Path(root).expanduser()):
            width, height = (int(v) for v in args.synthetic_size.lower().split("x"))
            names = tuple(n for n in args.synthetic.split(",") if n) or None
            write_synthetic(Path(root).expanduser(), names, height=height, width=width,
                            num_frames=args.synthetic_frames)
            print(f"[jcat-eval] wrote synthetic sequences to {root}")
        try:
            dataset = _load(family, root, args.split)
        except LayoutError as error:
            print(f"jcat-eval: skipping {family}: {error}", file=sys.stderr)
            overview["skipped_datasets"].append({"dataset": family, "root": root, "reason": str(error)})
            continue
        _print_problems(dataset)
        loaded.append((family, dataset))
    if not args.fresh:
        for family, dataset in loaded:
            check_resume(dataset, specs, out / family, args.init_mask)
    tracked = 0
    for family, dataset in loaded:
        folder = out / family
        records = run(dataset, specs, folder, workers=args.workers, resume=not args.fresh,
                      progress=not args.no_progress, init_mask=args.init_mask)
        sources = [ResultSource(s.name, folder / s.name, dataset.result_format) for s in specs]
        report(dataset, sources, folder, records)
        overview["datasets"][family] = str(folder / "summary.json")
        print((folder / "report.md").read_text())
        done = sum(r.status == "done" for r in records)
        if not done:
            print(f"[jcat-eval] {family}: nothing was tracked ({len(dataset.sequences)} sequences to run, "
                  f"{len(records)} runs, none finished): see {folder / 'report.md'}", file=sys.stderr)
        tracked += done
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(json.dumps(overview, indent=1))
    for item in overview["skipped_datasets"]:
        print(f"[jcat-eval] skipped dataset {item['dataset']} ({item['root']}): see {out / 'run.json'}")
    if not tracked:
        print(f"jcat-eval: nothing was tracked: every sequence was skipped or failed, or there were none "
              f"(exit status {NOTHING_TRACKED})", file=sys.stderr)
        return NOTHING_TRACKED
    return 0


def _report(args: argparse.Namespace) -> int:
    try:
        dataset = _load(args.dataset, args.root, args.split)
    except LayoutError as error:
        print(f"jcat-eval: error: {error}", file=sys.stderr)
        return 2
    folder = Path(args.out) / args.dataset
    if args.trackers:
        ours = [n.strip() for n in args.trackers.split(",") if n.strip()]
    else:
        ours = sorted(p.name for p in folder.iterdir() if (p / "records").is_dir()) if folder.is_dir() else []
    sources = [ResultSource(name, folder / name, dataset.result_format) for name in ours]
    for item in args.results:
        name, _, path = item.partition("=")
        fmt = dataset.result_format
        head, _, tail = path.rpartition(":")
        if head and tail in BOX_FORMATS + MASK_FORMATS:
            path, fmt = head, tail
        if not name or not path:
            raise ValueError(f"--results takes NAME=DIR[:FORMAT], got {item!r}")
        sources.append(ResultSource(name, Path(path), fmt))
    if args.command == "compare" and not args.results:
        raise ValueError("compare needs at least one --results NAME=DIR[:FORMAT] (published raw results)")
    if not sources:
        raise ValueError(f"no result folders: nothing under {folder} and no --results")
    _print_problems(dataset)
    report(dataset, sources, folder, record_list(dataset, folder, ours))
    print((folder / "report.md").read_text())
    return 0


def _vot(args: argparse.Namespace) -> int:
    try:
        dataset = load_dataset("vot", args.root)
    except LayoutError as error:
        print(f"jcat-eval: error: {error}", file=sys.stderr)
        return 2
    _print_problems(dataset)
    specs = _specs(args)
    summary = run_supervised(dataset, specs, Path(args.out), SupervisedConfig(region=args.region),
                             progress=not args.no_progress)
    for name, entry in summary["trackers"].items():
        accuracy = "-" if entry["accuracy"] is None else f"{entry['accuracy']:.3f}"
        print(f"{name:>12}: accuracy {accuracy}, failures {entry['failures']}")
    print(f"[jcat-eval] {Path(args.out) / 'vot_summary.json'}")
    return 0


def _trackers_ini(args: argparse.Namespace) -> int:
    """Fill config/vot/trackers.ini's placeholders with this interpreter and the weights."""
    if not TRACKERS_INI.is_file():
        raise ValueError(f"the template {TRACKERS_INI} is not there: trackers-ini works from a source checkout "
                         "(config/vot/trackers.ini)")
    text = TRACKERS_INI.read_text().replace("@PYTHON@", sys.executable)
    if args.weights:
        text = text.replace("@WEIGHTS@", str(Path(args.weights).expanduser().resolve()))
    else:  # build_tracker's default weights
        text = text.replace(" --weights @WEIGHTS@", "")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"[jcat-eval] wrote {out}")
    return 0


def _print_problems(dataset: Dataset) -> None:
    for problem in dataset.problems:
        kind = "skipping" if problem.skipped else "note"
        print(f"[jcat-eval] {dataset.name}: {kind} {problem.sequence}: {problem.message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
