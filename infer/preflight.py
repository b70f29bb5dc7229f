"""Check every input of a count before any work or output: fail fast, name the file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from coalwatch.infer.aoi import load_aois
from coalwatch.infer.counting import CountOptions
from coalwatch.infer.scene_reader import Scene
from coalwatch.infer.session import detector_for
from coalwatch.labels.radiometry import Scaling


def preflight(scenes: Sequence[str | Path], model: str | Path, options: CountOptions) -> None:
    """Raise ``InputError`` for an unloadable model, a bad AOI file or an unreadable scene.

    Scenes are opened (header, band count, scaling fit), not read in full: a file that is
    truncated further in is still caught when its pixels are read.
    """
    meta = detector_for(model, options.threads).metadata
    if options.aoi_path:
        load_aois(options.aoi_path)
    scaling = Scaling.from_dict(meta.scaling)
    for path in scenes:
        with Scene(path, meta.bands, scaling):
            pass
