"""Named areas of interest (berths, piers, sidings) from a GeoJSON file in any CRS.

The file is a FeatureCollection of Polygons or MultiPolygons with a ``name`` property
(``id`` or the feature's index as fallbacks). Its CRS is the legacy ``crs`` member when
present, else WGS84 (RFC 7946). ``AreasOfInterest.in_crs`` reprojects them to a scene's
CRS; a detection belongs to the area that contains its centre.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from coalwatch.errors import InputError
from coalwatch.labels.jsonio import geojson_crs, load_json


@dataclass
class AreasOfInterest:
    """Named polygons and the CRS they are given in."""

    names: tuple[str, ...]
    geometries: tuple[BaseGeometry, ...]
    crs: CRS
    source: str = ""
    _projected: dict[str, tuple[BaseGeometry, ...]] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.names)

    def in_crs(self, crs: CRS) -> tuple[BaseGeometry, ...]:
        """The polygons reprojected to ``crs`` (cached per CRS)."""
        key = crs.to_wkt()
        if key not in self._projected:
            if crs == self.crs:
                self._projected[key] = self.geometries
            else:
                try:
                    transformer = Transformer.from_crs(self.crs, crs, always_xy=True)
                except CRSError as exc:
                    raise InputError(self.source, f"cannot reproject AOIs to {crs}") from exc
                projected = tuple(
                    shapely.transform(
                        g, lambda xy, t=transformer: np.column_stack(t.transform(*xy.T))
                    )
                    for g in self.geometries
                )
                if any(not np.isfinite(shapely.get_coordinates(g)).all() for g in projected):
                    raise InputError(self.source, f"AOIs cannot be reprojected to {crs.name}")
                self._projected[key] = projected
        return self._projected[key]

    def contains(self, crs: CRS, points: np.ndarray) -> dict[str, np.ndarray]:
        """Per AOI name, which of the (N, 2) map ``points`` (in ``crs``) it contains."""
        geometries = self.in_crs(crs)
        return {
            name: shapely.contains_xy(geom, points[:, 0], points[:, 1])
            if len(points)
            else np.zeros(0, dtype=bool)
            for name, geom in zip(self.names, geometries, strict=True)
        }

    def areas_m2(self, crs: CRS) -> dict[str, float]:
        """Area of each AOI in ``crs`` units squared (square metres for a metric CRS)."""
        return {n: float(g.area) for n, g in zip(self.names, self.in_crs(crs), strict=True)}


def load_aois(path: str | Path) -> AreasOfInterest:
    """Read named AOI polygons; any problem is an ``InputError`` naming the file."""
    path = Path(path)
    data = load_json(path, "AOI file")
    if isinstance(data, Mapping) and data.get("type") == "Feature":
        data = {"type": "FeatureCollection", "features": [data], "crs": data.get("crs")}
    if not isinstance(data, Mapping) or data.get("type") != "FeatureCollection":
        raise InputError(path, "AOI file is not a GeoJSON FeatureCollection")
    if data.get("crs") is None:
        data = {k: v for k, v in data.items() if k != "crs"}
    crs = geojson_crs(path, data)
    names: list[str] = []
    geometries: list[BaseGeometry] = []
    for index, feature in enumerate(data.get("features") or []):
        props = dict((feature or {}).get("properties") or {})
        name = str(props.get("name") or props.get("id") or f"aoi_{index}")
        try:
            geom = shape(feature["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(path, f"feature {index} ({name}): bad geometry ({exc})") from exc
        if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
            raise InputError(path, f"feature {index} ({name}): AOIs must be (multi)polygons")
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        if name in names:
            raise InputError(path, f"feature {index}: AOI name {name!r} used twice")
        names.append(name)
        geometries.append(geom)
    if not names:
        raise InputError(path, "AOI file has no features")
    return AreasOfInterest(tuple(names), tuple(geometries), crs, str(path))
