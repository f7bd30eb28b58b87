"""Which weights JCAT runs with when none are named: the best available, said out loud. One choice for every tool:
``jcat-eval``, ``jcat-bag``, the ROS node and the demo."""

from __future__ import annotations

import importlib

STANDIN = "standin"
PUBLISHED = "published"  # demands the authors' JcatNet.pth.tar in its documented place


def published_hint() -> str:
    """One line on where the published weights go, for logs that fall back to other weights."""
    from jcat_core.models.checkpoint import WEIGHTS_DIR_ENV, WEIGHTS_FILENAME, default_weights_path

    return (f"for the authors' published weights, download {WEIGHTS_FILENAME} (release linked from the JCAT authors' "
            f"GitHub repository) to {default_weights_path()} (or set ${WEIGHTS_DIR_ENV}), or pass weights:=FILE")


def choose_weights(requested: str | None = None) -> tuple[str, str]:
    """(weights spec for build_tracker / the node's weights parameter, what they are). Order: the given file >
    the published JcatNet.pth.tar in its documented place > the project's demo weights > the colour-key stand-in.
    "published" demands the published file (ValueError with where to put it when it is missing)."""
    from jcat_core.models.checkpoint import default_weights_path

    published = default_weights_path()
    standin = (STANDIN, "the colour-key stand-in network: no learned weights; it shows the node and tracker "
                        f"machinery, not JCAT's accuracy (the published weights go to {published})")
    if requested == STANDIN:
        return standin
    if requested == PUBLISHED:
        if not published.is_file():
            raise ValueError(f"weights '{PUBLISHED}' asked for the published file and it is not there: "
                             f"{published_hint()}")
        return str(published), f"{published}: the authors' published JCAT weights"
    if requested:
        return requested, f"{requested} (given on the command line)"
    if published.is_file():
        return str(published), f"{published}: the authors' published JCAT weights"
    try:
        demo = importlib.import_module("jcat_core.models.demo_weights")
    except ImportError:
        return standin[0], standin[1] + "; the project's demo weights are not available yet"
    if demo.DEMO_WEIGHTS.is_file():
        return str(demo.DEMO_WEIGHTS), f"{demo.DEMO_WEIGHTS}: {demo.describe()}"
    return standin[0], standin[1] + f"; the project's demo weights ({demo.DEMO_WEIGHTS}) are not there"
