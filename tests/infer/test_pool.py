"""Jobs in a pool of processes: results in order, failures surface, the same pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from coalwatch.infer.counting import count_scenes
from coalwatch.infer.outputs import write_outputs
from coalwatch.infer.pool import run_in_order

from .scenes import write_scene


@pytest.mark.parametrize("workers", [1, 2])
def test_jobs_come_back_in_order_and_a_failure_surfaces(workers: int) -> None:
    reported: list[Path] = []
    jobs = [(Path, (name,)) for name in ("a", "b", "c")]
    assert run_in_order(jobs, workers, reported.append) == [Path("a"), Path("b"), Path("c")]
    assert reported == [Path("a"), Path("b"), Path("c")]
    with pytest.raises(ValueError):
        run_in_order([(Path, ("a",)), (int, ("not a number",))], workers)


def test_pictures_drawn_in_processes_are_those_drawn_here(trained_onnx, tmp_path) -> None:
    scenes = []
    for day, cars in (("2018-02-08", 6), ("2018-02-04", 3), ("2018-02-06", 0)):
        boxes = [(40 + i * 27, 120, 66 + i * 27, 126) for i in range(cars)]
        tags = {"ACQUISITION_DATETIME": f"{day}T02:00:00Z"}
        scenes.append(str(write_scene(tmp_path / f"site_{day}.tif", boxes, (400, 300), tags=tags)))
    results = count_scenes(scenes, trained_onnx)
    drawn = {}
    for workers in (1, 2):
        reported: list[Path] = []
        write_outputs(
            results, tmp_path / f"w{workers}", workers=workers, on_picture=reported.append
        )
        drawn[workers] = [path.name for path in reported]
    dates = ["2018-02-04", "2018-02-06", "2018-02-08"]  # the series' order, not the scenes'
    assert drawn[1] == drawn[2] == [f"site_{day}.detections.png" for day in dates]
    for name in drawn[1]:
        serial, pooled = (np.asarray(Image.open(tmp_path / w / name)) for w in ("w1", "w2"))
        assert serial.shape[0] > 100 and np.array_equal(serial, pooled)
