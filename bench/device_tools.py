"""Steps the lent-GPU scripts (``bench/device_check.sh``, ``bench/device_long.sh``) share.

    python bench/device_tools.py render-chips OUT [KEY=VALUE ...]   # cpu.yaml's chips
    python bench/device_tools.py half CKPT OUT   # a checkpoint's weights in half precision

``render-chips`` renders the synthetic set that ``coalwatch train --config cpu`` renders
(overrides as in training); ``half`` keeps the hyper-parameters and the weights in half
precision, without optimizer state (12 MB for the CPU default: small enough to come back
from the GPU machine and be scored or exported here).
"""

from __future__ import annotations

import sys
from pathlib import Path


def render_chips(out: Path, overrides: list[str]) -> None:
    from coalwatch.resources import resolve_config
    from coalwatch.train.config import load_run_config
    from coalwatch.train.synthetic import synthesise_chips

    run, _ = load_run_config(resolve_config("cpu", ""), overrides)
    synthesise_chips(run.data.synthetic, run.data.taxonomy, out, False)


def half(checkpoint: Path, out: Path) -> None:
    import torch

    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False)
    state = {k: v.half() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()}
    torch.save({"hyper_parameters": ckpt["hyper_parameters"], "state_dict": state}, out)


if __name__ == "__main__":  # scenes render in spawned processes
    verb, *args = sys.argv[1:]
    if verb == "render-chips":
        render_chips(Path(args[0]), args[1:])
    elif verb == "half":
        half(Path(args[0]), Path(args[1]))
    else:
        raise SystemExit(f"unknown step {verb!r}: render-chips or half")
