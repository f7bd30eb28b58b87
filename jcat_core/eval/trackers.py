"""Trackers by name for the runner, the CLI and the VOT wrapper: "jcat" (needs weights), "standin" (the colour-key
test network) and the OpenCV baselines; all follow the same initialize/track contract."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jcat_core.eval.baselines import OpenCVTracker, available_baselines
from jcat_core.models.checkpoint import WEIGHTS_DIR_ENV, WEIGHTS_FILENAME, default_weights_path
from jcat_core.models.weights_choice import choose_weights
from jcat_core.tracker import AUTO, STANDIN, build_tracker

JCAT_NAMES = ("jcat", "standin")


@dataclass(frozen=True)
class TrackerSpec:
    """What builds one tracker (picklable, so worker processes build their own)."""

    name: str
    weights: str | None = None  # JcatNet weights for "jcat"; None = build_tracker's default (the demo weights)
    device: str = "cpu"
    profile: str = AUTO  # TrackerParams profile: auto (chosen from the weights), default, vot, lite or vot2020
    params: tuple[tuple[str, float | int | str], ...] = ()  # TrackerParams overrides for "jcat"/"standin"
    weights_description: str = ""  # what the weights are, as choose_weights says (printed and reported)

    @property
    def takes_polygons(self) -> bool:
        """Whether VOT regions reach this tracker as polygons: the published VOT tracker (JCAT's ``vot`` profile)
        takes them so (``JcatTracker.initialize(polygon=...)``); the others take their bounds as a box (and the
        VOT2020 mask tracker, ``vot2020``, the toolkit's mask where there is one)."""
        return self.name in JCAT_NAMES and self.profile == "vot"

    def build(self) -> object:
        """A fresh tracker."""
        if self.name in JCAT_NAMES:
            weights = STANDIN if self.name == "standin" else self.weights
            return build_tracker(weights, device=self.device, profile=self.profile, **dict(self.params))
        return OpenCVTracker(self.name)

    def settings(self) -> dict:
        """What makes this tracker's results, as run records keep it (a resume compares it): the name, and for
        JCAT/the stand-in the weights (resolved path, size and modification time, what they are), the profile and
        the parameter overrides. Not the device."""
        if self.name not in JCAT_NAMES:
            return {"tracker": self.name}
        if self.name == "standin" or self.weights == STANDIN:
            weights = {"path": STANDIN, "description": self.weights_description or "the colour-key stand-in network"}
        else:
            weights = weights_identity(self.weights or _demo_weights())
            weights["description"] = self.weights_description or (
                "build_tracker's default, the project's demo weights" if self.weights is None else str(self.weights))
        return {"tracker": self.name, "weights": weights, "profile": self.profile, "params": dict(self.params)}


def _demo_weights() -> str:
    from jcat_core.models.demo_weights import DEMO_WEIGHTS

    return str(DEMO_WEIGHTS)


def weights_identity(path: str) -> dict:
    """A weight file's cheap identity: its resolved path, size and modification time (a file retrained in place
    differs)."""
    resolved = Path(path).expanduser().resolve()
    try:
        stat = resolved.stat()
    except OSError:
        return {"path": str(resolved), "size": None, "mtime_ns": None}
    return {"path": str(resolved), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def choose_jcat_weights(requested: str | None = None) -> tuple[str, str]:
    """(weights, what they are) for "jcat": ``choose_weights``' choice (the given file, else the published
    JcatNet.pth.tar where it belongs, else the demo weights), a file resolved to its absolute path; ValueError when
    the file is not there, so that nothing runs with weights that cannot load."""
    weights, description = choose_weights(requested)
    if weights == STANDIN:
        return weights, description
    path = Path(weights).expanduser()
    if not path.is_file():
        hint = (f" (the authors' published {WEIGHTS_FILENAME}, from the release linked in their GitHub repository, "
                f"goes to {default_weights_path()} or ${WEIGHTS_DIR_ENV}; without --weights it is taken from there)"
                if path.name == WEIGHTS_FILENAME else "")
        raise ValueError(f"weight file not found: {weights}{hint}")
    return str(path.resolve()), description


def known_trackers() -> list[str]:
    return [*JCAT_NAMES, *available_baselines()]


def parse_params(items: list[str]) -> tuple[tuple[str, float | int | str], ...]:
    """["segm_size=128", ...] -> (("segm_size", 128), ...): numbers where they parse, else strings."""
    parsed = []
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise ValueError(f"a tracker parameter is NAME=VALUE, got {item!r}")
        value: float | int | str = text
        for kind in (int, float):
            try:
                value = kind(text)
                break
            except ValueError:
                continue
        parsed.append((name.strip(), value))
    return tuple(parsed)


def parse_trackers(names: str, weights: str | None = None, device: str = "cpu", profile: str = AUTO,
                   params: tuple[tuple[str, float | int | str], ...] = ()) -> list[TrackerSpec]:
    """"jcat,csrt,kcf" -> specs, refusing unknown names with the list of known ones; ``params`` go to the JCAT
    trackers only. "jcat" gets ``choose_jcat_weights(weights)``: without weights, the published file when it is in
    its place, else the demo weights (ValueError for a weight file that is not there)."""
    chosen = [n.strip().lower() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in known_trackers()]
    if unknown or not chosen:
        raise ValueError(f"unknown tracker(s) {unknown or names!r}; known: {', '.join(known_trackers())}")
    jcat_weights, description = choose_jcat_weights(weights) if "jcat" in chosen else (None, "")
    return [TrackerSpec(n, jcat_weights if n == "jcat" else None, device, profile, params if n in JCAT_NAMES else (),
                        description if n == "jcat" else "")
            for n in dict.fromkeys(chosen)]
