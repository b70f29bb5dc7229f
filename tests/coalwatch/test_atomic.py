from __future__ import annotations

import os
import stat

import pytest

from coalwatch.atomic import atomic_dir, atomic_path, write_text_atomic


def test_atomic_path_renames_on_success_with_usual_mode(tmp_path) -> None:
    target = tmp_path / "out.txt"
    write_text_atomic(target, "hello")
    assert target.read_text() == "hello"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_path_leaves_nothing_on_failure(tmp_path) -> None:
    target = tmp_path / "out.tif"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        assert tmp.suffix == ".tif"
        tmp.write_text("partial")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_replaces_existing_only_when_complete(tmp_path) -> None:
    target = tmp_path / "chips"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("new")
        raise RuntimeError("boom")
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    with atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chips"]


def test_save_figure_writes_a_png_and_closes_the_figure(tmp_path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from coalwatch.atomic import save_figure

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / "plot.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]


def test_a_palette_figure_of_imagery_is_smaller_and_keeps_its_size(tmp_path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image

    from coalwatch.atomic import save_figure

    texture = np.random.default_rng(0).integers(0, 255, (300, 300, 3), dtype=np.uint8)
    paths = []
    for palette in (False, True):
        fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
        ax.imshow(texture, interpolation="lanczos")
        paths.append(save_figure(fig, tmp_path / f"palette_{palette}.png", palette=palette))
        assert not plt.fignum_exists(fig.number)
    full, compact = (Image.open(p) for p in paths)
    assert compact.mode == "P" and full.mode == "RGBA"
    assert compact.size == full.size == (400, 400)
    assert paths[1].stat().st_size < paths[0].stat().st_size / 2
