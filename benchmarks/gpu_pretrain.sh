#!/usr/bin/env bash
# Pre-training on a lent GPU, two input options side by side for the same wall time:
#   diff (recognition reads frame differences) and raw (the paper's input), both on procedural
#   identities, measured on the dev people (hopper, paul) and held-out procedural faces.
# Usage: benchmarks/gpu_pretrain.sh SECONDS OUT [DEVICE] [WORKERS_EACH]
# Needs the framed dev photographs in .devcache/faces (made by any `mol pretrain --face-cache`
# run on a machine with dlib), since the GPU machine has no face detector.
set -uo pipefail
budget=${1:?seconds}; out=${2:?out}; device=${3:-cuda}; workers=${4:-7}
# One thread per process: 2 x WORKERS generating processes share the CPUs. (The first call of
# this script, before the loader started its processes fresh instead of by fork, hung and ran
# past its limit; the quick variant beside it, after the fix, ran.)
export PYTHONPATH=src PYTHONUNBUFFERED=1 PYTHONFAULTHANDLER=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total --format=csv > "$out/gpu.txt" 2>&1 || true
run() {  # name motion_input
  timeout -s ABRT $((budget + 150)) python3 -m mol pretrain --out "/tmp/pt-$1" --device "$device" --batch 32 --workers "$workers" \
    --time-budget "$budget" --steps 100000 --eval-every 250 --eval-clips 128 --checkpoint-every 1000 \
    --motion-input "$2" --face-cache .devcache/faces --quiet > "$out/$1.log" 2>&1
  echo "$1 exit $?" >> "$out/$1.log"
  mkdir -p "$out/$1"
  cp /tmp/pt-$1/{shippable.safetensors,card.json,eval.csv,log.csv,curves.png} "$out/$1/" 2>/dev/null
}
run diff diff &
run raw raw &
wait
tail -n 12 "$out"/*.log
