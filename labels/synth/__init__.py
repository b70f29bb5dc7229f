"""Synthetic satellite scenes with exact ground truth (no torch).

``render_scenario`` draws independent random scenes of a scenario (a rail border crossing,
a coal port, a mine); ``render_series`` draws a dated series of one fixed site from the
script of counts in its YAML. Both write ``<scene_id>.tif`` + ``<scene_id>.geojson``.
"""

from coalwatch.labels.synth.config import Scenario, load_scenario
from coalwatch.labels.synth.render import render_scenario
from coalwatch.labels.synth.series import render_series

__all__ = ["Scenario", "load_scenario", "render_scenario", "render_series"]
