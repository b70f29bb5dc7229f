"""Benchmark ``coalwatch count`` on one large scene: peak memory and throughput.

Generates (once, cached) a tiled, deflate-compressed 3-band GeoTIFF of SIZE x SIZE pixels
at the model's GSD, written window by window by repeating a rendered synthetic scene
(``port_series``, so the detector sees realistic content), then counts it in a fresh
process per size and reports wall time, tiles/s, km²/min and peak RSS. Two sizes show
whether memory stays flat as scenes grow.

    .venv/bin/python bench/count_scene.py --model model.onnx --sizes 5000 20000 --threads 2
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.windows import Window

BLOCK = 512


def source_patch(cache: Path) -> tuple[np.ndarray, str]:
    """A rendered synthetic port scene (bands, H, W) uint8 and its CRS."""
    from coalwatch.labels.synth import render_scenario

    folder = cache / "patch"
    tifs = sorted(folder.glob("*.tif"))
    if not tifs:
        tifs = render_scenario("coal_port", folder, seed=0, count=1)
    with rasterio.open(tifs[0]) as src:
        data = src.read([1, 2, 3])
        crs = src.crs.to_string() if src.crs else "EPSG:32652"
    data[data == 0] = 1  # no nodata inside the big scene
    return data, crs


def make_scene(path: Path, size: int, gsd: float, cache: Path) -> Path:
    """A SIZE x SIZE scene built strip by strip from a mirrored synthetic patch."""
    if path.exists():
        return path
    patch, crs = source_patch(cache)
    tile = np.concatenate([patch, patch[:, :, ::-1]], axis=2)
    tile = np.concatenate([tile, tile[:, ::-1, :]], axis=1)  # seamless by mirroring
    th, tw = tile.shape[1:]
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": 3,
        "dtype": "uint8",
        "crs": crs,
        "transform": Affine(gsd, 0, 600_000.0, 0, -gsd, 4_700_000.0),
        "tiled": True,
        "blockxsize": BLOCK,
        "blockysize": BLOCK,
        "compress": "deflate",
        "zlevel": 1,
        "BIGTIFF": "IF_SAFER",
    }
    tmp = path.with_suffix(".tmp.tif")
    reps = -(-size // tw) + 1
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.update_tags(ACQUISITION_DATETIME="2017-02-08T02:00:00Z", CLOUD_FRACTION="0.0")
        for row in range(0, size, BLOCK):
            h = min(BLOCK, size - row)
            rows = np.arange(row, row + h) % th
            strip = np.tile(tile[:, rows, :], (1, 1, reps))[:, :, :size]
            dst.write(strip, window=Window(0, row, size, h))
    tmp.rename(path)
    return path


def null_model(path: Path, tile: int = 512, gsd: float = 1.0) -> Path:
    """An ONNX "detector" that finds nothing: times the pipeline without a network."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from coalwatch.infer.metadata import METADATA_KEY, ModelMetadata
    from coalwatch.labels.taxonomy import load_taxonomy

    nodes = [
        helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name))
        for name, value in (
            ("boxes", np.zeros((0, 4), np.float32)),
            ("labels", np.zeros(0, np.int64)),
            ("scores", np.zeros(0, np.float32)),
        )
    ]
    graph = helper.make_graph(
        nodes,
        "null",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [3, None, None])],
        [
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [0, 4]),
            helper.make_tensor_value_info("labels", TensorProto.INT64, [0]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, [0]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    meta = ModelMetadata(
        taxonomy=load_taxonomy().to_dict(), tile_size=tile, tile_overlap=64, gsd_m=gsd
    )
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, meta.to_json()
    onnx.save(model, path)
    return path


def count_once(scene: str, model: str, threads: int) -> dict:
    """Count one scene in this process; report time, tiles and peak RSS."""
    from coalwatch.infer.counting import CountOptions, count_scene

    started = time.perf_counter()
    result = count_scene(scene, model, CountOptions(threads=threads))
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "scene_px": [result.width, result.height],
        "area_km2": result.area_km2,
        "tiles": result.tiles_read,
        "seconds": round(seconds, 2),
        "tiles_per_s": round(result.tiles_read / seconds, 2),
        "km2_per_min": round(result.area_km2 / (seconds / 60), 3) if result.area_km2 else None,
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "detections": len(result.detections),
        "counts": result.counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", required=True, help="ONNX model, or 'null' (finds nothing: the pipeline alone)"
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path("bench/.cache"))
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--_count", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._count:
        print(json.dumps(count_once(args._count[0], args.model, args.threads)))
        return
    from coalwatch.infer.metadata import read_metadata

    args.cache.mkdir(parents=True, exist_ok=True)
    if args.model == "null":
        args.model = str(null_model(args.cache / "null.onnx"))
    meta = read_metadata(args.model)
    gsd = meta.gsd_m or 1.0
    results = []
    for size in args.sizes:
        t0 = time.perf_counter()
        scene = make_scene(args.cache / f"scene_{size}_{gsd:g}m.tif", size, gsd, args.cache)
        made = time.perf_counter() - t0
        cmd = [
            sys.executable,
            __file__,
            "--model",
            args.model,
            "--threads",
            str(args.threads),
            "--_count",
            str(scene),
            "x",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row["scene_build_s"] = round(made, 1)
        row["scene_mib"] = round(scene.stat().st_size / 2**20, 1)
        results.append(row)
        print(json.dumps(row))
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "model": args.model,
                    "gsd_m": gsd,
                    "tile": meta.tile_size,
                    "threads": args.threads,
                    "runs": results,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
