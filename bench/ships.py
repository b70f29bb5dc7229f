"""Real ships: AP50 and count error of a ship model on held-out sen2ships ports.

With ``--train`` it first cuts the chips (validation ports held out by scene) and trains
``configs/ships.yaml``, then exports; otherwise it scores an existing ``--model``. The
validation ports are scored together and one by one (``coalwatch.infer.evaluate``).

    python bench/ships.py --train --work bench_out/ships
    python bench/ships.py --model bench_out/ships/ships.onnx
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, table, write_json

DATA = Path("/work/shared/data/sen2ships-dev")
VAL_PORTS = ("genoa_rgb8", "casablanca_rgb8")


def make_chips(data: Path, out: Path, val_ports: tuple[str, ...]) -> Path:
    """Chips of every port, the validation ports' scenes in val only."""
    from coalwatch.labels.chips import ChipOptions
    from coalwatch.labels.chips import make_chips as cut
    from coalwatch.labels.importers import import_coco
    from coalwatch.labels.taxonomy import load_taxonomy

    scenes = import_coco(data / "annotations.coco.json", load_taxonomy("ship"))
    options = ChipOptions(
        size=256,
        overlap=64,
        empty_share=0.3,
        val_share=0.0,
        val_scenes=val_ports,
        taxonomy="ship",
        seed=0,
        progress=False,
    )
    cut(scenes, out, options)
    return out


def train_and_export(chips: Path, work: Path, overrides: list[str]) -> tuple[Path, dict]:
    """Train configs/ships.yaml on ``chips``; export the best checkpoint to ONNX."""
    from coalwatch.model.export import export_checkpoint
    from coalwatch.resources import resolve_config
    from coalwatch.train.config import load_run_config
    from coalwatch.train.run import train

    run_config, resolved = load_run_config(
        resolve_config("ships", ""), [f"data.chips={chips}", *overrides]
    )
    started = time.perf_counter()
    result = train(run_config, resolved, work / "run", overwrite=True)
    minutes = (time.perf_counter() - started) / 60
    model = export_checkpoint(result.run_dir, work / "ships.onnx").path
    return model, {"train_minutes": round(minutes, 1), "metrics": result.metrics.get("best")}


def evaluate_ports(model: Path, data: Path, ports: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row for all validation ports together, then one per port."""
    from coalwatch.infer.evaluate import evaluate

    coco = data / "annotations.coco.json"
    rows = []
    for label, names in [("all validation ports", ports), *[(p, (p,)) for p in ports]]:
        scenes = [data / "images" / f"{n}.tif" for n in names]
        report = evaluate(scenes, coco, model).to_dict()
        ship = report["classes"]["ship"]
        errors = [s["error"]["ship"] for s in report["scenes"]]
        rows.append(
            {
                "ports": label,
                "ships": ship["labels"],
                "AP50": ship["AP50"],
                "AP": ship["AP"],
                "precision": ship["precision"],
                "recall": ship["recall"],
                "counted": ship["count_predicted"],
                "count error": sum(errors),
                "count rel. error": ship["count_relative_error"],
            }
        )
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="an exported ship model (else --train)")
    parser.add_argument("--train", action="store_true", help="chip, train and export first")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--work", type=Path, default=Path("bench_out/ships"))
    parser.add_argument("--json", type=Path, default=Path("bench_out/ships.json"))
    parser.add_argument("overrides", nargs="*", help="training overrides, KEY=VALUE")
    args = parser.parse_args(argv)
    record: dict[str, Any] = {"machine": machine(), "val_ports": list(VAL_PORTS)}
    model = args.model
    if args.train:
        chips = make_chips(args.data, args.work / "chips", VAL_PORTS)
        model, record["training"] = train_and_export(chips, args.work, args.overrides)
    if model is None:
        parser.error("give --model or --train")
    rows = evaluate_ports(model, args.data, VAL_PORTS)
    print(table(rows, list(rows[0]), f"Ships on held-out sen2ships ports ({model})"))
    record.update({"model": str(model), "rows": rows})
    write_json(args.json, record)
    print(f"\nwrote {args.json}")
    return record


if __name__ == "__main__":
    main()
