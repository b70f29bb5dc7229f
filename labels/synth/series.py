"""Dated series: one fixed site whose contents follow the script of counts per date in the
scenario's YAML; writes the scenes, ``aois.geojson`` and ``truth.csv``."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from coalwatch.atomic import write_text_atomic
from coalwatch.errors import InputError
from coalwatch.labels.synth.config import Scenario, SeriesDate
from coalwatch.labels.synth.contents import anchored_ships, berth_ship, place_trains, small_craft
from coalwatch.labels.synth.georef import scene_grid
from coalwatch.labels.synth.layout import Contents, Site
from coalwatch.labels.synth.rail import compose_train
from coalwatch.labels.synth.render import as_scenario, build_site, check_gsd, save_scene
from coalwatch.labels.synth.scene import RenderedScene, render_scene
from coalwatch.labels.synth.stockyard import Slot, fill_yard, yard_slots

CLASSES = ("ore_car", "other_railcar", "bulk_carrier", "other_vessel", "coal_heap")
CARS_PER_TRAIN = 40


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def series_contents(
    site: Site, day: SeriesDate, slots: dict[str, list[Slot]], rng: np.random.Generator
) -> Contents:
    """The site's contents on one scripted date (exact counts)."""
    n_trains = max(1, math.ceil((day.ore_car + day.other_railcar) / CARS_PER_TRAIN))
    ores, others = _split(day.ore_car, n_trains), _split(day.other_railcar, n_trains)
    loaded = _split(day.ore_car_loaded, n_trains)
    consists = [
        compose_train(rng, o, m, min(ld, o), m > 0)
        for o, m, ld in zip(ores, others, loaded, strict=True)
    ]
    tracks = site.sidings() + [t for t in site.tracks if t.role == "spur"]
    try:
        trains = place_trains(site, tracks, consists, rng, strict=True)
    except ValueError as exc:
        raise InputError(None, f"{day.date:%Y-%m-%d}: {exc}") from exc
    if len(day.berths) > len(site.berths):
        raise InputError(
            None,
            f"{day.date:%Y-%m-%d}: {len(day.berths)} berth flags for {len(site.berths)} berths",
        )
    ships = [berth_ship(site, i, rng) for i, b in enumerate(day.berths) if b]
    ships += anchored_ships(site, rng, day.anchored, ships)
    ships += small_craft(site, rng, ships, min(len(ships), 2), 1, day.small_craft)
    heaps = []
    for yard in site.stockyards:
        target = day.heaps.get(yard.name, 0.0)
        heaps += fill_yard(yard, slots[yard.name], target, "coal", site.gsd, rng)
    return Contents(trains, ships, heaps)


def truth_row(day: SeriesDate, scene_id: str, scene: RenderedScene, aois: list[str]) -> dict:
    """True counts of one date: per class, per AOI and class, heap area per AOI."""
    row: dict = {
        "date": day.date.date().isoformat(),
        "scene": scene_id,
        "cloud_fraction": scene.cloud_fraction,
    }
    for cls in CLASSES:
        row[cls] = sum(o.cls == cls for o in scene.objects)
    row["ore_car_loaded"] = sum(
        o.cls == "ore_car" and bool(o.attributes.get("loaded")) for o in scene.objects
    )
    row["occluded"] = sum(bool(o.attributes.get("occluded")) for o in scene.objects)
    row["heap_area_m2"] = round(sum(scene.heap_area_m2.values()), 1)
    for aoi in aois:
        for cls in CLASSES:
            row[f"{cls}@{aoi}"] = sum(
                o.cls == cls and o.attributes.get("aoi") == aoi for o in scene.objects
            )
        row[f"heap_area_m2@{aoi}"] = round(scene.heap_area_m2.get(aoi, 0.0), 1)
    return row


def write_aois(path: Path, site: Site, scenario: Scenario) -> Path:
    """The named AOI polygons in the scenes' CRS (property ``name``)."""
    grid = scene_grid(scenario.place, site.width, site.height, site.gsd)
    features = []
    for name, poly in sorted(site.aois.items()):
        ring = [list(grid.transform @ p) for p in poly]
        ring.append(ring[0])
        kind = name.rstrip("_0123456789")
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"name": name, "kind": kind},
            }
        )
    doc = {
        "type": "FeatureCollection",
        "crs": {
            "type": "name",
            "properties": {"name": f"urn:ogc:def:crs:EPSG::{grid.crs.to_epsg()}"},
        },
        "features": features,
    }
    return write_text_atomic(path, json.dumps(doc, indent=1) + "\n")


def render_series(
    scenario: str | Path | Scenario,
    out_dir: str | Path,
    seed: int = 0,
    preview: bool = False,
    gsd: float | None = None,
    progress: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Render the scripted dated series of a scenario's fixed site; returns the tif paths.

    Also writes ``aois.geojson`` (named AOIs) and ``truth.csv`` (per date: counts per class,
    per ``class@aoi``, heap areas in m² overall and per ``heap_area_m2@aoi``). ``gsd``
    renders the same ground at another pixel size (e.g. 3 m, PlanetScope-like);
    ``progress`` is called with each tif path once it is written.
    """
    scen = as_scenario(scenario)
    if not scen.series:
        raise InputError(scen.path, "this scenario has no 'series' script")
    gsd = check_gsd(scen, gsd)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    layout_rng = np.random.default_rng([seed, 7919])
    site = build_site(scen, int(layout_rng.integers(1 << 62)), gsd)
    slots = {
        y.name: yard_slots(y, np.random.default_rng([seed, 31, i]))
        for i, y in enumerate(site.stockyards)
    }
    ground_seed = int(layout_rng.integers(1 << 62))
    aoi_names = sorted(site.aois)
    paths, rows = [], []
    for k, day in enumerate(scen.series):
        rng = np.random.default_rng([seed, 1000 + k])
        contents = series_contents(site, day, slots, rng)
        cut = bool(rng.random() < scen.nodata_probability)
        scene = render_scene(
            site, contents, day.date, scen.place.lat, ground_seed, rng, day.cloud, cut, scen.product
        )
        scene_id = f"{scen.name}_{day.date:%Y%m%d}"
        paths.append(
            save_scene(
                out,
                scene_id,
                scen,
                site,
                scene,
                day.date,
                {"seed": seed, "series_index": k},
                preview,
            )
        )
        rows.append(truth_row(day, scene_id, scene, aoi_names))
        if progress:
            progress(paths[-1])
    write_aois(out / "aois.geojson", site, scen)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(out / "truth.csv", buf.getvalue())
    return paths
