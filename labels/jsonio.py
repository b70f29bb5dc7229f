"""Reading JSON and GeoJSON input with errors that name the file."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyproj import CRS
from pyproj.exceptions import ProjError

from coalwatch.errors import InputError


def load_json(path: str | Path, what: str) -> Any:
    """Parse a JSON file; a missing or malformed file is an ``InputError`` naming it.

    ``what`` names the kind of file in the error (``"label file"``, ``"COCO file"``...).
    """
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise InputError(path, f"no such {what}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"malformed JSON ({exc})") from exc


def geojson_crs(path: str | Path, collection: Mapping[str, Any]) -> CRS:
    """The CRS a GeoJSON object names in its legacy ``crs`` member (WGS84 without one)."""
    member = collection.get("crs")
    if member is None:
        return CRS.from_epsg(4326)  # RFC 7946: no crs member means WGS84
    try:
        return CRS.from_user_input(member["properties"]["name"])
    except (ProjError, KeyError, TypeError) as exc:
        raise InputError(path, f"unknown CRS {member!r}") from exc
