"""Speed: onnxruntime against eager torchvision per tile, scene throughput, pipeline overhead.

1. Per tile: the same model (the run's checkpoint in eager torchvision, its ONNX export in
   onnxruntime) on the same tiles of a scene, in one run, with the same thread count:
   median milliseconds per tile and their ratio.
2. Scene throughput: ``count_scene`` over a whole scene, in km² per minute at the scene's
   ground sample distance.
3. End-to-end overhead: reading, tiling, resampling, merging, heap areas (everything in
   ``count_scene`` outside the model) and writing the outputs, as a share of model time.

    python bench/speed.py --run demo_out/run --model demo_out/model.onnx \
        --scene demo_out/series/port_series_20170208.tif
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, table, write_json


def sample_tiles(scene: Path, model: Path, count: int) -> list[Any]:
    """Up to ``count`` model-ready tiles of ``scene`` (as counting reads them), spread out."""
    from coalwatch.infer.metadata import read_metadata
    from coalwatch.infer.scene_reader import Scene
    from coalwatch.labels.radiometry import Scaling

    meta = read_metadata(model)
    with Scene(scene, meta.bands, Scaling.from_dict(meta.scaling)) as src:
        _, tiles = src.model_tiles(meta.tile_size, meta.tile_overlap, meta.gsd_m)
        images = [t.image for t in tiles]
    step = max(1, len(images) // count)
    return images[::step][:count]


def time_calls(fn, inputs: list[Any], warmup: int = 2) -> list[float]:
    """Milliseconds per call of ``fn`` on each input, after ``warmup`` untimed calls."""
    for x in inputs[:warmup]:
        fn(x)
    times = []
    for x in inputs:
        started = time.perf_counter()
        fn(x)
        times.append((time.perf_counter() - started) * 1000)
    return times


def per_tile(run: Path, model: Path, tiles: list[Any], threads: int) -> dict[str, Any]:
    """Median ms per tile: eager torchvision vs onnxruntime, same model, same tiles."""
    import torch

    from coalwatch.infer.session import OnnxDetector
    from coalwatch.model.checkpoint import load_detector
    from coalwatch.model.export import resolve_checkpoint

    torch.set_num_threads(threads)
    eager, _, _ = load_detector(resolve_checkpoint(run))
    eager.eval()

    def torch_tile(image):
        with torch.inference_mode():
            return eager([torch.from_numpy(image)])

    onnx = OnnxDetector(model, threads)
    ort_ms = time_calls(lambda image: onnx.detect(image, 0.0), tiles)
    eager_ms = time_calls(torch_tile, tiles)
    ort_median, eager_median = statistics.median(ort_ms), statistics.median(eager_ms)
    return {
        "tiles": len(tiles),
        "tile_px": int(tiles[0].shape[1]) if tiles else None,
        "threads": threads,
        "eager_ms": round(eager_median, 2),
        "onnxruntime_ms": round(ort_median, 2),
        "speedup": round(eager_median / ort_median, 2) if ort_median else None,
    }


def scene_run(scene: Path, model: Path, threads: int) -> dict[str, Any]:
    """Count one scene, timing the model calls apart from the rest; then write its outputs."""
    from coalwatch.infer.counting import CountOptions, count_scene
    from coalwatch.infer.outputs import write_outputs
    from coalwatch.infer.session import detector_for

    detector = detector_for(model, threads)
    model_seconds = 0.0
    calls = 0
    inner = type(detector).detect

    def timed(image, score=None):
        nonlocal model_seconds, calls
        started = time.perf_counter()
        out = inner(detector, image, score)
        model_seconds += time.perf_counter() - started
        calls += 1
        return out

    detector.detect = timed  # the cached instance count_scene will use
    try:
        started = time.perf_counter()
        result = count_scene(scene, model, CountOptions(threads=threads))
        counted = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            write_outputs([result], tmp)
            written = time.perf_counter() - started
    finally:
        del detector.detect
    area = result.area_km2
    total = counted + written
    return {
        "scene": scene.name,
        "size_px": f"{result.width}x{result.height}",
        "gsd_m": result.gsd_m,
        "area_km2": round(area, 3) if area else None,
        "tiles": calls,
        "detections": len(result.detections),
        "model_s": round(model_seconds, 2),
        "count_s": round(counted, 2),
        "write_s": round(written, 2),
        "km2_per_min": round(area / (total / 60), 2) if area else None,
        "overhead_share": round((total - model_seconds) / model_seconds, 3),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("demo_out/run"), help="run or ckpt")
    parser.add_argument("--model", type=Path, default=Path("demo_out/model.onnx"))
    parser.add_argument("--scene", type=Path, help="GeoTIFF (default: first demo series scene)")
    parser.add_argument("--tiles", type=int, default=12, help="tiles timed per engine")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=Path("bench_out/speed.json"))
    args = parser.parse_args(argv)
    scene = args.scene or sorted(Path("demo_out/series").glob("*.tif"))[0]

    tiles = sample_tiles(scene, args.model, args.tiles)
    tile_row = per_tile(args.run, args.model, tiles, args.threads)
    scene_row = scene_run(scene, args.model, args.threads)
    print(table([tile_row], list(tile_row), "Per tile: eager torchvision vs onnxruntime"))
    print()
    print(table([scene_row], list(scene_row), "Whole scene: throughput and overhead"))
    record = {
        "model": str(args.model),
        "run": str(args.run),
        "machine": machine(),
        "per_tile": tile_row,
        "scene": scene_row,
    }
    write_json(args.json, record)
    print(f"\nwrote {args.json}")
    return record


if __name__ == "__main__":
    main()
