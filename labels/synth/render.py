"""The generator's entry points: independent random scenes of a scenario, and dated series
of one fixed site (``render_series`` lives in ``series.py``)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from coalwatch.errors import InputError
from coalwatch.labels.synth.config import Scenario, load_scenario, site_params
from coalwatch.labels.synth.georef import contract_tags, scene_grid, write_scene
from coalwatch.labels.synth.layout import Site
from coalwatch.labels.synth.preview import write_preview
from coalwatch.labels.synth.random_contents import RANDOM_CONTENTS
from coalwatch.labels.synth.scene import RenderedScene, render_scene
from coalwatch.labels.synth.site_mine import DEFAULTS as MINE_DEFAULTS
from coalwatch.labels.synth.site_mine import build_mine
from coalwatch.labels.synth.site_port import DEFAULTS as PORT_DEFAULTS
from coalwatch.labels.synth.site_port import build_port
from coalwatch.labels.synth.site_rail import DEFAULTS as RAIL_DEFAULTS
from coalwatch.labels.synth.site_rail import build_rail_crossing

log = logging.getLogger(__name__)

Builder = Callable[[dict, np.random.Generator, int, int, float], Site]
SITE_BUILDERS: dict[str, tuple[dict, Builder]] = {
    "rail_crossing": (RAIL_DEFAULTS, build_rail_crossing),
    "coal_port": (PORT_DEFAULTS, build_port),
    "rail_port": (PORT_DEFAULTS, lambda p, r, w, h, g: build_port(p, r, w, h, g, "piers")),
    "mine": (MINE_DEFAULTS, build_mine),
}


def as_scenario(scenario: str | Path | Scenario) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def scene_size(scenario: Scenario, gsd: float) -> tuple[int, int]:
    """Pixel size at ``gsd``: the scenario's ground extent is kept (at least 256 px)."""
    w, h = scenario.size_px
    scale = scenario.gsd_m / gsd
    return max(round(w * scale), 256), max(round(h * scale), 256)


def build_site(scenario: Scenario, layout_seed: int, gsd: float) -> Site:
    defaults, builder = SITE_BUILDERS[scenario.site]
    params = site_params(scenario, defaults)
    width, height = scene_size(scenario, gsd)
    return builder(params, np.random.default_rng(layout_seed), width, height, gsd)


def random_datetime(rng: np.random.Generator, start: dt.date, end: dt.date) -> dt.datetime:
    days = (end - start).days
    day = start + dt.timedelta(days=int(rng.integers(0, days + 1)))
    minutes = int(rng.integers(9 * 60 + 50, 11 * 60 + 10))
    return dt.datetime(day.year, day.month, day.day, minutes // 60, minutes % 60)


def save_scene(
    out_dir: Path,
    scene_id: str,
    scenario: Scenario,
    site: Site,
    scene: RenderedScene,
    when: dt.datetime,
    extra_props: dict,
    preview: bool,
) -> Path:
    """Write one rendered scene (tif, geojson, optional preview PNG)."""
    grid = scene_grid(scenario.place, site.width, site.height, site.gsd)
    tags = contract_tags(
        when,
        scene.cloud_fraction,
        scenario.name,
        site.gsd,
        {
            "SUN_AZIMUTH": f"{scene.sun[0]:.1f}",
            "SUN_ELEVATION": f"{scene.sun[1]:.1f}",
            "COALWATCH_SCENE_ID": scene_id,
        },
    )
    props = {
        "scene_id": scene_id,
        "scenario": scenario.name,
        "site": scenario.site,
        "place": scenario.place.name,
        "acquisition_datetime": tags["ACQUISITION_DATETIME"],
        "gsd_m": site.gsd,
        "cloud_fraction": scene.cloud_fraction,
        "synthetic": True,
        **extra_props,
    }
    if scene.spoil_area_m2:
        props["spoil_area_m2"] = round(scene.spoil_area_m2, 1)
    tif = write_scene(out_dir, scene_id, scene.data, grid, scene.objects, tags, props)
    if preview:
        write_preview(out_dir / f"{scene_id}_preview.png", scene.data, scene.objects)
    return tif


def check_gsd(scenario: Scenario, gsd: float | None) -> float:
    value = scenario.gsd_m if gsd is None else float(gsd)
    if not 0.3 <= value <= 3.0:
        raise InputError(scenario.path, f"gsd {value} m is outside 0.3..3 m")
    return value


def render_scenario(
    scenario: str | Path | Scenario,
    out_dir: str | Path,
    seed: int = 0,
    count: int = 1,
    preview: bool = False,
    gsd: float | None = None,
    progress: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Render ``count`` independent random scenes of a scenario; returns the tif paths.

    Scene ``i`` of seed ``s`` is a pure function of (scenario, s, i, gsd): same bytes on
    every run. Each scene has its own random layout, contents, date, sun and sky.
    ``progress`` is called with each tif path once it is written.
    """
    scen = as_scenario(scenario)
    if count < 1:
        raise InputError(None, f"count must be at least 1, got {count}")
    gsd_m = check_gsd(scen, gsd)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    kind = "port" if scen.site in ("coal_port", "rail_port") else scen.site
    paths = []
    for index in range(count):
        rng = np.random.default_rng([seed, index])
        site = build_site(scen, int(rng.integers(1 << 62)), gsd_m)
        contents = RANDOM_CONTENTS[kind](site, rng)
        when = random_datetime(rng, *scen.dates)
        clouded = rng.random() < scen.cloud_probability
        cloud = float(rng.uniform(*scen.cloud_fraction)) if clouded else 0.0
        cut = bool(rng.random() < scen.nodata_probability)
        ground_seed = int(rng.integers(1 << 62))
        scene = render_scene(
            site, contents, when, scen.place.lat, ground_seed, rng, cloud, cut, scen.product
        )
        scene_id = f"{scen.name}_s{seed}_{index:04d}"
        if gsd is not None and gsd_m != scen.gsd_m:
            scene_id += f"_{gsd_m:g}m".replace(".", "p")
        paths.append(
            save_scene(
                out, scene_id, scen, site, scene, when, {"seed": seed, "index": index}, preview
            )
        )
        log.debug("wrote %s (%d objects)", paths[-1], len(scene.objects))
        if progress:
            progress(paths[-1])
    return paths
