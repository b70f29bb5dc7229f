"""Ground truth for evaluation: labelled scenes from GeoJSON or COCO, at leaf or group level.

Labels come as ``X.geojson`` beside each scene ``X.tif`` (or in a labels folder), or as a
COCO file whose images are the GeoTIFF scenes (``bbox`` in scene pixels, a class map for
foreign category names). They name classes of the *labels'* taxonomy (the model's by
default), leaf or group. :class:`LevelMap` puts labels and model predictions on common
categories: the model's leaves (``leaf``) or the groups of the taxonomy (``group``), so
that a set labelled only as ``vessel`` can score a five-class model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coalwatch.errors import InputError
from coalwatch.labels.importers import import_coco
from coalwatch.labels.scenes import LabelledScene, find_scenes
from coalwatch.labels.taxonomy import Taxonomy

LEVELS = ("leaf", "group")


@dataclass(frozen=True)
class SceneTruth:
    """One scene's labelled boxes (scene pixels) with their label names and ignore flags."""

    image: Path
    name: str
    width: int
    height: int
    boxes: np.ndarray  # (N, 4) xyxy
    classes: tuple[str, ...]  # as labelled: leaf or group of the labels' taxonomy
    ignore: np.ndarray  # (N,) bool: not scored (e.g. hidden by cloud)

    @classmethod
    def of(cls, scene: LabelledScene, width: int, height: int, keep_occluded: bool) -> SceneTruth:
        objects = scene.labels.objects
        boxes = np.array([o.box for o in objects], dtype=np.float64).reshape(-1, 4)
        ignore = np.array(
            [not keep_occluded and bool(o.attributes.get("occluded")) for o in objects], bool
        )
        return cls(
            scene.image, scene.name, width, height, boxes, tuple(o.cls for o in objects), ignore
        )


def _size(path: Path) -> tuple[int, int]:
    from coalwatch.labels.scenes import scene_grid

    grid = scene_grid(path)
    return grid.width, grid.height


def is_coco_file(path: Path) -> bool:
    """Whether a LABELS argument names a COCO file (rather than a GeoJSON folder)."""
    return path.is_file() and path.suffix.lower() == ".json"


def load_truth(
    scenes: Sequence[str | Path],
    labels: str | Path | None,
    taxonomy: Taxonomy,
    class_map: Mapping[str, str] | None = None,
    keep_occluded: bool = False,
) -> list[SceneTruth]:
    """Labelled scenes from GeoJSON (beside the scenes or in ``labels``) or a COCO file.

    With COCO, the images are looked up in the scene folder (``scenes`` = one folder), or
    ``scenes`` lists the GeoTIFFs to keep.
    """
    paths = [Path(p) for p in scenes]
    label_path = None if labels is None else Path(labels)
    if label_path is not None and not label_path.exists():
        raise InputError(label_path, "no such labels file or folder")
    if label_path is not None and is_coco_file(label_path):
        found = _from_coco(paths, label_path, taxonomy, class_map or {})
    else:
        if class_map:
            raise InputError(label_path or paths[0], "--class-map applies to COCO labels only")
        found = find_scenes(paths, taxonomy, label_path)
    if not found:
        raise InputError(label_path or paths[0], "no labelled scene to evaluate")
    return [SceneTruth.of(s, *_size(s.image), keep_occluded) for s in found]


def _from_coco(
    paths: list[Path], coco: Path, taxonomy: Taxonomy, class_map: Mapping[str, str]
) -> list[LabelledScene]:
    for path in paths:
        if not path.exists():
            raise InputError(path, "no such scene file or folder")
    folders = [p for p in paths if p.is_dir()]
    if len(folders) > 1 or (folders and len(paths) > 1):
        raise InputError(folders[0], "with COCO labels, give one scene folder or GeoTIFF files")
    images_dir = folders[0] if folders else paths[0].parent
    imported = import_coco(coco, taxonomy, class_map, images_dir)
    if folders:
        return imported
    wanted = {p.resolve() for p in paths}
    kept = [s for s in imported if s.image.resolve() in wanted]
    missing = wanted - {s.image.resolve() for s in kept}
    if missing:
        raise InputError(sorted(missing)[0], f"scene is not an image of {coco}")
    return kept


class LevelMap:
    """Common categories for labels (labels' taxonomy) and predictions (model's taxonomy)."""

    def __init__(self, level: str, model: Taxonomy, labels: Taxonomy) -> None:
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
        self.level = level
        self.model = model
        self.labels = labels
        self.categories: tuple[str, ...] = model.classes if level == "leaf" else model.group_names

    def predicted(self, class_id: int) -> str:
        """The category of a model class id (from 1)."""
        leaf = self.model.class_name(int(class_id))
        return leaf if self.level == "leaf" else self.model.group_of(leaf)

    def labelled(self, name: str, where: Path) -> str | None:
        """The category of a label name; None when the model predicts nothing of the kind."""
        if self.level == "group":
            group = self.labels.to_group(name)
            return group if group in self.categories else None
        members = self.labels.groups.get(name, ())
        leaf = name if self.labels.is_leaf(name) else members[0] if len(members) == 1 else None
        if leaf is None:
            raise InputError(
                where,
                f"label {name!r} is a group ({', '.join(members)}): score it with --level group",
            )
        return leaf if leaf in self.categories else None
