#!/usr/bin/env bash
# The CPU default's recipe (configs/cpu.yaml) trained for several times its steps on a lent GPU,
# one run per seed side by side on the one card (the recipe keeps an H100 busy 14% of the
# time: it is bound by Python, not the GPU). The runs outlive a device call (setsid), so a
# schedule longer than one call's 10 minutes takes two calls on the same warm machine:
#
#   bench/device_long.sh start     # unpack .whl/site.tar.xz, render the chips, launch the runs,
#                                  # wait up to WAIT_S seconds, pack what there is
#   bench/device_long.sh collect   # wait for the runs (up to WAIT_S), pack logs and models
#   SMOKE=1 OUT=/tmp/dl bench/device_long.sh start   # the same flow on this CPU, a few steps
#
# Settings (environment): SEEDS ("0 1"), STEPS (the cosine schedule's length, 7500),
# TRAIN_S (each run's time cap in seconds, 560), WAIT_S (500), VARIANTS (config changes to
# compare, each run at every seed: "name:key=value key=value|name2:..."; default one
# variant, "base", with none). Results in $OUT: results.tgz (logs, metrics, nvidia-smi
# samples, training curves) and NAME_seedN_half.ckpt,
# each run's final model in half precision without optimizer state (12 MB: it comes back,
# and bench/train_cpu.py --skip-train scores it here; the site is built by
# bench/device_site.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to a results folder}"
verb=${1:?start or collect}
start=$(date +%s)
seeds=${SEEDS:-0 1}
IFS='|' read -r -a variants <<< "${VARIANTS:-base:}"
runs=()  # one per variant and seed: NAME_seedN
for variant in "${variants[@]}"; do
  for seed in $seeds; do runs+=("${variant%%:*}_seed$seed"); done
done
overrides() {  # the config changes of run NAME_seedN
  local variant
  for variant in "${variants[@]}"; do
    [[ ${1%_seed*} == "${variant%%:*}" ]] && echo "${variant#*:} seed=${1##*_seed}"
  done
}
steps=${STEPS:-7500}
train_s=${TRAIN_S:-560}
wait_s=${WAIT_S:-500}
work=${WORK:-/tmp/device_long}
res=$work/results
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 NO_ALBUMENTATIONS_UPDATE=1
if [[ -n "${SMOKE:-}" ]]; then
  py=$PWD/.venv/bin/python
  device=(trainer.accelerator=cpu trainer.precision=32-true data.num_workers=0 trainer.num_threads=1)
  scenes=(data.synthetic.train_scenes=2 data.synthetic.val_scenes=1)
  steps=${STEPS:-6}
else
  py=python3
  device=(trainer.accelerator=gpu data.num_workers=5 trainer.num_threads=4)
  scenes=()
  export PYTHONPATH=/tmp/site
fi
elapsed() { echo $(( $(date +%s) - start )); }
pack() { tar czf "$OUT/results.tgz.tmp" -C "$res" . && mv "$OUT/results.tgz.tmp" "$OUT/results.tgz"; }
running() {  # runs that have not written their exit status yet
  local run
  for run in "${runs[@]}"; do [[ -f $work/$run.rc ]] || echo "$run"; done
}
wait_runs() {
  while [[ -n $(running) ]] && (( $(elapsed) < wait_s )); do sleep 5; done
  for run in "${runs[@]}"; do
    csv=$work/$run/run/logs/csv/metrics.csv  # flushed every 100 steps
    step=$(awk -F, 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == "step") c = i} END {print $c}' \
      "$csv" 2>/dev/null)
    echo "$run: step $step logged at $(elapsed) s"
    cp "$csv" "$res/${run}_metrics.csv" 2>/dev/null
    cp "$work/$run/run/metrics.json" "$res/${run}_metrics.json" 2>/dev/null
    for png in "$work/$run/run/"*.png; do
      [[ -f $png ]] && cp "$png" "$res/${run}_$(basename "$png")"
    done
  done
  pack
}

if [[ $verb == start ]]; then
  rm -rf "$work" && mkdir -p "$res"
  if [[ -z "${SMOKE:-}" ]]; then
    mkdir -p /tmp/site && tar xJf .whl/site.tar.xz -C /tmp/site || exit 1
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$res/gpu.txt"
  fi
  "$py" -c "import torch, torchvision, lightning; print('torch', torch.__version__, \
torchvision.__version__, 'lightning', lightning.__version__, torch.cuda.is_available())" \
    | tee -a "$res/gpu.txt"
  echo "== chips ($(elapsed) s)"
  "$py" bench/device_tools.py render-chips "$work/chips" "${scenes[@]}" > "$res/chips.log" 2>&1 \
    || { tail -5 "$res/chips.log"; pack; exit 1; }
  cap=$(printf '00:00:%02d:%02d' $(( train_s / 60 )) $(( train_s % 60 )))
  echo "== runs: ${runs[*]}, $steps steps, time cap $cap ($(elapsed) s)"
  for run in "${runs[@]}"; do
    setsid bash -c "'$py' bench/train_cpu.py --skip-test --config cpu --out '$work/$run' \
      ${device[*]} ${scenes[*]} data.chips='$work/chips' trainer.max_steps=$steps \
      trainer.max_time=$cap trainer.check_val_every_n_epoch=1000 trainer.progress=false \
      $(overrides "$run") > '$res/$run.log' 2>&1 < /dev/null; echo \$? > '$work/$run.rc'" &
  done
  if command -v nvidia-smi > /dev/null; then
    setsid bash -c "nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used \
      --format=csv,noheader,nounits -lms 1000 > '$res/smi.csv' 2>&1 < /dev/null" &
  fi
  wait_runs
  echo "== start returns with runs still running: $(running | tr '\n' ' ')($(elapsed) s)"
elif [[ $verb == collect ]]; then
  wait_runs
  pkill -f "nvidia-smi --query-gpu" 2>/dev/null
  for run in "${runs[@]}"; do
    echo "$run exit status: $(cat "$work/$run.rc" 2>/dev/null || echo 'still running')"
    ckpt=$work/$run/run/best.ckpt
    [[ -f $ckpt ]] || continue
    "$py" bench/device_tools.py half "$ckpt" "$OUT/${run}_half.ckpt"
  done
  pack
  echo "== collected ($(elapsed) s)"
fi
