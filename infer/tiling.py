"""Cut a scene into overlapping tiles, each with a core region and an exclusive region.

Tiles step by ``size - overlap``; the last tile in a row or column is pushed back to end
at the scene's edge, so every tile is full-size when the scene is at least one tile big.
The *cores* partition the scene (the seam between two neighbours runs through the middle
of their overlap); the *exclusive* region of a tile is the part no other tile sees, so a
detection lying wholly inside it cannot be a duplicate.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

Box = tuple[float, float, float, float]


def tile_starts(length: int, size: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``size`` along ``length`` with at least ``overlap`` shared."""
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError(f"bad tiling: size {size}, overlap {overlap}")
    if length <= size:
        return [0]
    stride = size - overlap
    starts = list(range(0, length - size, stride))
    starts.append(length - size)
    return starts


def _cores(starts: list[int], size: int, length: int) -> list[tuple[float, float]]:
    """Per tile, the interval it owns: seams halfway through each overlap."""
    cores = []
    for i, start in enumerate(starts):
        lo = 0.0 if i == 0 else (start + starts[i - 1] + size) / 2
        hi = float(length) if i == len(starts) - 1 else (starts[i + 1] + start + size) / 2
        cores.append((lo, hi))
    return cores


def _exclusive(starts: list[int], size: int, length: int) -> list[tuple[float, float]]:
    """Per tile, the interval no neighbour covers (may be empty: lo > hi)."""
    spans = []
    for i, start in enumerate(starts):
        end = min(start + size, length)
        lo = float(start) if i == 0 else float(starts[i - 1] + size)
        hi = float(end) if i == len(starts) - 1 else float(starts[i + 1])
        spans.append((lo, hi))
    return spans


@dataclass(frozen=True)
class Tile:
    """One tile: its window in scene pixels, its core and exclusive regions, its grid index."""

    index: int
    col: int
    row: int
    x: int
    y: int
    width: int
    height: int
    core: Box
    exclusive: Box
    scene_width: int
    scene_height: int

    @property
    def window(self) -> tuple[int, int, int, int]:
        """``(col_off, row_off, width, height)`` for a rasterio ``Window``."""
        return (self.x, self.y, self.width, self.height)

    @property
    def bounds(self) -> Box:
        """The tile's extent in scene pixels."""
        return (
            float(self.x),
            float(self.y),
            float(self.x + self.width),
            float(self.y + self.height),
        )

    def interior_edges(self) -> tuple[bool, bool, bool, bool]:
        """Whether the left, top, right, bottom edges lie inside the scene (have a neighbour)."""
        return (
            self.x > 0,
            self.y > 0,
            self.x + self.width < self.scene_width,
            self.y + self.height < self.scene_height,
        )


@dataclass(frozen=True)
class TileGrid:
    """The tiles of a ``width`` x ``height`` scene."""

    width: int
    height: int
    size: int
    overlap: int

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"empty scene {self.width}x{self.height}")
        tile_starts(1, self.size, self.overlap)  # validates size/overlap

    @property
    def columns(self) -> list[int]:
        return tile_starts(self.width, self.size, self.overlap)

    @property
    def rows(self) -> list[int]:
        return tile_starts(self.height, self.size, self.overlap)

    def __len__(self) -> int:
        return len(self.columns) * len(self.rows)

    def __iter__(self) -> Iterator[Tile]:
        xs, ys = self.columns, self.rows
        x_cores, y_cores = _cores(xs, self.size, self.width), _cores(ys, self.size, self.height)
        x_excl, y_excl = (
            _exclusive(xs, self.size, self.width),
            _exclusive(ys, self.size, self.height),
        )
        index = 0
        for row, y in enumerate(ys):
            for col, x in enumerate(xs):
                yield Tile(
                    index=index,
                    col=col,
                    row=row,
                    x=x,
                    y=y,
                    width=min(self.size, self.width - x),
                    height=min(self.size, self.height - y),
                    core=(x_cores[col][0], y_cores[row][0], x_cores[col][1], y_cores[row][1]),
                    exclusive=(x_excl[col][0], y_excl[row][0], x_excl[col][1], y_excl[row][1]),
                    scene_width=self.width,
                    scene_height=self.height,
                )
                index += 1
