"""Cut labelled GeoTIFF scenes into chips: PNG images, COCO train/val JSON and a manifest.

Scenes are GeoTIFFs with their labels in X.geojson beside X.tif (files or folders), or
an existing COCO + GeoTIFF set given with --coco (its categories mapped to the taxonomy
with --class-map). Train and val are split by scene.

examples:
  coalwatch chips scenes/ --out chips --taxonomy default
  coalwatch chips --coco sen2ships-dev/annotations.coco.json --class-map ship=ship \\
      --taxonomy ship --out chips-ships
"""

from __future__ import annotations

import argparse

from coalwatch.labels.radiometry import Scaling, parse_bands


def _type(parse):
    def convert(text: str):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    convert.__name__ = parse.__name__
    return convert


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise ValueError(f"must be in [0, 1), got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The verb's options."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("scenes", nargs="*", metavar="SCENE_OR_DIR", help="GeoTIFFs or folders")
    parser.add_argument("--out", required=True, help="output folder (replaced when complete)")
    parser.add_argument(
        "--labels", metavar="DIR", help="folder of the scenes' X.geojson (default: beside X.tif)"
    )
    src = parser.add_argument_group("importing a COCO + GeoTIFF set")
    src.add_argument("--coco", help="COCO JSON whose images are GeoTIFF scenes")
    src.add_argument(
        "--images", help="folder of the COCO images (default: beside the JSON, or its images/)"
    )
    src.add_argument(
        "--class-map",
        action="append",
        default=[],
        metavar="SRC=CLASS",
        help="map a COCO category to a taxonomy class (repeat or comma-separate; SRC= drops)",
    )
    cut = parser.add_argument_group("cutting")
    cut.add_argument("--size", type=int, default=512, help="chip size in pixels (512)")
    cut.add_argument(
        "--overlap", type=int, help="pixels shared by neighbours (default: a quarter of --size)"
    )
    cut.add_argument(
        "--min-visible",
        type=float,
        default=0.6,
        help="keep a clipped box when this share of it shows (0.6)",
    )
    cut.add_argument(
        "--empty-share", type=_type(_share), default=0.1, help="share of empty chips (0.1)"
    )
    cut.add_argument(
        "--max-nodata", type=float, default=0.5, help="skip chips with a larger nodata share (0.5)"
    )
    split = cut.add_mutually_exclusive_group()
    split.add_argument(
        "--val-share", type=_type(_share), default=0.25, help="share of scenes for val (0.25)"
    )
    split.add_argument("--val-scenes", help="comma-separated scene names (file stems) for val")
    cut.add_argument("--seed", type=int, default=0, help="seed for the split and empty chips")
    rad = parser.add_argument_group("classes and radiometry")
    rad.add_argument("--taxonomy", default="default", help="taxonomy name or YAML (default)")
    rad.add_argument(
        "--bands", type=_type(parse_bands), default=(1, 2, 3), help="R,G,B band numbers (1,2,3)"
    )
    rad.add_argument(
        "--scaling",
        type=_type(lambda t: None if t == "auto" else Scaling.parse(t)),
        default=None,
        help="auto (gain 1 for 8-bit scenes, else percentile), gain[=G], percentile[=LO,HI]",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Import (optionally), cut and print the summary line."""
    from coalwatch.errors import CoalwatchError
    from coalwatch.labels.chips import ChipOptions, make_chips
    from coalwatch.labels.importers import import_coco, parse_class_map
    from coalwatch.labels.taxonomy import load_taxonomy

    if not args.scenes and not args.coco:
        raise CoalwatchError("give scenes (GeoTIFFs or folders) or --coco FILE")
    if (args.class_map or args.images) and not args.coco:
        raise CoalwatchError("--class-map and --images go with --coco")
    taxonomy = load_taxonomy(args.taxonomy)
    try:
        options = ChipOptions(
            size=args.size,
            overlap=args.overlap,
            min_visible=args.min_visible,
            empty_share=args.empty_share,
            val_share=args.val_share if not args.val_scenes else 0.0,
            val_scenes=tuple(filter(None, (args.val_scenes or "").split(","))),
            taxonomy=taxonomy,
            bands=args.bands,
            scaling=args.scaling,
            max_nodata=args.max_nodata,
            seed=args.seed,
            labels_dir=args.labels,
            progress=not args.no_progress,
        )
        class_map = parse_class_map(args.class_map)
    except ValueError as exc:
        raise CoalwatchError(str(exc)) from exc
    scenes = list(args.scenes)
    if args.coco:
        scenes += import_coco(args.coco, taxonomy, class_map, args.images)
    summary = make_chips(scenes, args.out, options)
    print(summary.line())
    return 0
