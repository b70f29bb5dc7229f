"""The generator's entry points: independent random scenes of a scenario, and dated series
of one fixed site (``render_series`` lives in ``series.py``)."""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
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


def default_workers() -> int:
    """Processes for rendering: the CPUs this process may use, at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def render_scene_at(
    scenario: Scenario,
    out_dir: Path,
    seed: int,
    index: int,
    gsd: float | None = None,
    preview: bool = False,
) -> Path:
    """Render and write scene ``index`` of ``seed``: a pure function of its arguments."""
    gsd_m = check_gsd(scenario, gsd)
    kind = "port" if scenario.site in ("coal_port", "rail_port") else scenario.site
    rng = np.random.default_rng([seed, index])
    site = build_site(scenario, int(rng.integers(1 << 62)), gsd_m)
    contents = RANDOM_CONTENTS[kind](site, rng)
    when = random_datetime(rng, *scenario.dates)
    clouded = rng.random() < scenario.cloud_probability
    cloud = float(rng.uniform(*scenario.cloud_fraction)) if clouded else 0.0
    cut = bool(rng.random() < scenario.nodata_probability)
    ground_seed = int(rng.integers(1 << 62))
    scene = render_scene(
        site, contents, when, scenario.place.lat, ground_seed, rng, cloud, cut, scenario.product
    )
    scene_id = f"{scenario.name}_s{seed}_{index:04d}"
    if gsd is not None and gsd_m != scenario.gsd_m:
        scene_id += f"_{gsd_m:g}m".replace(".", "p")
    extra = {"seed": seed, "index": index}
    tif = save_scene(out_dir, scene_id, scenario, site, scene, when, extra, preview)
    log.debug("wrote %s (%d objects)", tif, len(scene.objects))
    return tif


# render_scene_at's arguments: scenario, out_dir, seed, index, gsd, preview
SceneArgs = tuple[Scenario, Path, int, int, float | None, bool]


def render_many(scenes: Sequence[SceneArgs], workers: int = 1) -> Iterator[Path]:
    """Render scenes given as :func:`render_scene_at`'s arguments in ``workers`` processes;
    yields their tif paths in the order given.

    Workers are spawned, not forked: the parent may hold torch's and OpenMP's threads.
    """
    if workers <= 1 or len(scenes) < 2:
        for args in scenes:
            yield render_scene_at(*args)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(workers, len(scenes)), mp_context=context) as pool:
        futures = [pool.submit(render_scene_at, *args) for args in scenes]
        for future in futures:
            yield future.result()


def render_scenario(
    scenario: str | Path | Scenario,
    out_dir: str | Path,
    seed: int = 0,
    count: int = 1,
    preview: bool = False,
    gsd: float | None = None,
    progress: Callable[[Path], None] | None = None,
    workers: int = 1,
) -> list[Path]:
    """Render ``count`` independent random scenes of a scenario; returns the tif paths.

    Scene ``i`` of seed ``s`` is a pure function of (scenario, s, i, gsd): same bytes on
    every run, whatever the number of ``workers`` (processes) rendering them. Each scene
    has its own random layout, contents, date, sun and sky. ``progress`` is called with
    each tif path once it is written.
    """
    scen = as_scenario(scenario)
    if count < 1:
        raise InputError(None, f"count must be at least 1, got {count}")
    check_gsd(scen, gsd)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scenes = [(scen, out, seed, i, gsd, preview) for i in range(count)]
    return [_reported(tif, progress) for tif in render_many(scenes, workers)]


def _reported(path: Path, progress: Callable[[Path], None] | None) -> Path:
    if progress:
        progress(path)
    return path
