"""What a run records for inference: tiles, GSD (and its span), bands, scaling."""

from __future__ import annotations

from coalwatch.model.checkpoint import InferenceSettings
from coalwatch.train.config import RunConfig
from coalwatch.train.run import inference_settings


def _manifest(*gsds: float) -> dict:
    return {
        "options": {"overlap": 64},
        "bands": [1, 2, 3],
        "scaling": {"method": "gain", "gain": 1.0},
        "scenes": [{"gsd_m": g} for g in gsds],
    }


def test_mixed_gsd_training_records_the_span() -> None:
    settings = inference_settings(RunConfig(), _manifest(0.5, 0.5, 1.0))
    assert settings.gsd_m == 0.5
    assert settings.gsd_range_m == (0.5, 1.0)
    assert InferenceSettings.from_dict(settings.to_dict()) == settings


def test_single_gsd_training_records_no_span() -> None:
    settings = inference_settings(RunConfig(), _manifest(3.0, 3.0))
    assert settings.gsd_m == 3.0 and settings.gsd_range_m is None
    assert settings.tile_overlap == 64
