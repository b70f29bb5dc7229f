"""COCO detection datasets: read (with validation) and write, boxes in pixels.

Chip datasets written by coalwatch hold the taxonomy's leaf classes as categories (ids from
1, in taxonomy order, ``supercategory`` = the group) and the taxonomy itself in
``info.taxonomy``. An image's ``file_name`` is relative to the folder of the JSON file
(``images/<chip>.png``); :func:`image_path` resolves it. Reading also accepts foreign COCO
files (any category ids, extra keys, segmentations, which are ignored).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coalwatch.atomic import write_text_atomic
from coalwatch.errors import InputError
from coalwatch.labels.jsonio import load_json
from coalwatch.labels.taxonomy import Taxonomy

BBox = tuple[float, float, float, float]  # x, y, width, height


@dataclass
class CocoImage:
    """One image: id, file name, size and any extra keys (kept as they are)."""

    id: int
    file_name: str
    width: int
    height: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class CocoAnnotation:
    """One box ``[x, y, w, h]`` in pixels of its image."""

    id: int
    image_id: int
    category_id: int
    bbox: BBox
    iscrowd: int = 0
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def xyxy(self) -> BBox:
        x, y, w, h = self.bbox
        return (x, y, x + w, y + h)

    @property
    def hidden(self) -> bool:
        """Labelled but not visible (a crowd region, or an object flagged ``occluded``, e.g.
        under cloud): training leaves it out and scoring ignores it."""
        return bool(self.iscrowd or self.attributes.get("occluded", False))


@dataclass
class CocoDataset:
    """Images, annotations, categories (``{"id", "name", "supercategory"}``) and info."""

    images: list[CocoImage]
    annotations: list[CocoAnnotation]
    categories: list[dict[str, Any]]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def category_names(self) -> dict[int, str]:
        """Category id → name."""
        return {int(c["id"]): str(c["name"]) for c in self.categories}

    @property
    def taxonomy(self) -> Taxonomy | None:
        """The taxonomy recorded in ``info.taxonomy`` (coalwatch chip datasets)."""
        data = self.info.get("taxonomy")
        return Taxonomy.from_dict(data) if data else None

    def annotations_by_image(self) -> dict[int, list[CocoAnnotation]]:
        """Image id → its annotations (every image present, maybe with none)."""
        grouped: dict[int, list[CocoAnnotation]] = {image.id: [] for image in self.images}
        for ann in self.annotations:
            grouped[ann.image_id].append(ann)
        return grouped

    def to_dict(self) -> dict[str, Any]:
        """The COCO JSON object."""
        return {
            "info": self.info,
            "licenses": [],
            "categories": self.categories,
            "images": [
                {
                    "id": im.id,
                    "file_name": im.file_name,
                    "width": im.width,
                    "height": im.height,
                    **im.extra,
                }
                for im in self.images
            ],
            "annotations": [_annotation_dict(ann) for ann in self.annotations],
        }


def _annotation_dict(ann: CocoAnnotation) -> dict[str, Any]:
    x, y, w, h = (round(float(v), 3) for v in ann.bbox)
    data = {
        "id": ann.id,
        "image_id": ann.image_id,
        "category_id": ann.category_id,
        "bbox": [x, y, w, h],
        "area": round(w * h, 3),
        "iscrowd": ann.iscrowd,
    }
    if ann.attributes:
        data["attributes"] = ann.attributes
    return data


def taxonomy_categories(taxonomy: Taxonomy) -> list[dict[str, Any]]:
    """COCO categories for a taxonomy's leaves: ids from 1, supercategory = group."""
    return [
        {"id": taxonomy.class_id(leaf), "name": leaf, "supercategory": taxonomy.group_of(leaf)}
        for leaf in taxonomy.classes
    ]


def chip_dataset(
    taxonomy: Taxonomy,
    images: Iterable[CocoImage],
    annotations: Iterable[CocoAnnotation],
    info: Mapping[str, Any] | None = None,
) -> CocoDataset:
    """A coalwatch chip dataset: categories and ``info.taxonomy`` from ``taxonomy``."""
    full_info = {**dict(info or {}), "taxonomy": taxonomy.to_dict()}
    return CocoDataset(list(images), list(annotations), taxonomy_categories(taxonomy), full_info)


def write_coco(path: str | Path, dataset: CocoDataset) -> Path:
    """Write a COCO JSON file atomically."""
    return write_text_atomic(path, json.dumps(dataset.to_dict(), separators=(",", ":")) + "\n")


def image_path(coco_path: str | Path, image: CocoImage) -> Path:
    """Where a chip dataset's image lies: ``file_name`` relative to the JSON's folder."""
    return Path(coco_path).parent / image.file_name


def _int(path: Path, where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise InputError(path, f"{where}: expected an integer, got {value!r}")
    return int(value)


def _image(path: Path, index: int, raw: Any) -> CocoImage:
    where = f"image {index}"
    if not isinstance(raw, Mapping):
        raise InputError(path, f"{where}: not an object")
    extra = {k: v for k, v in raw.items() if k not in ("id", "file_name", "width", "height")}
    try:
        image = CocoImage(
            id=_int(path, where, raw["id"]),
            file_name=str(raw["file_name"]),
            width=_int(path, where, raw["width"]),
            height=_int(path, where, raw["height"]),
            extra=extra,
        )
    except KeyError as exc:
        raise InputError(path, f"{where}: missing key {exc}") from exc
    if image.width <= 0 or image.height <= 0:
        raise InputError(path, f"{where}: image size {image.width}x{image.height}")
    return image


def _annotation(path: Path, raw: Any, index: int) -> CocoAnnotation:
    where = f"annotation {index}"
    if not isinstance(raw, Mapping):
        raise InputError(path, f"{where}: not an object")
    try:
        where = f"annotation {index} (id {raw['id']})"
        bbox = tuple(float(v) for v in raw["bbox"])
        ann = CocoAnnotation(
            id=_int(path, where, raw["id"]),
            image_id=_int(path, where, raw["image_id"]),
            category_id=_int(path, where, raw["category_id"]),
            bbox=bbox,  # type: ignore[arg-type]
            iscrowd=_int(path, where, raw.get("iscrowd", 0)),
            attributes=dict(raw.get("attributes") or {}),
        )
    except KeyError as exc:
        raise InputError(path, f"{where}: missing key {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise InputError(path, f"{where}: malformed bbox {raw.get('bbox')!r}") from exc
    if len(bbox) != 4 or not all(math.isfinite(v) for v in bbox):
        raise InputError(path, f"{where}: bbox must be four finite numbers [x, y, w, h]")
    if bbox[2] <= 0 or bbox[3] <= 0:
        raise InputError(path, f"{where}: degenerate bbox {list(bbox)} (zero or negative size)")
    return ann


def read_coco(path: str | Path) -> CocoDataset:
    """Read and validate a COCO detection file; errors name the file and the entry."""
    path = Path(path)
    data = load_json(path, "COCO file")
    if not isinstance(data, Mapping):
        raise InputError(path, "not a COCO object")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise InputError(path, f"not a COCO detection file: no '{key}' list")
    categories = []
    for index, cat in enumerate(data["categories"]):
        if not isinstance(cat, Mapping) or "id" not in cat or "name" not in cat:
            raise InputError(path, f"category {index}: needs an 'id' and a 'name'")
        categories.append({**cat, "id": _int(path, f"category {index}", cat["id"])})
    images = [_image(path, i, raw) for i, raw in enumerate(data["images"])]
    annotations = [_annotation(path, raw, i) for i, raw in enumerate(data["annotations"])]
    _check_references(path, images, annotations, categories)
    return CocoDataset(images, annotations, categories, dict(data.get("info") or {}))


def _check_references(
    path: Path,
    images: list[CocoImage],
    annotations: list[CocoAnnotation],
    categories: list[dict[str, Any]],
) -> None:
    for kind, ids in (
        ("image", [im.id for im in images]),
        ("annotation", [a.id for a in annotations]),
        ("category", [c["id"] for c in categories]),
    ):
        if len(set(ids)) != len(ids):
            raise InputError(path, f"repeated {kind} ids")
    image_ids, category_ids = {im.id for im in images}, {c["id"] for c in categories}
    for ann in annotations:
        if ann.image_id not in image_ids:
            raise InputError(path, f"annotation id {ann.id}: no image with id {ann.image_id}")
        if ann.category_id not in category_ids:
            raise InputError(path, f"annotation id {ann.id}: no category {ann.category_id}")
