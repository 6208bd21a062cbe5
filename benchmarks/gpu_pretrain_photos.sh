#!/usr/bin/env bash
# The shipped weights' photograph stage, longer, on a lent GPU: two runs side by side for the same
# wall time, both continuing version 1 as version 2 did (recognition + landmarks, 0.5-2.5 px,
# half the clips a photograph), then the heads-only fine-tuning that decides, 3 seeds each, test only after dev:
#   dev arm   (pool: Hopper; Paul never in it)  -> dev part, Paul's fold (sub02), against A
#   candidate (pool: Hopper and Paul)           -> test part, against version 2
# The rule (docs/pretraining.md): the candidate ships only if the dev arm beats A on Paul's fold and the
# candidate's paired interval against version 2 on the test part excludes zero.
# Usage: benchmarks/gpu_pretrain_photos.sh SECONDS OUT [DEVICE] [WORKERS_EACH]
# Needs .devcache/faces/ (framed photographs; the GPU machine has no face detector). The
# fine-tuning needs .devcache/dev.h5 and test.h5 (mol synth + mol prepare of the two parts, about
# 320 MB: more than the device tool carries) and the CPU reference runs trials/Af1-s{0,1,2} (weights A
# fine-tuned on dev, docs/pretraining.md) and runs/test-v2-fresh-s{0,1,2} (the README's "Where it
# stands" commands), both with a fresh class layer, so this script fine-tunes with one too; where
# they are missing the script stops after the two stages, and FINETUNE_ONLY=1 with the same OUT
# runs the rest where they are (on the CPU: about 15 min).
set -uo pipefail
budget=${1:?seconds}; out=${2:?out}; device=${3:-cuda}; workers=${4:-6}
export PYTHONPATH=src PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p "$out"
[ -n "${FINETUNE_ONLY:-}" ] || nvidia-smi --query-gpu=name,memory.total --format=csv > "$out/gpu.txt" 2>&1 || true
V1=src/mol/weights/mol-pretrained-v1.safetensors
stage() {  # name people eval_people
  timeout -s ABRT $((budget + 150)) python3 -m mol pretrain --out "$out/$1" --device "$device" --batch 32 \
    --workers "$workers" --time-budget "$budget" --steps 100000 --eval-every 250 --eval-clips 128 \
    --checkpoint-every 1000 --motion-input diff --loss-flow 0 --curriculum-steps 0 --identities mixed \
    --people "$2" --eval-people "$3" --seed 5 --init "$V1" --face-cache .devcache/faces --quiet > "$out/$1.log" 2>&1
  echo "$1 exit $?" >> "$out/$1.log"
}
if [ -z "${FINETUNE_ONLY:-}" ]; then
  stage dev-arm hopper paul &
  stage candidate hopper,paul '' &
  wait
  rm -f "$out"/*/resume.pt "$out"/*/pretrained.safetensors  # keep what comes back small
fi
if [ ! -f .devcache/dev.h5 ] || [ ! -f .devcache/test.h5 ]; then
  echo "no .devcache/dev.h5 or test.h5 here: run FINETUNE_ONLY=1 $0 $budget $out cpu where they are"
  tail -n 3 "$out"/*.log; exit 0
fi
# SMOKE=1: 2 fine-tuning steps, to try the script's plumbing on a CPU in minutes (no figures)
R="--config synthetic-demo --set loss_flow=0 --set loss_landmark=0 --set train_layers=heads --set class_init=fresh"
R="$R --device $device --quiet"
R="$R${SMOKE:+ --set steps=2}"
for s in 0 1 2; do
  python3 -m mol train --cache .devcache/dev.h5 --out "$out/dev-s$s" $R --init "$out/dev-arm/shippable.safetensors" --seed $s > "$out/dev-s$s.log" 2>&1
done
python3 benchmarks/seed_comparison.py --out "$out/dev_paul_fold" --subject sub02 \
  "A=.devcache/trials/Af1-s0,.devcache/trials/Af1-s1,.devcache/trials/Af1-s2" \
  "dev-arm=$out/dev-s0,$out/dev-s1,$out/dev-s2" > "$out/dev_cmp.log" 2>&1
# the test part is looked at only if the dev arm beat A (mean paired video UF1 difference above 0)
if python3 -c "import json, sys; r = json.load(open(sys.argv[1]))['recipes'][1]; sys.exit(r['delta_uf1'] <= 0)" \
  "$out/dev_paul_fold/seeds.json"; then
  for s in 0 1 2; do
    python3 -m mol train --cache .devcache/test.h5 --out "$out/test-s$s" $R --init "$out/candidate/shippable.safetensors" --seed $s > "$out/test-s$s.log" 2>&1
  done
  python3 benchmarks/seed_comparison.py --out "$out/test" \
    "v2=.devcache/runs/test-v2-fresh-s0,.devcache/runs/test-v2-fresh-s1,.devcache/runs/test-v2-fresh-s2" \
    "candidate=$out/test-s0,$out/test-s1,$out/test-s2" > "$out/test_cmp.log" 2>&1
else
  echo "the dev arm did not beat A on Paul's fold: the candidate is not tried on the test part"
fi
find "$out" -name model.safetensors -delete  # predictions and cards, not every fold's model
cat "$out/dev_paul_fold/seeds.md" "$out/test/seeds.md" 2>/dev/null; tail -n 3 "$out"/*.log
