#!/usr/bin/env bash
# One prepared GPU check (issues #2 and #7): the CUDA test, then training-step and eval
# timings with peak GPU memory at the batches the issues name. One JSON line per
# configuration on stdout; run it as a single device call, e.g.
#   bash benchmarks/gpu_bench.sh | tee "$OUT/gpu_bench.jsonl"
set -euo pipefail
python -m pytest -q tests/model/test_mol.py -k cuda
for config in "32 float32" "32 bfloat16" "128 bfloat16"; do
  set -- $config
  mol bench --device cuda --batch "$1" --dtype "$2" --repeats 10 --warmup 3 --json | python -c \
    'import json,sys; r=json.load(sys.stdin); print(json.dumps({"batch": r["batch"], "dtype": r["dtype"], "device": r["device_name"], "train_ms": round(r["train_step"]["ms_median"],1), "train_clips_s": round(r["train_step"]["clips_per_s"],1), "train_peak_mib": round(r["train_step"]["peak_memory_mib"]), "eval_ms": round(r["eval_forward"]["ms_median"],1), "eval_peak_mib": round(r["eval_forward"]["peak_memory_mib"]), "torch": r["versions"]["torch"]}))'
done
