"""Cut labelled scenes into training chips: PNG images, COCO train/val files and a manifest.

Chips are ``size`` x ``size`` windows on a grid with ``overlap`` pixels shared by
neighbours; the last row and column are aligned to the scene's edge, so any object no
larger than the overlap lies whole in at least one chip. Windows are read one at a time
with rasterio (never the whole scene). Boxes are clipped at chip borders and kept when at
least ``min_visible`` of their area is inside; a smaller fragment of an object is kept as an
ignored box (COCO ``iscrowd``, attribute ``fragment``): not trained on, and a detection of
it is neither right nor wrong when scored. Chips with no object at all are *empty*;
``empty_share`` of each split's chips are empty ones (picked at random, seeded); chips
holding only object fragments are left out, so that no negative shows part of an object.
Chips more than ``max_nodata`` nodata (within the scene) are skipped. Scenes, not chips,
are split between train and val.

Output: ``images/*.png`` (8-bit RGB), ``train.json`` and ``val.json`` (COCO, see
:mod:`coalwatch.labels.coco`), ``manifest.json`` (options, taxonomy, bands, scaling; per
scene its grid, GSD and fitted scaling; per chip its scene, window, geotransform and valid
fraction) and ``labels/<scene>.geojson`` (the validated scene labels, in the scene's CRS).
Everything is written into a temporary folder renamed to ``out_dir`` at the end.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.windows import Window

from coalwatch import __version__
from coalwatch.atomic import atomic_dir, write_text_atomic
from coalwatch.errors import CoalwatchError
from coalwatch.labels.chip_writer import ChipWriter, SceneInfo, fit_scaling, inspect_scene
from coalwatch.labels.coco import chip_dataset, write_coco
from coalwatch.labels.importers import write_scene_label_files
from coalwatch.labels.radiometry import Scaling
from coalwatch.labels.scenes import LabelledScene, check_unique_names, find_scenes
from coalwatch.labels.taxonomy import Taxonomy, load_taxonomy

log = logging.getLogger(__name__)
SPLITS = ("train", "val")


@dataclass(frozen=True)
class ChipOptions:
    """How scenes are cut. ``overlap`` None: a quarter of ``size``. ``scaling`` None: gain 1
    when every scene is 8-bit, else a 2-98 % percentile stretch per scene."""

    size: int = 512
    overlap: int | None = None  # None: a quarter of the size
    min_visible: float = 0.6
    empty_share: float = 0.1
    val_share: float = 0.25
    val_scenes: tuple[str, ...] = ()
    taxonomy: str | Path | Taxonomy = "default"
    bands: tuple[int, ...] = (1, 2, 3)
    scaling: Scaling | None = None
    max_nodata: float = 0.5
    seed: int = 0
    labels_dir: str | Path | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.overlap is None:
            object.__setattr__(self, "overlap", self.size // 4)
        checks = {
            "size must be positive": self.size > 0,
            "overlap must be in [0, size)": 0 <= self.overlap < self.size,
            "min_visible must be in (0, 1]": 0 < self.min_visible <= 1,
            "empty_share must be in [0, 1)": 0 <= self.empty_share < 1,
            "val_share must be in [0, 1)": 0 <= self.val_share < 1,
            "max_nodata must be in [0, 1]": 0 <= self.max_nodata <= 1,
        }
        failed = [problem for problem, ok in checks.items() if not ok]
        if failed:
            raise ValueError("; ".join(failed))


@dataclass
class ChipSummary:
    """What a chipping run wrote."""

    out_dir: Path
    scenes: dict[str, list[str]]
    chips: dict[str, int]
    empty_chips: dict[str, int]
    skipped_nodata: int
    objects: int
    objects_whole: int
    annotations: int
    hidden: int = 0  # annotations flagged occluded or crowd (kept; not trained on or scored)
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        """The one-line summary the command prints."""
        n_train, n_val = len(self.scenes["train"]), len(self.scenes["val"])
        text = (
            f"{self.objects_whole}/{self.objects} objects whole in at least one chip; "
            f"{self.chips['train']} train + {self.chips['val']} val chips "
            f"({sum(self.empty_chips.values())} empty, {self.skipped_nodata} skipped as mostly "
            f"nodata) from {n_train + n_val} scenes ({n_train} train, {n_val} val) "
            f"in {self.out_dir}"
        )
        return "; ".join([text, *self.notes])


def chip_starts(length: int, size: int, overlap: int) -> list[int]:
    """Window offsets along one axis: stride ``size - overlap``, the last one at the edge."""
    if length <= size:
        return [0]
    starts = list(range(0, length - size, size - overlap))
    return [*starts, length - size]


def split_scenes(
    names: Sequence[str], val_share: float, val_scenes: Sequence[str] = (), seed: int = 0
) -> dict[str, str]:
    """Scene name → ``"train"`` or ``"val"``: the named ``val_scenes``, or a seeded random
    ``val_share`` of the scenes (at least one, never all); one scene is always train."""
    if val_scenes:
        unknown = sorted(set(val_scenes) - set(names))
        if unknown:
            raise CoalwatchError(f"--val-scenes names {unknown}, not among {sorted(names)}")
        if set(names) <= set(val_scenes):
            raise CoalwatchError("every scene is a val scene: none is left to train on")
        chosen = set(val_scenes)
    elif len(names) < 2 or val_share == 0:
        chosen = set()
    else:
        n_val = min(max(1, round(val_share * len(names))), len(names) - 1)
        rng = np.random.default_rng(seed)
        chosen = set(rng.choice(sorted(names), size=n_val, replace=False).tolist())
    return {name: "val" if name in chosen else "train" for name in names}


ClippedBox = tuple[int, int, tuple[float, float, float, float], float]


@dataclass
class PlannedChip:
    """A window of a scene and the boxes that belong in it (chip pixels)."""

    scene: int
    window: Window
    boxes: list[ClippedBox]
    touched: bool  # any object overlaps the window at all
    # objects less than min_visible inside, as boxes: ignored regions of the chip
    fragments: list[ClippedBox] = field(default_factory=list)


def _clipped(
    info: SceneInfo, picked: np.ndarray, clipped: np.ndarray, visible: np.ndarray, origin
) -> list[ClippedBox]:
    """``(category id, object, box in chip pixels, visible share)`` of the picked objects."""
    col, row = origin
    return [
        (
            int(info.category_ids[i]),
            int(i),
            tuple(float(v) for v in clipped[i] - (col, row, col, row)),
            float(visible[i]),
        )
        for i in np.flatnonzero(picked)
    ]


def plan_chips(info: SceneInfo, scene_index: int, options: ChipOptions) -> list[PlannedChip]:
    """Every window of a scene with its clipped boxes and fragments (category id, object,
    box, visible share)."""
    size = options.size
    boxes = info.boxes  # (N, 4) scene pixels
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    plans = []
    for row in chip_starts(info.height, size, options.overlap):
        for col in chip_starts(info.width, size, options.overlap):
            clipped = np.column_stack(
                [
                    np.clip(boxes[:, 0], col, col + size),
                    np.clip(boxes[:, 1], row, row + size),
                    np.clip(boxes[:, 2], col, col + size),
                    np.clip(boxes[:, 3], row, row + size),
                ]
            ).reshape(-1, 4)
            sides = np.maximum(clipped[:, 2:] - clipped[:, :2], 0)
            inter = sides[:, 0] * sides[:, 1]
            visible = inter / areas
            enough = visible >= options.min_visible - 1e-9
            plans.append(
                PlannedChip(
                    scene_index,
                    Window(col, row, size, size),
                    _clipped(info, enough, clipped, visible, (col, row)),
                    bool((inter > 0).any()),
                    _clipped(info, (inter > 0) & ~enough, clipped, visible, (col, row)),
                )
            )
    return plans


def _resolve_scenes(
    scenes: Sequence[str | Path | LabelledScene], taxonomy: Taxonomy, labels_dir: Any
) -> list[LabelledScene]:
    given = [s for s in scenes if isinstance(s, LabelledScene)]
    paths = [s for s in scenes if not isinstance(s, LabelledScene)]
    resolved = given + (find_scenes(paths, taxonomy, labels_dir) if paths else [])
    if not resolved:
        raise CoalwatchError("no scenes to cut into chips")
    check_unique_names(resolved)
    return resolved


def _auto_scaling(infos: Sequence[SceneInfo]) -> Scaling:
    if all(info.dtype == "uint8" for info in infos):
        return Scaling("gain", gain=1.0)
    return Scaling("percentile")


def make_chips(
    scenes: Sequence[str | Path | LabelledScene],
    out_dir: str | Path,
    options: ChipOptions | None = None,
) -> ChipSummary:
    """Cut ``scenes`` (GeoTIFF paths, folders, or :class:`LabelledScene`) into ``out_dir``."""
    options = options or ChipOptions()
    out_dir = Path(out_dir)
    taxonomy = (
        options.taxonomy
        if isinstance(options.taxonomy, Taxonomy)
        else load_taxonomy(options.taxonomy)
    )
    labelled = _resolve_scenes(scenes, taxonomy, options.labels_dir)
    for scene in labelled:
        if scene.labels.taxonomy != taxonomy.name:
            log.warning(
                "%s: labels name taxonomy %r; cutting with %r (every class was found in it)",
                scene.image,
                scene.labels.taxonomy,
                taxonomy.name,
            )
    infos = [inspect_scene(s, taxonomy, options.bands) for s in labelled]
    scaling = options.scaling or _auto_scaling(infos)
    for info in infos:
        fit_scaling(info, scaling, options.bands)
    names = [s.name for s in labelled]
    split_of = split_scenes(names, options.val_share, options.val_scenes, options.seed)
    plans: dict[str, list[PlannedChip]] = {split: [] for split in SPLITS}
    for index, info in enumerate(infos):
        plans[split_of[info.name]] += plan_chips(info, index, options)
    with atomic_dir(out_dir) as tmp:
        writer = ChipWriter(tmp, infos, options.bands, options.max_nodata, options.progress)
        with writer:
            _cut(writer, plans, options)
        summary = ChipSummary(
            out_dir=out_dir,
            scenes={sp: [i.name for i in infos if split_of[i.name] == sp] for sp in SPLITS},
            chips={sp: len(writer.images[sp]) for sp in SPLITS},
            empty_chips=dict(writer.empty),
            skipped_nodata=writer.skipped_nodata,
            objects=sum(len(i.boxes) for i in infos),
            objects_whole=len(writer.whole),
            annotations=sum(len(writer.annotations[sp]) for sp in SPLITS),
            hidden=sum(a.hidden for sp in SPLITS for a in writer.annotations[sp]),
        )
        if len(infos) == 1:
            summary.notes.append("one scene: every chip is train and val.json is empty")
        if summary.objects_whole < summary.objects:
            summary.notes.append(_not_whole_note(infos, writer.whole, options.overlap))
        if summary.hidden:
            summary.notes.append(
                f"{summary.hidden} of {summary.annotations} boxes are hidden (occluded, crowd, "
                f"or a fragment under {options.min_visible:.0%} inside its chip): kept in the "
                "chips, left out of training and of scoring"
            )
        _write_records(tmp, writer, summary, options, taxonomy, scaling, split_of)
        write_scene_label_files(labelled, tmp / "labels")
    return summary


def _not_whole_note(infos: Sequence[SceneInfo], whole: set[tuple[int, int]], overlap: int) -> str:
    sides = [
        float(max(info.boxes[i, 2] - info.boxes[i, 0], info.boxes[i, 3] - info.boxes[i, 1]))
        for k, info in enumerate(infos)
        for i in range(len(info.boxes))
        if (k, i) not in whole
    ]
    note = f"{len(sides)} objects never whole (the largest {max(sides):.0f} px"
    if max(sides) > overlap:
        return f"{note}; --overlap {overlap} holds whole only objects up to {overlap} px)"
    return f"{note}; they lie in chips skipped as mostly nodata)"


def _cut(writer: ChipWriter, plans: dict[str, list[PlannedChip]], options: ChipOptions) -> None:
    """Write each split's labelled chips, then its share of empty chips (seeded)."""
    rng = np.random.default_rng(options.seed)
    for split in SPLITS:
        labelled = [p for p in plans[split] if p.boxes]
        empty = [p for p in plans[split] if not p.touched]
        writer.expect(len(labelled))
        written = sum(writer.write(p, split) for p in labelled)
        quota = round(options.empty_share / (1 - options.empty_share) * written)
        writer.expect(min(quota, len(empty)))
        for index in rng.permutation(len(empty)):
            if writer.empty[split] >= quota:
                break
            writer.write(empty[index], split)


def _write_records(
    root: Path,
    writer: ChipWriter,
    summary: ChipSummary,
    options: ChipOptions,
    taxonomy: Taxonomy,
    scaling: Scaling,
    split_of: dict[str, str],
) -> None:
    """``train.json``, ``val.json`` and ``manifest.json``."""
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    common = {
        "description": "coalwatch chips",
        "version": __version__,
        "date_created": created,
        "chip_size": options.size,
        "overlap": options.overlap,
        "bands": list(options.bands),
        "scaling": scaling.recipe().to_dict(),
    }
    for split in SPLITS:
        info = {**common, "split": split}
        dataset = chip_dataset(taxonomy, writer.images[split], writer.annotations[split], info)
        write_coco(root / f"{split}.json", dataset)
    manifest = {
        "coalwatch_version": __version__,
        "created": created,
        "options": _options_dict(options, taxonomy),
        "taxonomy": taxonomy.to_dict(),
        "bands": list(options.bands),
        "scaling": scaling.recipe().to_dict(),
        "scenes": [
            writer.scene_entry(k, split_of[info.name]) for k, info in enumerate(writer.infos)
        ],
        "chips": writer.manifest_chips,
        "summary": {k: v for k, v in asdict(summary).items() if k != "out_dir"},
    }
    write_text_atomic(root / "manifest.json", json.dumps(manifest, indent=1) + "\n")


def _options_dict(options: ChipOptions, taxonomy: Taxonomy) -> dict[str, Any]:
    data = asdict(options)
    data["taxonomy"] = taxonomy.name
    data["scaling"] = options.scaling.to_dict() if options.scaling else "auto"
    data.pop("progress")
    data["labels_dir"] = str(options.labels_dir) if options.labels_dir else None
    return data
