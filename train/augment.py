"""Box-aware augmentation of training chips (albumentations 2.x), driven by the config.

Geometric: flips, 90-degree rotations (satellite images have no "up"), scale jitter and a
random crop to the tile size. Radiometric: brightness/contrast, haze, sensor noise, blur.
Boxes are ``pascal_voc`` (x0, y0, x1, y1 pixels), clipped to the image; boxes that end up
mostly outside a crop are dropped (``min_visibility``), or with ``ignore_regions`` kept as
ignore regions, with the hidden objects (:func:`apply_with_regions`).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import TypeVar

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A
import cv2
import numpy as np

from coalwatch.infer.merge import box_areas

T = TypeVar("T")


@dataclass
class AugmentConfig:
    """Probabilities (0 disables a transform) and ranges of each augmentation."""

    hflip: float = 0.5
    vflip: float = 0.5
    rotate90: float = 0.5
    scale: float = 0.3  # probability of a scale jitter
    scale_range: tuple[float, float] = (0.8, 1.25)
    crop: bool = True  # random crop (padding when smaller) in training
    crop_size: int | None = None  # None: the model's tile size
    min_visibility: float = 0.4  # share of a cropped box that must stay in the chip
    # Objects a crop cuts below min_visibility, and hidden ones (under cloud, fragments at the
    # chip's border), become ignore regions of the training target (neither object nor
    # background: coalwatch.model.ignore_regions) instead of being left out (background)
    ignore_regions: bool = False
    brightness_contrast: float = 0.4
    brightness_limit: float = 0.2
    contrast_limit: float = 0.2
    haze: float = 0.1
    haze_range: tuple[float, float] = (0.1, 0.3)
    noise: float = 0.2
    noise_std: tuple[float, float] = (0.01, 0.04)  # fraction of the full range
    blur: float = 0.1
    blur_limit: tuple[int, int] = (3, 5)

    def __post_init__(self) -> None:
        names = "hflip vflip rotate90 scale brightness_contrast haze noise blur min_visibility"
        bad = [k for k in names.split() if not 0.0 <= float(getattr(self, k)) <= 1.0]
        if bad:
            raise ValueError(f"augment: {', '.join(bad)} must lie in [0, 1]")
        lo, hi = self.scale_range
        if not 0 < lo <= hi:
            raise ValueError("augment: scale_range must be (low, high) with 0 < low <= high")


def strict(transform: type[T], **kwargs) -> T:
    """Build an albumentations transform; any warning (e.g. a 1.x argument name that 2.x
    silently ignores) is an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return transform(**kwargs)


def _bbox_params(min_visibility: float = 0.0) -> A.BboxParams:
    return strict(
        A.BboxParams,
        format="pascal_voc",
        label_fields=["labels", "hidden", "index"],
        clip=True,
        filter_invalid_bboxes=True,
        min_visibility=min_visibility,
    )


def build_transforms(
    cfg: AugmentConfig | None, tile_size: int, train: bool, seed: int | None = None
) -> A.Compose:
    """The chip pipeline: augmentation in training, nothing but box checks in validation.

    albumentations 2.x draws from its own generator, not numpy's or Python's global one:
    ``seed`` makes the augmentation stream reproducible. With ``cfg.ignore_regions`` the
    pipeline keeps every cut box and reports its scale, for :func:`apply_with_regions`.
    """
    if not train or cfg is None:
        return strict(A.Compose, transforms=[A.NoOp()], bbox_params=_bbox_params())
    steps: list[A.BasicTransform] = []
    if cfg.scale > 0:
        lo, hi = cfg.scale_range
        limit = (lo - 1.0, hi - 1.0)
        steps.append(strict(A.RandomScale, scale_limit=limit, interpolation=1, p=cfg.scale))
    if cfg.crop:
        size = cfg.crop_size or tile_size
        steps.append(
            strict(
                A.RandomCrop,
                height=size,
                width=size,
                pad_if_needed=True,
                border_mode=cv2.BORDER_CONSTANT,
                fill=0,
            )
        )
    steps += [
        strict(A.HorizontalFlip, p=cfg.hflip),
        strict(A.VerticalFlip, p=cfg.vflip),
        strict(A.RandomRotate90, p=cfg.rotate90),
        strict(
            A.RandomBrightnessContrast,
            brightness_limit=cfg.brightness_limit,
            contrast_limit=cfg.contrast_limit,
            p=cfg.brightness_contrast,
        ),
        strict(A.RandomFog, fog_coef_range=cfg.haze_range, alpha_coef=0.08, p=cfg.haze),
        strict(A.GaussNoise, std_range=cfg.noise_std, p=cfg.noise),
        strict(A.GaussianBlur, blur_limit=cfg.blur_limit, p=cfg.blur),
    ]
    steps = [s for s in steps if s.p > 0] or [A.NoOp()]  # every augmentation may be off
    keep_cut = cfg.ignore_regions
    return strict(
        A.Compose,
        transforms=steps,
        bbox_params=_bbox_params(0.0 if keep_cut else cfg.min_visibility),
        seed=seed,
        save_applied_params=keep_cut,
    )


def apply(
    transform: A.Compose,
    image: np.ndarray,
    boxes: np.ndarray,
    labels: np.ndarray,
    hidden: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run ``transform``; boxes come back float32 (N, 4), labels int64 (N,) and the ``hidden``
    flags (labelled but not visible, default none) bool (N,), even when N = 0."""
    out = _run(transform, image, boxes, labels, hidden)
    return out["image"], out["bboxes"], out["labels"], out["hidden"]


def apply_with_regions(
    transform: A.Compose,
    image: np.ndarray,
    boxes: np.ndarray,
    labels: np.ndarray,
    hidden: np.ndarray,
    min_visibility: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run ``transform`` (built with ``ignore_regions``) and split its boxes: objects, visible
    and at least ``min_visibility`` of them left by the crop, come back as boxes and labels;
    the rest (hidden, or cut) as ignore regions, float32 (M, 4)."""
    out = _run(transform, image, boxes, labels, hidden)
    scale = 1.0
    for name, params in out.get("applied_transforms", []):
        if name == "RandomScale":
            scale *= float(params["scale"])
    before = box_areas(boxes.reshape(-1, 4))[out["index"]] * scale**2
    visible = box_areas(out["bboxes"]) >= min_visibility * before - 1e-3
    objects = visible & ~out["hidden"]
    return out["image"], out["bboxes"][objects], out["labels"][objects], out["bboxes"][~objects]


def _run(
    transform: A.Compose,
    image: np.ndarray,
    boxes: np.ndarray,
    labels: np.ndarray,
    hidden: np.ndarray | None,
) -> dict:
    labels = labels.reshape(-1)
    hidden = np.zeros(len(labels), bool) if hidden is None else hidden.reshape(-1)
    index = np.arange(len(labels))
    out = transform(
        image=image, bboxes=boxes.reshape(-1, 4), labels=labels, hidden=hidden, index=index
    )
    out["bboxes"] = np.asarray(out["bboxes"], dtype=np.float32).reshape(-1, 4)
    out["labels"] = np.asarray(out["labels"], dtype=np.int64).reshape(-1)
    out["hidden"] = np.asarray(out["hidden"], dtype=bool).reshape(-1)
    out["index"] = np.asarray(out["index"], dtype=np.int64).reshape(-1)
    return out
