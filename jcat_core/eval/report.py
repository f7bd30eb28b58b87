"""Score result folders (our runs or published raw results) against a dataset and write the report: summary.json,
report.md and the plots. Protocol details, per family:

- the initialisation frame is scored for OTB, LaSOT and TrackingNet (their toolkits count it) and left out for
  GOT-10k, VOT and the synthetic sequences (GOT-10k's toolkit drops it);
- GOT-10k's IoU is taken on both boxes bounded by the image (its toolkit's ``rect_iou(..., bound=resolution)``),
  the other families' on the boxes as given (OTB's and LaSOT's toolkits do not bound them);
- OTB and LaSOT are scored as their MATLAB toolkits score them (``SCORING``: invalid predictions hold the previous
  box, the first prediction is the ground truth, every frame counts in the divisor, rejected ground-truth rows fail
  overlap and pass distance; see ``metrics``); the other families score the frames where the target is present.
  ``report(..., protocol=PRESENT_FRAMES)`` scores OTB/LaSOT that way too;
- mask benchmarks score J&F per object over the annotated frames, without the first and (DAVIS) last frame;
  the synthetic sequences are scored on both boxes and masks;
- sequences of a test split (ground truth withheld) are listed as unscored: their files go to the server.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from jcat_core.eval import plots, results
from jcat_core.eval.baselines import available_baselines
from jcat_core.eval.datasets import Dataset, Sequence
from jcat_core.eval.metrics import (
    LASOT_TOOLKIT,
    OTB_TOOLKIT,
    PRESENT_FRAMES,
    BoxMetrics,
    MaskMetrics,
    ScoringProtocol,
    aggregate,
    evaluate_boxes,
    evaluate_masks,
)
from jcat_core.eval.runner import SequenceRecord, box_folder, box_format, read_record

SCORES_FIRST_FRAME = frozenset({"otb", "lasot", "trackingnet"})
BOUNDS_BY_IMAGE = frozenset({"got10k"})  # its toolkit bounds both boxes by the image before IoU; the others do not
SCORING = {"otb": OTB_TOOLKIT, "lasot": LASOT_TOOLKIT}  # as their MATLAB toolkits; the other families PRESENT_FRAMES


def scoring_protocol(family: str) -> ScoringProtocol:
    """How a dataset family's boxes are scored by default (SCORING, else PRESENT_FRAMES)."""
    return SCORING.get(family, PRESENT_FRAMES)


@dataclass(frozen=True)
class ResultSource:
    """A tracker's result folder and its format (ours: the dataset's; published: any of results.BOX_FORMATS)."""

    name: str
    folder: Path
    fmt: str


@dataclass
class TrackerScores:
    """One tracker's scores on one dataset."""

    name: str
    boxes: dict[str, BoxMetrics] = field(default_factory=dict)
    masks: dict[str, MaskMetrics] = field(default_factory=dict)
    fps: dict[str, float] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)  # sequence -> why it has no score

    @property
    def overall(self) -> BoxMetrics:
        return aggregate(list(self.boxes.values()))


def score_tracker(dataset: Dataset, source: ResultSource, protocol: ScoringProtocol | None = None) -> TrackerScores:
    """Score every scored sequence of the dataset that the result folder has, with the family's scoring protocol
    unless one is given."""
    protocol = scoring_protocol(dataset.family) if protocol is None else protocol
    scores = TrackerScores(source.name)
    for sequence in dataset.sequences:
        if not sequence.scored:  # a test split: no score, but the speed of the run
            _add_fps(scores, source, sequence)
            continue
        try:
            if dataset.result_format not in results.MASK_FORMATS:
                scores.boxes[sequence.name] = _score_boxes(dataset, sequence, source, protocol)
            if dataset.masks and sequence.masks is not None:  # a GOT-10k set may have masks for some only
                scores.masks[sequence.name] = _score_masks(dataset, sequence, source)
        except (OSError, ValueError) as error:
            scores.missing[sequence.name] = str(error)
            scores.boxes.pop(sequence.name, None)
            scores.masks.pop(sequence.name, None)
            continue
        _add_fps(scores, source, sequence)
    return scores


def _add_fps(scores: TrackerScores, source: ResultSource, sequence: Sequence) -> None:
    """The frames per second of track() on a sequence, from the result folder's time file when it has one."""
    try:
        times = results.read_times(box_folder(source.fmt, source.folder), box_format(source.fmt), sequence.name)
    except (OSError, ValueError):
        return
    if times is not None and len(times) > sequence.start + 1 and times[sequence.start + 1:].sum() > 0:
        scores.fps[sequence.name] = float(len(times[sequence.start + 1:]) / times[sequence.start + 1:].sum())


def _score_boxes(dataset: Dataset, sequence: Sequence, source: ResultSource, protocol: ScoringProtocol) -> BoxMetrics:
    pred = results.read_boxes(box_folder(source.fmt, source.folder), box_format(source.fmt), sequence.name)
    if protocol.cut_long_results:
        pred = pred[:len(sequence)]
    if len(pred) != len(sequence):
        raise ValueError(f"{len(pred)} result boxes for {len(sequence)} frames")
    first = sequence.start if dataset.family in SCORES_FIRST_FRAME else sequence.start + 1
    visible = None if sequence.visible is None else sequence.visible[first:]
    image_size = sequence.frame_size() if dataset.family in BOUNDS_BY_IMAGE else None
    metrics = evaluate_boxes(pred[first:], sequence.boxes[first:], visible, image_size, protocol)
    return replace(metrics, frames=metrics.frames + first)


def _score_masks(dataset: Dataset, sequence: Sequence, source: ResultSource) -> MaskMetrics:
    last = len(sequence) - 1 if dataset.family == "davis" else len(sequence)
    pred, truth = [], []
    for index in range(sequence.start + 1, last):
        gt = sequence.mask(index)
        if gt is None:
            continue
        pred.append(_result_mask(dataset, sequence, source, index, gt.shape))
        truth.append(gt)
    return evaluate_masks(pred, truth)


def _result_mask(dataset: Dataset, sequence: Sequence, source: ResultSource, index: int,
                 shape: tuple[int, int]) -> np.ndarray:
    """Our per-object mask file, else the object's pixels in a merged label PNG; a missing file is an empty mask."""
    frame = sequence.frames[index].stem
    mask = results.read_mask(results.mask_file(source.folder, sequence.name, frame))
    if mask is None and dataset.result_format in results.MASK_FORMATS and sequence.object_id is not None:
        video = sequence.tags.get("video", sequence.name)
        mask = results.read_object_mask(source.folder, dataset.result_format, video, frame, sequence.object_id)
    if mask is None and source.fmt == "vot":
        mask = results.read_vot_mask(source.folder, sequence.name, index, shape)
    if mask is None:
        raise FileNotFoundError(f"no result mask for frame {frame} of {sequence.name} in {source.folder}")
    if mask.shape != shape:
        raise ValueError(f"result mask {mask.shape} for frame {frame} of {sequence.name}, image is {shape}")
    return mask


def attribute_scores(dataset: Dataset, scores: TrackerScores) -> dict[str, dict[str, float]]:
    """Per-attribute scores: per-frame flags (VOT tags) pool the flagged frames; sequence labels (GOT-10k classes,
    LaSOT categories) aggregate the sequences carrying them."""
    table: dict[str, dict[str, float]] = {}
    flagged: dict[str, list[np.ndarray]] = {}
    labelled: dict[str, list[BoxMetrics]] = {}
    for sequence in dataset.sequences:
        metrics = scores.boxes.get(sequence.name)
        if metrics is None:
            continue
        for name, flags in sequence.attributes.items():
            flagged.setdefault(name, []).append(metrics.ious[flags[metrics.frames]])
        for key, value in sequence.tags.items():
            if key != "video":
                labelled.setdefault(f"{key}={value}", []).append(metrics)
    for name, parts in sorted(flagged.items()):
        ious = np.concatenate(parts)
        table[name] = {"frames": len(ious), "mean_iou": float(ious.mean()) if len(ious) else math.nan}
    for name, parts in sorted(labelled.items()):
        total = aggregate(parts)
        table[name] = {"sequences": len(parts), "auc": total.auc, "ao": total.ao}
    return table


def summarize(dataset: Dataset, sources: list[ResultSource], scored: list[TrackerScores],
              records: list[SequenceRecord] | None = None) -> dict:
    """The JSON-ready summary of a dataset's results: overall and per-sequence scores of every tracker, attributes,
    speed, and every sequence that was skipped, failed, unscored or missing, with the reason."""
    summary: dict = {
        "dataset": dataset.name, "family": dataset.family, "root": str(dataset.root),
        "sequences": len(dataset.sequences), "trackers": {},
        "skipped": [{"sequence": p.sequence, "reason": p.message} for p in dataset.problems if p.skipped],
        "notes": [{"sequence": p.sequence, "note": p.message} for p in dataset.problems if not p.skipped],
        "unscored": [s.name for s in dataset.sequences if not s.scored],
        "failed": [{"tracker": r.tracker, "sequence": r.sequence, "reason": r.message}
                   for r in records or [] if r.status != "done"],
    }
    for source, scores in zip(sources, scored, strict=True):
        entry: dict = {"results": str(source.folder), "format": source.fmt, "missing": scores.missing}
        if scores.boxes:
            entry["overall"] = _clean(scores.overall.scores())
            entry["scoring"] = scores.overall.protocol.name  # present-frames, otb-toolkit or lasot-toolkit
        if scores.masks:
            entry["overall_masks"] = _clean(_mask_overall(scores.masks))
        speeds = list(scores.fps.values())
        entry["fps"] = float(np.median(speeds)) if speeds else None
        entry["per_sequence"] = {
            name: _clean({**(scores.boxes[name].scores() if name in scores.boxes else {}),
                          **({"jf": scores.masks[name].jf_mean, "j": scores.masks[name].j_mean,
                              "f": scores.masks[name].f_mean} if name in scores.masks else {}),
                          "fps": scores.fps.get(name)})
            for name in sorted(set(scores.boxes) | set(scores.masks))}
        entry["attributes"] = {k: _clean(v) for k, v in attribute_scores(dataset, scores).items()}
        if records:
            settings = next((r.settings for r in records if r.tracker == source.name and r.settings), None)
            if settings:  # what made the results: weights (JCAT), profile, parameters, start
                entry["settings"] = settings
                if settings.get("weights"):
                    entry["weights"] = {"path": settings["weights"]["path"],
                                        "description": settings["weights"].get("description", "")}
            own = [r for r in records if r.tracker == source.name and r.status == "done"]
            if own:
                frames, seconds = sum(r.frames for r in own), sum(r.seconds - r.init_seconds for r in own)
                entry["run"] = {"sequences": len(own), "frames": frames, "seconds": seconds,
                                "fps": frames / seconds if seconds > 0 else None}
        summary["trackers"][source.name] = entry
    return summary


def markdown(summary: dict) -> str:
    """A short human-readable report: the score table, then everything skipped, failed or unscored."""
    lines = [f"# {summary['dataset']} ({summary['sequences']} sequences, {summary['root']})", ""]
    has_masks = any("overall_masks" in t for t in summary["trackers"].values())
    header = ["tracker", "AUC", "P@20", "norm. P", "AO", "SR0.5", "SR0.75", "fps"] + (["J&F", "J", "F"] if has_masks
                                                                                     else [])
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, entry in summary["trackers"].items():
        box = entry.get("overall", {})
        cells = [name] + [_cell(box.get(k)) for k in ("auc", "precision_20", "normalized_precision", "ao", "sr50",
                                                     "sr75")]
        cells.append(_cell(entry["fps"] if entry.get("fps") is not None else entry.get("run", {}).get("fps"), 1))
        if has_masks:
            cells += [_cell(entry.get("overall_masks", {}).get(k)) for k in ("jf", "j", "f")]
        lines.append("| " + " | ".join(cells) + " |")
    weights = {name: entry["weights"] for name, entry in summary["trackers"].items() if "weights" in entry}
    if weights:
        lines += ["", "## Weights", ""] + [f"- {name}: {w['description'] or w['path']}" for name, w in weights.items()]
    if any("overall" in t for t in summary["trackers"].values()):
        lines += _per_sequence_table(summary, "auc")
    if has_masks:
        lines += _per_sequence_table(summary, "jf")
    lines += _attribute_table(summary)
    for title, key, fields in (("Skipped sequences", "skipped", ("sequence", "reason")),
                               ("Failed runs", "failed", ("tracker", "sequence", "reason")),
                               ("Notes", "notes", ("sequence", "note"))):
        if summary[key]:
            lines += ["", f"## {title}", ""] + ["- " + ": ".join(str(item[f]) for f in fields)
                                                for item in summary[key]]
    if summary["unscored"]:
        lines += ["", "## Unscored (ground truth withheld: upload the result files to the benchmark's server)", "",
                  ", ".join(summary["unscored"])]
    for name, entry in summary["trackers"].items():
        if entry["missing"]:
            lines += ["", f"## {name}: sequences without a usable result", ""]
            lines += [f"- {seq}: {why}" for seq, why in entry["missing"].items()]
    return "\n".join(lines) + "\n"


def _per_sequence_table(summary: dict, score: str) -> list[str]:
    """Sequences as rows, trackers as columns, one score (AUC, or J&F on mask benchmarks)."""
    trackers = summary["trackers"]
    sequences = sorted({seq for entry in trackers.values() for seq in entry["per_sequence"]})
    if not sequences:
        return []
    lines = ["", f"## Per sequence ({'J&F' if score == 'jf' else 'success AUC'})", "",
             "| sequence | " + " | ".join(trackers) + " |", "|" + "---|" * (len(trackers) + 1)]
    for seq in sequences:
        cells = [_cell(entry["per_sequence"].get(seq, {}).get(score)) for entry in trackers.values()]
        lines.append(f"| {seq} | " + " | ".join(cells) + " |")
    return lines


def _attribute_table(summary: dict) -> list[str]:
    """Attributes as rows: success AUC for sequence labels, mean IoU over the flagged frames for per-frame tags."""
    trackers = summary["trackers"]
    names = sorted({name for entry in trackers.values() for name in entry["attributes"]})
    if not names:
        return []
    lines = ["", "## Attributes (AUC of the sequences with a label; mean IoU of the frames with a tag)", "",
             "| attribute | " + " | ".join(trackers) + " |", "|" + "---|" * (len(trackers) + 1)]
    for name in names:
        values = [entry["attributes"].get(name, {}) for entry in trackers.values()]
        lines.append(f"| {name} | " + " | ".join(_cell(v.get("auc", v.get("mean_iou"))) for v in values) + " |")
    return lines


def write_report(summary: dict, out: Path) -> tuple[Path, Path]:
    """summary.json and report.md in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "summary.json", out / "report.md"
    json_path.write_text(json.dumps(summary, indent=1, allow_nan=False))
    md_path.write_text(markdown(summary))
    return json_path, md_path


def report(dataset: Dataset, sources: list[ResultSource], out: Path,
           records: list[SequenceRecord] | None = None, strip_frames: int = 5,
           protocol: ScoringProtocol | None = None) -> dict:
    """Score every source (with the family's scoring protocol unless one is given), write summary.json, report.md
    and the plots (plots/ under ``out``); returns the summary with the written files listed under "files"."""
    scored = [score_tracker(dataset, source, protocol) for source in sources]
    summary = summarize(dataset, sources, scored, records)
    plotted = _plots(dataset, sources, scored, Path(out) / "plots", strip_frames)
    summary["files"] = [str(Path(out) / "summary.json"), str(Path(out) / "report.md"), *map(str, plotted)]
    write_report(summary, Path(out))
    return summary


def _plots(dataset: Dataset, sources: list[ResultSource], scored: list[TrackerScores], folder: Path,
           strip_frames: int) -> list[Path]:
    files: list[Path] = []
    overall = {s.name: s.overall for s in scored if s.boxes}
    if overall:
        title = dataset.name
        files += plots.curve_plot(overall, "success", f"Success plot, {title}", folder / "success")
        files += plots.curve_plot(overall, "precision", f"Precision plot, {title}", folder / "precision")
        if dataset.family in ("lasot", "trackingnet"):
            files += plots.curve_plot(overall, "normalized", f"Normalised precision, {title}",
                                      folder / "normalized_precision")
        bars = {s.name: {seq: m.auc for seq, m in s.boxes.items()} for s in scored if s.boxes}
        files += plots.sequence_bars(bars, "AUC", f"Per-sequence success AUC, {title}", folder / "sequences_auc")
    if any(s.masks for s in scored):
        bars = {s.name: {seq: m.jf_mean for seq, m in s.masks.items()} for s in scored if s.masks}
        files += plots.sequence_bars(bars, "J&F", f"Per-sequence J&F, {dataset.name}", folder / "sequences_jf")
    for sequence in _strip_sequences(dataset, scored):
        files += _strip(dataset, sequence, sources, folder, strip_frames)
    return files


def _strip_sequences(dataset: Dataset, scored: list[TrackerScores]) -> list[Sequence]:
    """The hardest scored sequence for the first tracker (lowest AUC or J&F), or the first sequence."""
    if not dataset.sequences:
        return []
    first = next((s for s in scored if s.boxes or s.masks), None)
    if first is None:
        return [dataset.sequences[0]]
    values = {n: m.auc for n, m in first.boxes.items()} or {n: m.jf_mean for n, m in first.masks.items()}
    hardest = min(values, key=lambda n: np.nan_to_num(values[n], nan=2.0))
    return [dataset[hardest]]


def _strip(dataset: Dataset, sequence: Sequence, sources: list[ResultSource], folder: Path,
           count: int) -> list[Path]:
    boxes: dict[str, np.ndarray] = {}
    for source in sources:
        try:
            pred = results.read_boxes(box_folder(source.fmt, source.folder), box_format(source.fmt), sequence.name)
        except (OSError, ValueError):
            continue
        if len(pred) == len(sequence):
            boxes[source.name] = pred
    masks = {}
    if dataset.masks:  # OpenCV baselines' masks are their filled boxes: only real masks are tinted
        for source in sources:
            if source.name not in available_baselines() and (source.folder / "masks" / sequence.name).is_dir():
                masks[source.name] = _mask_reader(source.folder, sequence)
                boxes.setdefault(source.name, np.full((len(sequence), 4), np.nan))
    if not boxes:
        return []
    frames = sorted(set(np.linspace(sequence.start, len(sequence) - 1, count).round().astype(int).tolist()))
    return plots.qualitative_strip(sequence.image, frames, sequence.boxes, boxes, masks,
                                   f"{dataset.name}: {sequence.name}", folder / f"strip_{sequence.name}")


def _mask_reader(folder: Path, sequence: Sequence):
    def read(index: int) -> np.ndarray | None:
        return results.read_mask(results.mask_file(folder, sequence.name, sequence.frames[index].stem))
    return read


def _mask_overall(masks: dict[str, MaskMetrics]) -> dict[str, float]:
    """Mean over objects, as DAVIS reports J&F."""
    values = list(masks.values())
    j = float(np.mean([m.j_mean for m in values]))
    f = float(np.mean([m.f_mean for m in values]))
    return {"jf": (j + f) / 2, "j": j, "f": f, "j_recall": float(np.mean([m.j_recall for m in values])),
            "f_recall": float(np.mean([m.f_recall for m in values]))}


def _clean(values: dict) -> dict:
    """JSON has no NaN: undefined scores become null."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}


def _cell(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def record_list(dataset: Dataset, out: Path, names: list[str]) -> list[SequenceRecord]:
    """The run records of the named trackers under ``out``."""
    found = [read_record(out / name, s.name) for name in names for s in dataset.sequences]
    return [r for r in found if r is not None]
