"""What a run records for inference: tiles, GSD (and its span), bands, scaling."""

from __future__ import annotations

import pytest

from coalwatch.model.checkpoint import InferenceSettings
from coalwatch.train.config import InferenceConfig, RunConfig
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


def test_counting_tiles_default_to_the_training_tile_or_take_the_config() -> None:
    run = RunConfig()
    assert inference_settings(run, _manifest(1.0)).tile_size == run.model.tile_size
    run.inference = InferenceConfig(tile_size=512, tile_overlap=128)
    settings = inference_settings(run, _manifest(1.0))
    assert (settings.tile_size, settings.tile_overlap) == (512, 128)


def test_counting_tiles_must_exceed_twice_their_overlap() -> None:
    with pytest.raises(ValueError, match="more than twice"):
        InferenceConfig(tile_size=256, tile_overlap=128)
