"""Run trackers over a dataset: one job per (tracker, sequence), in worker processes, resumable (a sequence with a
record is not run again), with a progress bar and per-frame timing, writing the benchmark's result format.

Under ``out/<tracker>/``: the result files (see results.py), masks/<seq>/ for mask benchmarks and the synthetic
sequences, and records/<seq>.json (status, frames, seconds, or the error) written last, so a run killed
half way resumes from the sequences that have no record.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import traceback
from collections.abc import Sequence as Seq
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
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


def run(dataset: Dataset, trackers: Seq[TrackerSpec], out: Path, workers: int = 1, resume: bool = True,
        progress: bool = True, init_mask: bool = False) -> list[SequenceRecord]:
    """Run every tracker on every sequence of the dataset (skipping finished ones when ``resume``); a sequence that
    fails is recorded with its error and the others go on. Returns all records, old and new."""
    out = Path(out)
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
    fmt, has_masks = dataset.result_format, dataset.masks
    from_mask = has_masks and (init_mask or fmt in results.MASK_FORMATS)
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
    try:
        record = _track(spec, sequence, Path(folder), fmt, has_masks, from_mask)
    except Exception as error:  # one bad sequence (unreadable frame, tracker error) must not stop the run
        where = traceback.extract_tb(error.__traceback__)[-1]
        record = SequenceRecord(spec.name, sequence.name, "failed",
                                message=f"{type(error).__name__}: {error} ({Path(where.filename).name}:{where.lineno})")
    path = record_file(folder, sequence.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(record), indent=1))
    temporary.replace(path)
    return record


_BUILT: dict[TrackerSpec, object] = {}


def _tracker(spec: TrackerSpec) -> object:
    """One tracker per spec and process; JCAT's ``initialize`` resets it, baselines make a new OpenCV object."""
    if spec not in _BUILT:
        _BUILT[spec] = spec.build()
    return _BUILT[spec]


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
