"""Benchmark of the CPU default: train ``configs/cpu.yaml`` and score it on held-out layouts.

The run trains as ``coalwatch train --config cpu`` does (it renders its own synthetic set),
timed from start to finish, data synthesis included. The best checkpoint is then scored on a
separate test set: six scenes per scenario rendered with seeds that neither training nor
validation used (held-out layouts), cut into chips the same way; objects hidden under cloud
are not scored (see ``coalwatch.train.metrics``). Machine load (1-minute load average,
sampled every 10 s) is recorded, since this machine may be shared.

    .venv/bin/python bench/train_cpu.py [--config cpu] [--out bench_out/train_cpu] [KEY=VALUE ...]

``--views 4`` or ``8`` scores the test chips as ``coalwatch count --views`` would count them
(each chip also turned and mirrored, the boxes fused); ``--skip-train`` re-scores a run.

Prints a JSON summary and writes it to OUT/benchmark.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import table

TEST_SEED_OFFSET = 500_000
TEST_SCENES = 6  # held-out layouts per scenario (150 chips for the CPU default)


class LoadSampler(threading.Thread):
    """Samples the 1-minute load average every ``period`` seconds."""

    def __init__(self, period: float = 10.0) -> None:
        super().__init__(daemon=True)
        self.period = period
        self.samples: list[float] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.samples.append(os.getloadavg()[0])
            self._halt.wait(self.period)

    def stop(self) -> dict[str, float]:
        self._halt.set()
        self.join()
        s = self.samples or [os.getloadavg()[0]]
        return {"mean": round(statistics.mean(s), 2), "max": round(max(s), 2)}


def make_test_chips(run_config, out: Path) -> Path:
    """Held-out scenes (unused seeds) chipped like the training set."""
    from dataclasses import replace

    from coalwatch.train.synthetic import synthesise_chips

    synthetic = run_config.data.synthetic
    test_cfg = replace(
        synthetic,
        seed=synthetic.seed + TEST_SEED_OFFSET,
        train_scenes=1,  # chips needs a train split; these chips are scored too
        val_scenes=TEST_SCENES - 1,
        empty_share=synthetic.empty_share,
    )
    synthesise_chips(test_cfg, run_config.data.taxonomy, out, progress=False)
    return out


def chip_scenes(splits: dict[str, Any]) -> dict[str, str]:
    """Each chip's scene (chip file name -> scene name) over every split of a chip folder."""
    return {
        Path(image["file_name"]).name: image["scene"]
        for split in splits.values()
        for image in json.loads(split.path.read_text())["images"]
    }


def scenario_of(chip: Path, scenes: dict[str, str]) -> str:
    """The scenario a test chip was cut from (scenes are named SPLIT-SCENARIO-NNN)."""
    scene = scenes[chip.name]
    return scene.split("-", 1)[1].rsplit("-", 1)[0]


def predict(model: Any, images: list[Any], views: int) -> list[dict[str, Any]]:
    """The model's detections on each chip; with ``views`` 4 or 8, those of its turned and
    mirrored copies fused as ``coalwatch count --views`` fuses them."""
    if views == 1:
        return model(images)
    import torch

    from coalwatch.infer.detections import Detections
    from coalwatch.infer.views import detect_views

    def detect(image: Any) -> Detections:
        (out,) = model([torch.from_numpy(image)])
        return Detections(out["boxes"].numpy(), out["scores"].numpy(), out["labels"].numpy())

    preds = []
    for image in images:
        fused = detect_views(detect, image.numpy(), views)
        preds.append(
            {
                "boxes": torch.from_numpy(fused.boxes).float(),
                "scores": torch.from_numpy(fused.scores),
                "labels": torch.from_numpy(fused.class_ids),
            }
        )
    return preds


def score(checkpoint: Path, chips: Path, threads: int, views: int = 1) -> dict[str, Any]:
    """mAP, mAP50, per-class AP and the operating point of ``checkpoint`` on every chip, and
    the same per scenario (``by_scenario``); ``views``: as :func:`predict`."""
    import torch

    from coalwatch.model.checkpoint import load_detector
    from coalwatch.train.datamodule import ChipDataModule, check_chip_folder
    from coalwatch.train.metrics import DetectionMetrics

    torch.set_num_threads(threads)
    model, config, taxonomy = load_detector(checkpoint)
    splits = check_chip_folder(chips, taxonomy)
    scenes = chip_scenes(splits)
    data = ChipDataModule(splits, config["detector"]["tile_size"], None, batch_size=1)
    threshold = config["inference"]["score_threshold"]
    overall = DetectionMetrics(taxonomy.classes, threshold)
    groups = DetectionMetrics(taxonomy.group_names, threshold)
    to_group = torch.tensor(
        [0] + [taxonomy.group_names.index(taxonomy.group_of(c)) + 1 for c in taxonomy.classes]
    )
    by_scenario: dict[str, DetectionMetrics] = {}
    with torch.no_grad():
        for split in ("train", "val"):
            records = splits[split].records
            for record, (images, targets) in zip(records, data.dataset_loader(split), strict=True):
                preds = predict(model, images, views)
                scenario = scenario_of(record.path, scenes)
                if scenario not in by_scenario:
                    by_scenario[scenario] = DetectionMetrics(taxonomy.classes, threshold)
                for metrics in (overall, by_scenario[scenario]):
                    metrics.update(preds, targets)
                groups.update(*(_relabel(x, to_group) for x in (preds, targets)))
    values: dict[str, Any] = dict(overall.compute())
    # Taxonomy groups (rail car, vessel, coal heap): the two rail classes, or the two vessel
    # classes, count as one, as 1 m imagery can tell them (reported beside, not instead).
    values["groups"] = {k: round(v, 4) for k, v in groups.compute().items() if "AP" in k}
    values["test_chips"] = sum(len(s.records) for s in splits.values())
    values["by_scenario"] = {
        name: {k: round(v, 4) for k, v in m.compute().items() if k.startswith(("mAP", "AP50/"))}
        for name, m in sorted(by_scenario.items())
    }
    return values


def _relabel(items: list[dict], to_group: Any) -> list[dict]:
    """Predictions or targets with leaf class ids replaced by group ids."""
    return [{**item, "labels": to_group[item["labels"]]} for item in items]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="cpu")
    parser.add_argument("--out", default="bench_out/train_cpu")
    parser.add_argument("--skip-train", action="store_true", help="score an existing run")
    parser.add_argument("--skip-test", action="store_true", help="train only (a speed probe)")
    from coalwatch.infer.views import VIEW_COUNTS

    parser.add_argument(
        "--views", type=int, choices=VIEW_COUNTS, default=1, help="score on fused turned views"
    )
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args(argv)

    from coalwatch.resources import resolve_config
    from coalwatch.train.config import load_run_config
    from coalwatch.train.ranks import launched_worker
    from coalwatch.train.run import train

    out = Path(args.out)
    run_dir = out / "run"
    config_path = resolve_config(args.config, "")
    run_config, resolved = load_run_config(config_path, args.overrides)
    load = LoadSampler()
    load.start()
    start = time.perf_counter()
    if not args.skip_train:
        train(run_config, resolved, run_dir, overwrite=True)
        if launched_worker():  # a DDP process beside this one: the main process scores
            return 0
    train_minutes = (time.perf_counter() - start) / 60
    if args.skip_test:
        return 0
    test_dir = out / "test_chips"
    if not (test_dir / "train.json").is_file():
        shutil.rmtree(test_dir, ignore_errors=True)
        make_test_chips(run_config, test_dir)
    threads = run_config.trainer.num_threads or 2
    result = score(run_dir / "best.ckpt", test_dir, threads, args.views)
    run_metrics = json.loads((run_dir / "metrics.json").read_text())
    summary = {
        "config": str(config_path),
        "overrides": args.overrides,
        "test_views": args.views,
        "backbone": run_config.model.backbone,
        "train_minutes_wall": None if args.skip_train else round(train_minutes, 2),
        "train_seconds_in_batches": run_metrics.get("train_seconds"),
        "train_images_per_second": run_metrics.get("train_images_per_second"),
        "epochs": run_metrics.get("epochs"),
        "global_step": run_metrics.get("global_step"),
        "val_best": {k: run_metrics["best"].get(k) for k in ("epoch", "mAP50", "mAP", "f1")},
        "test": {k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()},
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": threads,
            "load_average_1min": load.stop(),
            "python": platform.python_version(),
        },
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmark.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    print()
    print(ap50_table(summary["test"]))
    groups = summary["test"]["groups"]
    print(table([groups], list(groups), "Test AP per taxonomy group (all test chips)"))
    return 0


def ap50_table(test: dict[str, Any]) -> str:
    """AP50 per class on the whole test set and on each scenario's chips (- where absent)."""
    classes = [k.removeprefix("AP50/") for k in test if k.startswith("AP50/")]
    rows = []
    for name, values in [("all test chips", test), *test["by_scenario"].items()]:
        row: dict[str, Any] = {"chips": name, "mAP50": values["mAP50"]}
        for cls in classes:
            ap = values[f"AP50/{cls}"]
            row[cls] = ap if ap >= 0 else None
        rows.append(row)
    return table(rows, ["chips", "mAP50", *classes], "Test AP50 per class (IoU 0.5)")


if __name__ == "__main__":
    sys.exit(main())
