"""Sun position and shadow geometry, one sun per scene."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sun:
    """Sun azimuth (degrees clockwise from north) and elevation (degrees)."""

    azimuth: float
    elevation: float

    def shadow_px(self, height_m: float, gsd: float) -> tuple[float, float]:
        """Pixel offset (dx, dy) of the shadow of a point ``height_m`` above ground."""
        length = height_m / math.tan(math.radians(max(self.elevation, 5.0))) / gsd
        az = math.radians(self.azimuth)
        return (-math.sin(az) * length, math.cos(az) * length)

    def light_vector(self) -> np.ndarray:
        """Unit vector towards the sun in (x east, y south, z up) pixel-aligned axes."""
        az, el = math.radians(self.azimuth), math.radians(self.elevation)
        return np.array(
            [math.sin(az) * math.cos(el), -math.cos(az) * math.cos(el), math.sin(el)], np.float32
        )


def sun_for(when: dt.datetime, lat: float, rng: np.random.Generator) -> Sun:
    """A plausible late-morning sun-synchronous sun for the date and latitude."""
    day = when.timetuple().tm_yday
    declination = 23.44 * math.sin(math.radians(360.0 / 365.0 * (day - 81)))
    noon_elevation = 90.0 - lat + declination
    elevation = float(np.clip(noon_elevation - rng.uniform(3.0, 12.0), 15.0, 75.0))
    azimuth = float(rng.uniform(135.0, 170.0))
    return Sun(azimuth, elevation)


def greenness(when: dt.datetime) -> float:
    """Vegetation state in [0, 1] for the month in North Korea (0: winter, 1: high summer)."""
    day = when.timetuple().tm_yday
    return float(np.clip(0.5 - 0.62 * math.cos(2 * math.pi * (day - 20) / 365.0), 0.0, 1.0))
