"""Trackers by name for the runner, the CLI and the VOT wrapper: "jcat" (needs weights), "standin" (the colour-key
test network) and the OpenCV baselines; all follow the same initialize/track contract."""

from __future__ import annotations

from dataclasses import dataclass

from jcat_core.eval.baselines import OpenCVTracker, available_baselines
from jcat_core.tracker import AUTO, STANDIN, build_tracker

JCAT_NAMES = ("jcat", "standin")


@dataclass(frozen=True)
class TrackerSpec:
    """What builds one tracker (picklable, so worker processes build their own)."""

    name: str
    weights: str | None = None  # JcatNet weights for "jcat"; None = build_tracker's default (the demo weights)
    device: str = "cpu"
    profile: str = AUTO  # TrackerParams profile: auto (chosen from the weights), default, vot or lite
    params: tuple[tuple[str, float | int | str], ...] = ()  # TrackerParams overrides for "jcat"/"standin"

    @property
    def takes_polygons(self) -> bool:
        """Whether VOT regions reach this tracker as polygons: the published VOT tracker (JCAT's ``vot`` profile)
        takes them so (``JcatTracker.initialize(polygon=...)``); the others take their bounds as a box."""
        return self.name in JCAT_NAMES and self.profile == "vot"

    def build(self) -> object:
        """A fresh tracker."""
        if self.name in JCAT_NAMES:
            weights = STANDIN if self.name == "standin" else self.weights
            return build_tracker(weights, device=self.device, profile=self.profile, **dict(self.params))
        return OpenCVTracker(self.name)


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
    trackers only."""
    chosen = [n.strip().lower() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in known_trackers()]
    if unknown or not chosen:
        raise ValueError(f"unknown tracker(s) {unknown or names!r}; known: {', '.join(known_trackers())}")
    return [TrackerSpec(n, weights if n == "jcat" else None, device, profile, params if n in JCAT_NAMES else ())
            for n in dict.fromkeys(chosen)]
