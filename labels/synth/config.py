"""Scenario configs (YAML under ``configs/synth/``): place, grid, dates, clouds, site knobs
and, for a dated series, the script of counts per date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from coalwatch.errors import InputError
from coalwatch.resources import resolve_config

SITES = ("rail_crossing", "coal_port", "mine", "rail_port")
PRODUCTS = ("visual", "analytic")


@dataclass(frozen=True)
class Place:
    """Where the site lies: a name, its centre (WGS84) and the UTM zone EPSG code."""

    name: str
    lon: float
    lat: float
    epsg: int


@dataclass(frozen=True)
class SeriesDate:
    """One date of a series script: what the site holds on that day."""

    date: dt.datetime
    ore_car: int = 0
    ore_car_loaded: int = 0
    other_railcar: int = 0
    berths: tuple[int, ...] = ()
    anchored: int = 0
    small_craft: int = 2
    heaps: dict[str, float] = field(default_factory=dict)
    cloud: float = 0.0


@dataclass
class Scenario:
    """A loaded scenario: common settings plus the site's own knobs in ``params``."""

    name: str
    path: Path
    site: str
    description: str
    place: Place
    gsd_m: float
    size_px: tuple[int, int]
    dates: tuple[dt.date, dt.date]
    product: str = "visual"
    cloud_probability: float = 0.3
    cloud_fraction: tuple[float, float] = (0.05, 0.5)
    nodata_probability: float = 0.5
    params: dict[str, Any] = field(default_factory=dict)
    series: list[SeriesDate] | None = None


def _range(path: Path, key: str, value: Any, lo: float, hi: float) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise InputError(path, f"{key}: expected [low, high], got {value!r}") from exc
    if not lo <= a <= b <= hi:
        raise InputError(path, f"{key}: [{a}, {b}] must be ordered within [{lo}, {hi}]")
    return a, b


def _date(path: Path, key: str, value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, 10, 30)
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise InputError(path, f"{key}: not an ISO date: {value!r}") from exc


def _series(path: Path, raw: Any) -> list[SeriesDate]:
    if not isinstance(raw, list) or not raw:
        raise InputError(path, "series: expected a non-empty list of dates")
    known = set(SeriesDate.__dataclass_fields__)
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or "date" not in item:
            raise InputError(path, f"series[{i}]: expected a mapping with a 'date'")
        unknown = set(item) - known
        if unknown:
            raise InputError(path, f"series[{i}]: unknown keys {sorted(unknown)}")
        kw = dict(item)
        kw["date"] = _date(path, f"series[{i}].date", kw["date"])
        kw["berths"] = tuple(int(b) for b in kw.get("berths", ()))
        kw["heaps"] = {str(k): float(v) for k, v in (kw.get("heaps") or {}).items()}
        for key in ("ore_car", "ore_car_loaded", "other_railcar", "anchored", "small_craft"):
            if key in kw and (not isinstance(kw[key], int) or kw[key] < 0):
                raise InputError(path, f"series[{i}].{key}: expected a count >= 0")
        if not 0.0 <= float(kw.get("cloud", 0.0)) <= 0.9:
            raise InputError(path, f"series[{i}].cloud: expected a fraction in [0, 0.9]")
        out.append(SeriesDate(**kw))
    dates = [d.date for d in out]
    if dates != sorted(dates) or len(set(dates)) != len(dates):
        raise InputError(path, "series: dates must be distinct and in order")
    return out


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a shipped scenario by name (``coal_port``) or a YAML file by path."""
    path = resolve_config(str(name_or_path), "synth")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InputError(path, f"malformed YAML ({' '.join(str(exc).split())})") from exc
    if not isinstance(raw, dict):
        raise InputError(path, "a scenario must be a YAML mapping")
    allowed = {
        "name",
        "site",
        "description",
        "place",
        "gsd_m",
        "size_px",
        "dates",
        "product",
        "clouds",
        "nodata_probability",
        "params",
        "series",
    }
    unknown = set(raw) - allowed
    if unknown:
        raise InputError(path, f"unknown keys {sorted(unknown)}")
    site = raw.get("site")
    if site not in SITES:
        raise InputError(path, f"site must be one of {', '.join(SITES)}, got {site!r}")
    place_raw = raw.get("place") or {}
    try:
        place = Place(
            str(place_raw.get("name", "")),
            float(place_raw["lon"]),
            float(place_raw["lat"]),
            int(place_raw["epsg"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(path, "place: needs lon, lat and epsg") from exc
    gsd = float(raw.get("gsd_m", 1.0))
    if not 0.3 <= gsd <= 3.0:
        raise InputError(path, f"gsd_m must lie in [0.3, 3.0] m, got {gsd}")
    size = raw.get("size_px", [1536, 1536])
    if isinstance(size, int):
        size = [size, size]
    w, h = (int(v) for v in size)
    if not (128 <= w <= 8192 and 128 <= h <= 8192):
        raise InputError(path, f"size_px must be within 128..8192, got {size}")
    dates = raw.get("dates") or {"start": "2016-01-01", "end": "2019-12-31"}
    start = _date(path, "dates.start", dates.get("start")).date()
    end = _date(path, "dates.end", dates.get("end")).date()
    if end < start:
        raise InputError(path, "dates: end before start")
    product = raw.get("product", "visual")
    if product not in PRODUCTS:
        raise InputError(path, f"product must be one of {PRODUCTS}, got {product!r}")
    clouds = raw.get("clouds") or {}
    params = raw.get("params") or {}
    if not isinstance(params, dict):
        raise InputError(path, "params: expected a mapping")
    return Scenario(
        name=str(raw.get("name", path.stem)),
        path=path,
        site=site,
        description=str(raw.get("description", "")),
        place=place,
        gsd_m=gsd,
        size_px=(w, h),
        dates=(start, end),
        product=product,
        cloud_probability=float(clouds.get("probability", 0.3)),
        cloud_fraction=_range(path, "clouds.fraction", clouds.get("fraction", [0.05, 0.5]), 0, 0.9),
        nodata_probability=float(raw.get("nodata_probability", 0.5)),
        params=params,
        series=_series(path, raw["series"]) if "series" in raw else None,
    )


def site_params(scenario: Scenario, defaults: dict[str, Any]) -> dict[str, Any]:
    """The site knobs: defaults overridden by the scenario; unknown knobs are an error."""
    unknown = set(scenario.params) - set(defaults)
    if unknown:
        raise InputError(scenario.path, f"params: unknown keys {sorted(unknown)}")
    return {**defaults, **scenario.params}
