"""The one ``coalwatch`` command: a verb per step of the data flow.

Each verb lives in its own module with ``add_arguments(parser)`` and ``run(args) -> int``;
the modules import their heavy dependencies (torch, onnxruntime) inside ``run`` only, so
that ``coalwatch count --help`` and ``coalwatch count`` never load torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from coalwatch import __version__
from coalwatch.errors import CoalwatchError

# verb -> (module, one-line help)
VERBS: dict[str, tuple[str, str]] = {
    "synth": ("coalwatch.labels.synth.command", "render synthetic scenes with exact labels"),
    "chips": ("coalwatch.labels.chips_command", "cut labelled scenes into COCO chips"),
    "train": ("coalwatch.train.command", "train a detector from a YAML config"),
    "export": ("coalwatch.model.export_command", "export a trained model to ONNX"),
    "count": ("coalwatch.infer.count_command", "count objects in GeoTIFF scenes (no torch)"),
    "evaluate": ("coalwatch.infer.evaluate_command", "score a model against labels (no torch)"),
    "demo": ("coalwatch.demo", "the whole pipeline on synthetic scenes"),
}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every verb's sub-parser."""
    parser = argparse.ArgumentParser(prog="coalwatch", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"coalwatch {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb, (module_name, help_text) in VERBS.items():
        module = importlib.import_module(module_name)
        verb_parser = sub.add_parser(verb, help=help_text, description=module.__doc__)
        module.add_arguments(verb_parser)
        verb_parser.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``coalwatch`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s: %(message)s",
    )
    if not args.verbose:  # GDAL's own error chatter; coalwatch reports the failure in one line
        logging.getLogger("rasterio").setLevel(logging.WARNING)
    try:
        return int(args._module.run(args) or 0)
    except CoalwatchError as exc:
        print(f"coalwatch {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"coalwatch {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
