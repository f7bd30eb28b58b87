"""Which weights the bag tools and the demo use when none are named: the best available, said out loud."""

from __future__ import annotations

import importlib

STANDIN = "standin"


def choose_weights(requested: str | None = None) -> tuple[str, str]:
    """(weights spec for build_tracker / the node's weights parameter, what they are). Order: the given file >
    the published JcatNet.pth.tar in its documented place > the project's demo weights > the colour-key stand-in."""
    from jcat_core.models.checkpoint import default_weights_path

    published = default_weights_path()
    standin = (STANDIN, "the colour-key stand-in network: no learned weights; it shows the node and tracker "
                        f"machinery, not JCAT's accuracy (the published weights go to {published})")
    if requested == STANDIN:
        return standin
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
