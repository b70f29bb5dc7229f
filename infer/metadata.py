"""The coalwatch metadata an exported ONNX model carries (key ``coalwatch``, JSON).

It names everything counting needs besides the graph: the taxonomy (class names in
detector order), the bands to read (1-based) and their radiometric scaling, the tile size
and overlap, the ground sample distance the model was trained at, the default score
threshold and any per-class thresholds, the coalwatch version and a digest of the training
config. Written by ``coalwatch.model.export`` (torch world), read here with onnxruntime only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coalwatch.errors import InputError
from coalwatch.labels.taxonomy import Taxonomy

METADATA_KEY = "coalwatch"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ModelMetadata:
    """What an exported model promises about its input and output."""

    taxonomy: dict[str, Any]
    bands: tuple[int, ...] = (1, 2, 3)
    scaling: dict[str, Any] = field(default_factory=lambda: {"method": "gain", "gain": 1.0})
    tile_size: int = 512
    tile_overlap: int = 64
    gsd_m: float | None = None
    gsd_range_m: tuple[float, float] | None = None  # trained on several GSDs: their span
    score_threshold: float = 0.5
    # class name -> threshold replacing score_threshold for that class
    class_score_thresholds: dict[str, float] = field(default_factory=dict)
    version: str = ""
    config_digest: str = ""
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if len(self.bands) != 3 or any(int(b) < 1 for b in self.bands):
            raise ValueError(f"bands must be three 1-based band numbers, got {self.bands}")
        if not 0 <= self.tile_overlap < self.tile_size:
            raise ValueError(f"tile_overlap {self.tile_overlap} must lie in [0, tile_size)")
        if self.gsd_m is not None and not self.gsd_m > 0:
            raise ValueError(f"gsd_m must be positive, got {self.gsd_m}")
        if self.gsd_range_m is not None and not 0 < self.gsd_range_m[0] <= self.gsd_range_m[1]:
            raise ValueError(f"gsd_range_m must be 0 < low <= high, got {self.gsd_range_m}")
        if "method" not in self.scaling:
            raise ValueError("scaling needs a 'method'")
        classes = Taxonomy.from_dict(self.taxonomy).classes  # validates
        unknown = sorted(set(self.class_score_thresholds) - set(classes))
        if unknown:
            raise ValueError(f"class_score_thresholds name unknown class(es) {unknown}")
        for value in [self.score_threshold, *self.class_score_thresholds.values()]:
            if not 0 <= value <= 1:
                raise ValueError(f"score thresholds must lie in [0, 1], got {value}")

    @property
    def taxonomy_obj(self) -> Taxonomy:
        """The taxonomy as an object (class ids from 1)."""
        return Taxonomy.from_dict(self.taxonomy)

    def thresholds_by_class_id(self) -> np.ndarray:
        """Score threshold per class id (index 0, the background, unused)."""
        return thresholds_by_class_id(
            self.taxonomy_obj.classes, self.score_threshold, self.class_score_thresholds
        )

    def operating_point(
        self, score: float | None, class_scores: Mapping[str, float] | None = None
    ) -> tuple[float, dict[str, float]]:
        """The default threshold and the per-class ones that count and evaluate apply: the
        model's (``score`` replaces them all), with ``class_scores`` (a calibration) over."""
        default = self.score_threshold if score is None else float(score)
        per_class = dict(self.class_score_thresholds) if score is None else {}
        per_class.update(class_scores or {})
        return default, per_class

    def target_gsd(self, scene_gsd: float | None) -> float | None:
        """The GSD to resample a scene to (None: read it as it is).

        A model trained at one GSD wants every scene at that GSD. A model trained on
        several (``gsd_range_m``) reads scenes within that span (10% slack) as they are and
        resamples others to the nearer end.
        """
        if scene_gsd is None:
            return None
        if self.gsd_range_m is not None:
            low, high = self.gsd_range_m
            if low / 1.1 <= scene_gsd <= high * 1.1:
                return None
            return low if scene_gsd < low else high
        return self.gsd_m

    def to_json(self) -> str:
        """The JSON text stored under the ``coalwatch`` metadata key."""
        data = asdict(self)
        data["bands"] = list(self.bands)
        if self.gsd_range_m is not None:
            data["gsd_range_m"] = list(self.gsd_range_m)
        return json.dumps(data)  # key order kept: taxonomy groups are ordered

    @classmethod
    def from_json(cls, text: str) -> ModelMetadata:
        """Parse the stored JSON; raises ``ValueError`` on anything malformed."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"metadata is not JSON ({exc})") from exc
        if not isinstance(data, Mapping):
            raise ValueError("metadata is not a JSON object")
        if int(data.get("format_version", FORMAT_VERSION)) > FORMAT_VERSION:
            raise ValueError(
                f"metadata format {data['format_version']} is newer than this coalwatch"
            )
        try:
            return cls(
                taxonomy=dict(data["taxonomy"]),
                bands=tuple(int(b) for b in data.get("bands", (1, 2, 3))),
                scaling=dict(data.get("scaling") or {"method": "gain", "gain": 1.0}),
                tile_size=int(data.get("tile_size", 512)),
                tile_overlap=int(data.get("tile_overlap", 64)),
                gsd_m=None if data.get("gsd_m") is None else float(data["gsd_m"]),
                gsd_range_m=None
                if data.get("gsd_range_m") is None
                else (float(data["gsd_range_m"][0]), float(data["gsd_range_m"][1])),
                score_threshold=float(data.get("score_threshold", 0.5)),
                class_score_thresholds={
                    str(k): float(v) for k, v in (data.get("class_score_thresholds") or {}).items()
                },
                version=str(data.get("version", "")),
                config_digest=str(data.get("config_digest", "")),
                format_version=int(data.get("format_version", FORMAT_VERSION)),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"metadata lacks or garbles {exc}") from exc


def thresholds_by_class_id(
    classes: Sequence[str], default: float, per_class: Mapping[str, float] | None = None
) -> np.ndarray:
    """``default`` for every class id (index 0, the background, included) except the classes
    that ``per_class`` names."""
    chosen = [(per_class or {}).get(name, default) for name in classes]
    return np.array([default, *chosen], dtype=np.float32)


def read_metadata(model_path: str | Path) -> ModelMetadata:
    """Read the coalwatch metadata of an ONNX file (onnxruntime only, no torch, no onnx)."""
    from coalwatch.infer.session import open_session

    session = open_session(model_path, threads=1)
    return metadata_of_session(session, model_path)


def metadata_of_session(session: Any, model_path: str | Path) -> ModelMetadata:
    """The coalwatch metadata of an open onnxruntime session, or an ``InputError``."""
    custom = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in custom:
        raise InputError(model_path, "ONNX model has no coalwatch metadata (use coalwatch export)")
    try:
        return ModelMetadata.from_json(custom[METADATA_KEY])
    except ValueError as exc:
        raise InputError(model_path, f"bad coalwatch metadata: {exc}") from exc
