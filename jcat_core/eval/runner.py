"""Run trackers over a dataset: one job per (tracker, sequence), in worker processes, resumable (a sequence with a
record is not run again), with a progress bar and per-frame timing, writing the benchmark's result format.

Under ``out/<tracker>/``: the result files (see results.py), masks/<seq>/ for mask benchmarks and the synthetic
sequences, and records/<seq>.json (status, frames, seconds, or the error, and the settings that made it) written
last, so a run killed half way resumes from the sequences that have no record. A resume keeps only records made with
the settings of the run (``TrackerSpec.settings`` and the start); records made with others stop it
(``ResumeConflictError``) rather than being reported as its results.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import traceback
from collections.abc import Sequence as Seq
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from jcat_core.eval import results
from jcat_core.eval.datasets import Dataset, Sequence
from jcat_core.eval.datasets.base import encode_rle
from jcat_core.eval.trackers import TrackerSpec


@dataclass(frozen=True)
class SequenceRecord:
    """How one tracker did on one sequence, as a run saw it."""

    tracker: str
    sequence: str
    status: str  # "done" or "failed"
    frames: int = 0  # frames tracked after the initialisation
    seconds: float = 0.0  # time in initialize + track, without reading frames
    init_seconds: float = 0.0
    message: str = ""
    settings: dict = field(default_factory=dict, compare=False)  # what made it: TrackerSpec.settings + "start"


class ResumeConflictError(ValueError):
    """Finished records in the output folder were made with other settings than the run's."""


def box_format(fmt: str) -> str:
    """The box result format of a result format (mask benchmarks keep boxes in the GOT-10k layout under boxes/)."""
    return "got10k" if fmt in results.MASK_FORMATS else fmt


def box_folder(fmt: str, tracker_folder: Path) -> Path:
    """Where a tracker's box files are for a result format."""
    return Path(tracker_folder) / "boxes" if fmt in results.MASK_FORMATS else Path(tracker_folder)


def record_file(tracker_folder: Path, name: str) -> Path:
    return Path(tracker_folder) / "records" / f"{name}.json"


def read_record(tracker_folder: Path, name: str) -> SequenceRecord | None:
    path = record_file(tracker_folder, name)
    return SequenceRecord(**json.loads(path.read_text())) if path.is_file() else None


def starts_from_mask(dataset: Dataset, init_mask: bool = False) -> bool:
    """Whether the trackers start from the first ground-truth mask (mask benchmarks always; --init-mask where the
    dataset has masks) rather than the first box."""
    return bool(dataset.masks and (init_mask or dataset.result_format in results.MASK_FORMATS))


def run_settings(spec: TrackerSpec, from_mask: bool) -> dict:
    """What a record remembers of the run that made it."""
    return {**spec.settings(), "start": "mask" if from_mask else "box"}


def settings_changes(recorded: dict, current: dict) -> list[str]:
    """What differs between a record's settings and the run's, one phrase each ([] when they agree); a weight
    file's description does not count (the same file chosen by default or named)."""
    if not recorded:
        return ["unknown settings (a jcat-eval that did not record them)"]
    changes = []
    for key in dict.fromkeys([*recorded, *current]):
        old, new = recorded.get(key), current.get(key)
        if key == "weights":
            old, new = (None if w is None else {k: v for k, v in w.items() if k != "description"} for w in (old, new))
        if old != new:
            changes.append(f"{key} {_shown(key, old)} (this run: {_shown(key, new)})")
    return changes


def _shown(key: str, value) -> str:
    if key == "weights" and isinstance(value, dict) and value.get("size") is not None:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value["mtime_ns"] / 1e9))
        return f"{value['path']} ({value['size']} bytes, modified {when})"
    if key == "weights" and isinstance(value, dict):
        return str(value.get("path"))
    return "none" if value is None else json.dumps(value) if isinstance(value, dict) else str(value)


def check_resume(dataset: Dataset, trackers: Seq[TrackerSpec], out: Path, init_mask: bool = False) -> None:
    """ResumeConflictError when a finished record under ``out`` was made with other settings than these trackers
    would run with: a resume would report those results as this run's. Failed records are run again anyway."""
    from_mask = starts_from_mask(dataset, init_mask)
    problems = []
    for spec in trackers:
        current = run_settings(spec, from_mask)
        changed: dict[str, list[str]] = {}
        for sequence in dataset.sequences:
            record = read_record(Path(out) / spec.name, sequence.name)
            if record is not None and record.status == "done":
                for change in settings_changes(record.settings, current):
                    changed.setdefault(change, []).append(sequence.name)
        for change, names in changed.items():
            problems.append(f"{Path(out) / spec.name}: {len(names)} finished sequence(s) ({', '.join(names[:3])}"
                            f"{', ...' if len(names) > 3 else ''}) were made with {change}")
    if problems:
        raise ResumeConflictError("resuming would report results made with other settings as this run's:\n  "
                                  + "\n  ".join(problems) + "\nUse --fresh to run them again with these settings, "
                                  "or another --out to keep both")


def run(dataset: Dataset, trackers: Seq[TrackerSpec], out: Path, workers: int = 1, resume: bool = True,
        progress: bool = True, init_mask: bool = False) -> list[SequenceRecord]:
    """Run every tracker on every sequence of the dataset (skipping finished ones when ``resume``;
    ResumeConflictError when they were made with other settings); a sequence that fails is recorded with its error
    and the others go on. Returns all records, old and new."""
    out = Path(out)
    fmt, has_masks = dataset.result_format, dataset.masks
    from_mask = starts_from_mask(dataset, init_mask)
    if resume:
        check_resume(dataset, trackers, out, init_mask)
    jobs, finished = [], []
    for spec in trackers:
        for sequence in dataset.sequences:
            record = read_record(out / spec.name, sequence.name) if resume else None
            if record is not None and record.status == "done":
                finished.append(record)
            else:
                jobs.append((spec, sequence))
    if finished:
        print(f"[jcat-eval] {dataset.name}: {len(finished)} finished tracker/sequence pairs kept (resume), "
              f"{len(jobs)} to run", flush=True)
    bar = tqdm(total=len(jobs), desc=f"{dataset.name}", unit="seq", disable=not progress)
    new: list[SequenceRecord] = []
    if workers <= 1 or len(jobs) <= 1:
        for spec, sequence in jobs:
            new.append(run_sequence(spec, sequence, out / spec.name, fmt, has_masks, from_mask))
            bar.set_postfix_str(f"{spec.name}/{sequence.name}")
            bar.update()
    else:
        context = multiprocessing.get_context("spawn")  # torch and OpenCV are not fork-safe
        threads = max(1, (os.cpu_count() or 1) // workers)
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_limit_threads,
                                 initargs=(threads,)) as pool:
            futures = [pool.submit(run_sequence, spec, sequence, out / spec.name, fmt, has_masks, from_mask)
                       for spec, sequence in jobs]
            for future in as_completed(futures):
                record = future.result()
                new.append(record)
                bar.set_postfix_str(f"{record.tracker}/{record.sequence}")
                bar.update()
    bar.close()
    if fmt in results.MASK_FORMATS:
        for spec in trackers:
            write_label_images(dataset, out / spec.name)
    return finished + new


def run_sequence(spec: TrackerSpec, sequence: Sequence, folder: Path, fmt: str, has_masks: bool,
                 from_mask: bool = False) -> SequenceRecord:
    """Track one sequence from its start frame and write its result files and record; errors become a
    "failed" record naming the problem."""
    settings = run_settings(spec, from_mask)
    try:
        record = replace(_track(spec, sequence, Path(folder), fmt, has_masks, from_mask), settings=settings)
    except Exception as error:  # one bad sequence (unreadable frame, tracker error) must not stop the run
        where = traceback.extract_tb(error.__traceback__)[-1]
        record = SequenceRecord(spec.name, sequence.name, "failed",
                                message=f"{type(error).__name__}: {error} ({Path(where.filename).name}:{where.lineno})",
                                settings=settings)
    path = record_file(folder, sequence.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(record), indent=1))
    temporary.replace(path)
    return record


_BUILT: dict[tuple[TrackerSpec, str], object] = {}


def _tracker(spec: TrackerSpec) -> object:
    """One tracker per spec (and weight file version) and process; JCAT's ``initialize`` resets it, baselines make a
    new OpenCV object."""
    key = (spec, json.dumps(spec.settings(), sort_keys=True))
    if key not in _BUILT:
        _BUILT[key] = spec.build()
    return _BUILT[key]


def _track(spec: TrackerSpec, sequence: Sequence, folder: Path, fmt: str, has_masks: bool,
           from_mask: bool) -> SequenceRecord:
    tracker = _tracker(spec)
    n, start = len(sequence), sequence.start
    boxes = np.full((n, 4), np.nan)
    times = np.zeros(n)
    image = sequence.image(start)
    init_mask = sequence.mask(start) if has_masks else None
    began = time.perf_counter()
    if from_mask and init_mask is not None and init_mask.any():
        tracker.initialize(image, mask=init_mask)  # type: ignore[attr-defined]
    else:
        tracker.initialize(image, box=tuple(float(v) for v in sequence.init_box))  # type: ignore[attr-defined]
    times[start] = time.perf_counter() - began
    boxes[start] = sequence.init_box
    entries = [results.VOT_SKIP] * n  # the VOT format: "1" on initialisation, then regions (masks as RLE)
    entries[start] = results.VOT_INIT
    if has_masks and init_mask is not None:
        results.write_mask(results.mask_file(folder, sequence.name, sequence.frames[start].stem), init_mask)
    for index in range(start + 1, n):
        image = sequence.image(index)
        began = time.perf_counter()
        output = tracker.track(image)  # type: ignore[attr-defined]
        times[index] = time.perf_counter() - began
        boxes[index] = output.box
        if has_masks:
            results.write_mask(results.mask_file(folder, sequence.name, sequence.frames[index].stem), output.mask)
        if fmt == "vot":
            entries[index] = encode_rle(output.mask) if has_masks else results.vot_region(boxes[index])
    if fmt == "vot":
        results.write_vot(folder, sequence.name, entries, times)
    else:
        results.write_boxes(box_folder(fmt, folder), box_format(fmt), sequence.name, boxes, times)
    return SequenceRecord(spec.name, sequence.name, "done", frames=n - 1 - start, seconds=float(times.sum()),
                          init_seconds=float(times[start]))


def _limit_threads(threads: int) -> None:
    """Worker start-up: share the cores between workers instead of each torch pool taking all of them."""
    torch.set_num_threads(threads)
    cv2.setNumThreads(1)


def write_label_images(dataset: Dataset, tracker_folder: Path) -> None:
    """Merge a mask benchmark's per-object masks into its label PNGs (DAVIS: <video>/<frame>.png; YouTube-VOS:
    Annotations/<video>/<frame>.png), every frame of every video, as the servers expect."""
    labels = results.label_folder(tracker_folder, dataset.result_format)
    videos: dict[str, list[Sequence]] = {}
    for sequence in dataset.sequences:
        videos.setdefault(sequence.tags.get("video", sequence.name), []).append(sequence)
    for video, objects in videos.items():
        shape = None
        for index, frame in enumerate(objects[0].frames):
            masks = {s.object_id or 1: results.read_mask(results.mask_file(tracker_folder, s.name, frame.stem))
                     for s in objects if index < len(s)}
            if shape is None:
                shape = next((m.shape for m in masks.values() if m is not None), None)
            if shape is not None:
                results.write_labels(labels / video / f"{frame.stem}.png", results.merge_labels(masks, shape))
