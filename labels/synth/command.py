"""Render synthetic satellite scenes with exact labels (GeoTIFF + GeoJSON per scene).

Examples: ``coalwatch synth --scenario coal_port --out scenes --count 4 --gsd 3``;
``coalwatch synth --scenario port_series --series --out series`` (dated series, with
``aois.geojson`` and ``truth.csv``).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenario",
        required=True,
        help="shipped scenario name (rail_crossing, coal_port, mine, port_series) or a YAML path",
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--count", type=int, default=1, help="number of scenes (default 1)")
    parser.add_argument(
        "--gsd",
        type=float,
        default=None,
        help="ground sample distance in m (0.3-3; default: the scenario's)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes rendering independent scenes (default: one per CPU, at most 8)",
    )
    parser.add_argument(
        "--series", action="store_true", help="render the scenario's dated series script instead"
    )
    parser.add_argument(
        "--preview",
        action="store_true",
        help="also write <scene>_preview.png with the ground truth drawn",
    )


def run(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from coalwatch.labels.synth import load_scenario, render_scenario, render_series
    from coalwatch.labels.synth.render import default_workers

    scenario = load_scenario(args.scenario)
    series = args.series or (scenario.series is not None and args.count == 1)
    total = len(scenario.series or []) if series else args.count
    with Progress(transient=True) as bar:
        task = bar.add_task(f"synth {scenario.name}", total=total)

        def advance(_path) -> None:
            bar.advance(task)

        if series:
            paths = render_series(
                scenario,
                args.out,
                seed=args.seed,
                preview=args.preview,
                gsd=args.gsd,
                progress=advance,
            )
        else:
            paths = render_scenario(
                scenario,
                args.out,
                seed=args.seed,
                count=args.count,
                preview=args.preview,
                gsd=args.gsd,
                progress=advance,
                workers=args.workers or default_workers(),
            )
    print(f"wrote {len(paths)} scene(s) to {args.out}")
    return 0
