"""The synthetic training set: held-out validation layouts, the same scenes in any number of
rendering processes."""

from __future__ import annotations

from coalwatch.train.config import SyntheticData
from coalwatch.train.synthetic import plan_scenes, render_scenes


def small_set(workers: int) -> SyntheticData:
    return SyntheticData(
        scenarios=["rail_crossing", "coal_port"],
        train_scenes=2,
        val_scenes=1,
        size_px=[256, 256],
        workers=workers,
    )


def test_plan_names_every_scene_once_and_holds_validation_layouts_out() -> None:
    jobs = plan_scenes(small_set(1))
    assert len(jobs) == 6 and len({job.name for job in jobs}) == 6
    val_names = [job.name for job in jobs if job.is_val]
    assert val_names == ["val-rail_crossing-000", "val-coal_port-000"]
    train_keys = {(job.scenario.name, job.seed, job.index) for job in jobs if not job.is_val}
    val_keys = {(job.scenario.name, job.seed, job.index) for job in jobs if job.is_val}
    assert len(train_keys) == 4 and not train_keys & val_keys
    assert all(job.scenario.size_px == (256, 256) for job in jobs)


def test_two_processes_render_the_same_scenes_as_one(tmp_path) -> None:
    one, val_one = render_scenes(small_set(1), tmp_path / "one")
    two, val_two = render_scenes(small_set(2), tmp_path / "two")
    assert [p.name for p in one] == [p.name for p in two] and val_one == val_two
    for a, b in zip(one, two, strict=True):
        assert a.read_bytes() == b.read_bytes()
        assert a.with_suffix(".geojson").read_bytes() == b.with_suffix(".geojson").read_bytes()
    assert not (tmp_path / "two" / ".raw").exists()
