"""Import labelled imagery from other formats into scenes with coalwatch labels.

COCO + GeoTIFF (e.g. the shared sen2ships set): each COCO image is a GeoTIFF scene whose
``file_name`` is looked up in the images folder (by default the COCO file's folder, then
its ``images/`` sub-folder); ``bbox`` values are pixels of that GeoTIFF. A class map turns
the file's category names into taxonomy classes (``ship=ship``; ``boat=`` drops a
category); categories already named as in the taxonomy need no mapping.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from coalwatch.errors import InputError
from coalwatch.labels.coco import CocoDataset, CocoImage, read_coco
from coalwatch.labels.scenes import LabelledScene, check_unique_names, scene_grid
from coalwatch.labels.schema import (
    ObjectLabel,
    SceneLabels,
    clip_box_to_scene,
    write_scene_labels,
)
from coalwatch.labels.taxonomy import Taxonomy

log = logging.getLogger(__name__)


def parse_class_map(items: Iterable[str]) -> dict[str, str]:
    """``["ship=ship", "tug=other_vessel,barge="]`` → ``{"ship": "ship", ...}``."""
    mapping: dict[str, str] = {}
    for item in items:
        for pair in filter(None, (p.strip() for p in item.split(","))):
            source, sep, target = pair.partition("=")
            if not sep or not source.strip():
                raise ValueError(f"class map entries look like SOURCE=CLASS, got {pair!r}")
            mapping[source.strip()] = target.strip()
    return mapping


def _category_classes(
    coco_path: Path, dataset: CocoDataset, class_map: Mapping[str, str], taxonomy: Taxonomy
) -> dict[int, str | None]:
    """COCO category id → taxonomy class name (None: dropped)."""
    names = dataset.category_names
    unused = sorted(set(class_map) - set(names.values()))
    if unused:
        raise InputError(
            coco_path,
            f"the class map names {unused}, which are not categories here "
            f"({', '.join(sorted(names.values()))})",
        )
    classes: dict[int, str | None] = {}
    for cat_id, name in names.items():
        target = class_map.get(name, name)
        if target and not taxonomy.is_known(target):
            raise InputError(
                coco_path,
                f"category {name!r} is not a class of taxonomy {taxonomy.name!r}: map it, "
                f"e.g. --class-map {name}={taxonomy.classes[0]} (or {name}= to drop it)",
            )
        classes[cat_id] = target or None
    return classes


def _find_image(coco_path: Path, image: CocoImage, images_dir: Path | None) -> Path:
    folders = [images_dir] if images_dir else [coco_path.parent, coco_path.parent / "images"]
    for folder in folders:
        candidate = folder / image.file_name
        if candidate.is_file():
            return candidate
    where = " or ".join(str(f) for f in folders)
    raise InputError(coco_path, f"image id {image.id}: {image.file_name} not found in {where}")


def import_coco(
    coco_path: str | Path,
    taxonomy: Taxonomy,
    class_map: Mapping[str, str] | None = None,
    images_dir: str | Path | None = None,
) -> list[LabelledScene]:
    """Scenes from a COCO file whose images are GeoTIFFs, labels validated like GeoJSON."""
    coco_path = Path(coco_path)
    dataset = read_coco(coco_path)
    classes = _category_classes(coco_path, dataset, class_map or {}, taxonomy)
    folder = Path(images_dir) if images_dir else None
    if folder is not None and not folder.is_dir():
        raise InputError(folder, "no such images folder")
    by_image = dataset.annotations_by_image()
    scenes, dropped, crowd = [], 0, 0
    for image in dataset.images:
        tif = _find_image(coco_path, image, folder)
        grid = scene_grid(tif)
        if (grid.width, grid.height) != (image.width, image.height):
            raise InputError(
                tif,
                f"is {grid.width}x{grid.height} px but {coco_path.name} image id {image.id} "
                f"says {image.width}x{image.height}",
            )
        objects = []
        for ann in by_image[image.id]:
            cls = classes[ann.category_id]
            if cls is None or ann.iscrowd:
                dropped += cls is None
                crowd += bool(ann.iscrowd) and cls is not None
                continue
            box = clip_box_to_scene(coco_path, f"annotation id {ann.id}", ann.xyxy, grid)
            objects.append(ObjectLabel(cls, box, dict(ann.attributes)))
        properties = {"source": str(coco_path), "coco_image_id": image.id}
        labels = SceneLabels(objects, taxonomy=taxonomy.name, properties=properties)
        scenes.append(LabelledScene(tif, labels))
    if dropped or crowd:
        log.info("%s: left out %d dropped-class and %d crowd boxes", coco_path, dropped, crowd)
    check_unique_names(scenes)
    return scenes


def write_scene_label_files(scenes: Sequence[LabelledScene], out_dir: str | Path) -> list[Path]:
    """Write each scene's labels as ``OUT/<name>.geojson`` (in the scene's CRS)."""
    out_dir = Path(out_dir)
    return [
        write_scene_labels(out_dir / f"{s.name}.geojson", s.labels, scene_grid(s.image))
        for s in scenes
    ]
