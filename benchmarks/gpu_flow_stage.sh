#!/usr/bin/env bash
# A flow stage of pre-training on a lent GPU: the flow head alone trains on top of version 2 (its
# deepest layers at a seeded start, so that it ships in about 9.5 MB), on procedural faces and the
# pool-only Cranston (no dev person, so both dev folds measure transfer), then the decision on dev:
#   the synthetic-demo preset (joint, heads only), dev part, 3 paired seeds, from version 2 (flow
#   head fresh) and from the stage; the stage ships as version 3 (version 2 + its flow head) only
#   if its mean flow EPE is at least 10 % below zero flow's and below version 2's in every seed.
# On this project's 2-core CPU the head did not learn flow that holds on new clips in up to 1800
# steps of 8 (docs/pretraining.md, "A flow stage"); this is the run that asks whether many more do.
# Usage: benchmarks/gpu_flow_stage.sh SECONDS OUT [DEVICE] [WORKERS] [PYRAMID]
# Needs .devcache/faces/ (framed photographs; the GPU machine has no face detector). The decision
# needs .devcache/dev.h5 (mol synth + mol prepare of the dev part); where it is missing the script
# stops after the stage, and FINETUNE_ONLY=1 with the same OUT runs the rest where it is (CPU: about
# 25 min). SMOKE=1: 2 fine-tuning steps, to try the plumbing on a CPU in minutes (no figures).
set -uo pipefail
budget=${1:?seconds}; out=${2:?out}; device=${3:-cuda}; workers=${4:-12}; pyramid=${5:-1}
export PYTHONPATH=src PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p "$out"
V2=src/mol/weights/mol-pretrained-v2.safetensors
if [ -z "${FINETUNE_ONLY:-}" ]; then
  nvidia-smi --query-gpu=name,memory.total --format=csv > "$out/gpu.txt" 2>&1 || true
  timeout -s ABRT $((budget + 150)) python3 -m mol pretrain --out "$out/stage" --device "$device" --batch 32 \
    --workers "$workers" --time-budget "$budget" --steps 100000 --eval-every 250 --eval-clips 128 \
    --checkpoint-every 1000 --init "$V2" --flow-only --flow-pyramid "$pyramid" --curriculum-steps 500 \
    --identities mixed --people cranston --seed 7 --face-cache .devcache/faces --quiet > "$out/stage.log" 2>&1
  echo "stage exit $?" >> "$out/stage.log"
  rm -f "$out"/stage/resume.pt "$out"/stage/pretrained.safetensors  # keep what comes back small
fi
if [ ! -f .devcache/dev.h5 ]; then
  echo "no .devcache/dev.h5 here: run FINETUNE_ONLY=1 $0 $budget $out cpu where it is"
  tail -n 3 "$out"/stage.log; exit 0
fi
R="--config synthetic-demo --device $device --quiet${SMOKE:+ --set steps=2}"
for arm in "v2:$V2" "stage:$out/stage/shippable.safetensors"; do
  for s in 0 1 2; do
    python3 -m mol train --cache .devcache/dev.h5 --out "$out/dev-${arm%%:*}-s$s" $R --init "${arm#*:}" \
      --seed $s > "$out/dev-${arm%%:*}-s$s.log" 2>&1
  done
done
python3 - "$out" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
def errors(arm):
    return [json.loads((out / f"dev-{arm}-s{s}" / "metrics.json").read_text())["test_ground_truth_errors"] for s in range(3)]
v2, stage = errors("v2"), errors("stage")
epe = sum(e["flow_epe_px"] for e in stage) / 3
zero = sum(e["zero_flow_epe_px"] for e in stage) / 3
every = all(a["flow_epe_px"] < b["flow_epe_px"] for a, b in zip(stage, v2))
decision = {"v2": v2, "stage": stage, "stage_mean_epe_px": epe, "zero_flow_mean_epe_px": zero,
            "below_v2_in_every_seed": every, "ships": epe <= 0.9 * zero and every}
(out / "decision.json").write_text(json.dumps(decision, indent=2))
print(json.dumps({k: v for k, v in decision.items() if k not in ("v2", "stage")}, indent=2))
PY
find "$out" -name model.safetensors -delete  # predictions and cards, not every fold's model
tail -n 3 "$out"/stage.log
