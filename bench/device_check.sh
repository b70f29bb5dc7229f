#!/usr/bin/env bash
# One lent-GPU session's checks, in one call that must end inside a fixed device budget:
#   A. gpu.yaml briefly (ResNet-50 FPN v2, 1024 px tiles, 16-mixed): images/s and GPU
#      utilisation (bench/gpu_train.py), channels-last off, then on over the same chips;
#   B. the CPU default's recipe (cpu.yaml) on the GPU at several times its steps, scored on the
#      held-out test chips like the CPU benchmark (bench/train_cpu.py), with nvidia-smi sampled.
# Results land in $OUT (tables, JSON, logs and the B model's weights in half precision, small
# enough to come back and be exported on a CPU machine).
#
#   bench/device_check.sh                  # on the GPU machine; wheels in .whl (see below)
#   SMOKE=1 OUT=/tmp/dc bench/device_check.sh   # a few CPU steps here, to check the script
#   STAGES=B ...                           # one part only
#   FIXED_STEPS=1250 ...                   # B at these steps, without the speed probe
#
# The GPU machine has torch, lightning, timm, onnx and opencv but none of coalwatch's other
# dependencies: they travel as cp312 wheels in .whl (git-ignored), coalwatch's own wheel too,
# or unpacked in .whl/site.tar.xz (bench/device_site.sh; the wheels now pass 64 MiB).
set -uo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
budget=${BUDGET_S:-560}          # seconds this script may take in all
cpu_steps=${CPU_RECIPE_STEPS:-8800}  # at most
gpu_steps=${GPU_STEPS:-100}
: "${OUT:?set OUT to a results folder}"
work=${WORK:-/tmp/device_check}
res=$work/results  # logs and JSON, packed into $OUT/results.tgz after each stage (the device
rm -rf "$work" && mkdir -p "$res" "$OUT"  # tool brings back at most 8 files)
pack() { tar czf "$OUT/results.tgz.tmp" -C "$res" . && mv "$OUT/results.tgz.tmp" "$OUT/results.tgz"; }
export PYTHONUNBUFFERED=1 NO_ALBUMENTATIONS_UPDATE=1

if [[ -n "${SMOKE:-}" ]]; then
  py=.venv/bin/python
  accel=(trainer.accelerator=cpu trainer.precision=32-true)
  gpu_steps=4 cpu_steps=6
  scenes=(data.synthetic.train_scenes=1 data.synthetic.val_scenes=1 data.batch_size=1)
  recipe=(data.synthetic.train_scenes=2 data.synthetic.val_scenes=1)
else
  py=python3
  if [[ -f .whl/site.tar.xz ]]; then  # bench/device_site.sh: the wheels, unpacked and packed
    mkdir -p /tmp/site && tar xJf .whl/site.tar.xz -C /tmp/site || exit 1
  else
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl || exit 1
  fi
  export PYTHONPATH=/tmp/site
  accel=(trainer.accelerator=gpu)
  scenes=(data.synthetic.train_scenes=8 data.synthetic.val_scenes=1)
  recipe=()
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$res/gpu.txt"
  $py -c "import torch, torchvision; print('torch', torch.__version__, torchvision.__version__, torch.cuda.get_device_name(0))" | tee -a "$res/gpu.txt"
fi
# B's chips (the same set coalwatch train --config cpu renders), in the background during A.
$py bench/device_tools.py render-chips "$work/cpu_chips" "${recipe[@]}" > "$res/cpu_chips.log" 2>&1 &
render=$!
elapsed() { echo $(( $(date +%s) - start )); }
hms() { printf '00:00:%02d:%02d' $(( $1 / 60 )) $(( $1 % 60 )); }

stages=${STAGES:-AB}
if [[ $stages == *A* ]]; then
echo "== A. gpu.yaml, channels-last off ($(elapsed) s)"
$py bench/gpu_train.py --config gpu --out "$work/gpu_nchw" "${accel[@]}" "${scenes[@]}" \
  trainer.max_steps="$gpu_steps" trainer.max_time="$(hms 120)" trainer.check_val_every_n_epoch=1000 \
  trainer.progress=false 2>&1 | tee "$res/gpu_nchw.log" | grep -v "^\s*$" | tail -25
cp "$work/gpu_nchw/gpu_benchmark.json" "$res/gpu_nchw.json" 2>/dev/null; pack
echo "== A. gpu.yaml, channels-last on, same chips ($(elapsed) s)"
$py bench/gpu_train.py --config gpu --out "$work/gpu_nhwc" "${accel[@]}" \
  data.chips="$work/gpu_nchw/data" trainer.channels_last=true \
  trainer.max_steps="$gpu_steps" trainer.max_time="$(hms 90)" trainer.check_val_every_n_epoch=1000 \
  trainer.progress=false 2>&1 | tee "$res/gpu_nhwc.log" | grep -v "^\s*$" | tail -25
cp "$work/gpu_nhwc/gpu_benchmark.json" "$res/gpu_nhwc.json" 2>/dev/null; pack
fi

# B: its chips render in the background while A runs; a short probe measures its steps per
# second; the cosine schedule then gets as many steps as fit in what is left, keeping ~130 s
# for test chips and scoring.
wait "$render" || { echo "cpu.yaml chips failed to render"; pack; exit 1; }
if [[ -z "${FIXED_STEPS:-}" ]]; then
echo "== B. probe: cpu.yaml recipe, 150 steps ($(elapsed) s)"
# (60 steps measured 5.0 steps/s on an H100 where the run itself went at 12.9: warm-up)
$py bench/train_cpu.py --skip-test --config cpu --out "$work/cpu_probe" "${accel[@]}" \
  data.chips="$work/cpu_chips" trainer.max_steps=150 trainer.progress=false data.num_workers=6 \
  trainer.num_threads=6 > "$res/cpu_probe.log" 2>&1
rate=$($py -c "import json,sys; m=json.load(open(sys.argv[1])); print(m['train_images_per_second']/4)" \
  "$work/cpu_probe/run/metrics.json") || { tail -5 "$res/cpu_probe.log"; pack; exit 1; }
pack
fi
left=$(( budget - $(elapsed) - ${RESERVE_S:-130} ))  # kept for test chips and scoring
(( left < 60 )) && left=60
if [[ -n "${FIXED_STEPS:-}" ]]; then
  cpu_steps=$FIXED_STEPS rate="not probed"
elif [[ -z "${SMOKE:-}" ]]; then
  cpu_steps=$($py -c "print(max(1250, min(${cpu_steps}, int($rate * $left * 0.85) // 50 * 50)))")
fi
echo "== B. cpu.yaml recipe on the GPU: $rate steps/s in the probe, $cpu_steps steps, max_time ${left}s ($(elapsed) s)"
if [[ -z "${SMOKE:-}" ]]; then
  nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader,nounits \
    -lms 1000 > "$res/cpu_recipe_smi.csv" &
  smi=$!
fi
$py bench/train_cpu.py --config cpu --out "$work/cpu_recipe" "${accel[@]}" data.chips="$work/cpu_chips" \
  trainer.max_steps="$cpu_steps" trainer.max_time="$(hms "$left")" trainer.progress=false \
  data.num_workers=6 trainer.num_threads=6 2>&1 | tee "$res/cpu_recipe.log" | tail -40
[[ -n "${smi:-}" ]] && kill "$smi"
cp "$work/cpu_recipe/benchmark.json" "$res/cpu_recipe.json" 2>/dev/null
cp "$work/cpu_recipe/run/metrics.json" "$res/cpu_recipe_metrics.json" 2>/dev/null
for png in "$work/cpu_recipe/run/"*.png; do cp "$png" "$res/cpu_recipe_$(basename "$png")"; done
pack
# The model, in half precision and without optimizer state, for export and series scoring.
$py bench/device_tools.py half "$work/cpu_recipe/run/best.ckpt" "$OUT/cpu_recipe_half.ckpt"
pack
echo "== done in $(elapsed) s"
