#!/usr/bin/env bash
# The one prepared GPU check, for a session that draws a GPU. It needs no
# install: the device image has torch, h5py, safetensors, pandas, matplotlib (not dlib, so
# the loader's cache travels instead of being prepared there). From the repository root:
#
#   here:   bash benchmarks/make_device_cache.sh          # → .devcache/synthetic.h5 (~40 MB, ignored)
#   device: run(command="bash benchmarks/gpu_bench.sh", carry=[".devcache"], timeout_s=560)
#
# Writes $OUT/throughput.jsonl (one JSON line per configuration: the step against the
# reference at batch 32 float32 and bf16, then the throughput grid at batch 128 bf16, then the loader at 0-12 workers) and
# $OUT/gpu_bench.log. Each configuration has its own time limit, so one slow compile cannot
# take the rest down with it.
set -uo pipefail
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
OUT="${OUT:-gpu-bench-out}"
mkdir -p "$OUT"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
  timeout 60 python3 -m pytest -q -p no:cacheprovider tests/model/test_mol.py -k cuda
  data=()
  [ -f .devcache/synthetic.h5 ] && data=(--data .devcache/synthetic.h5)
  timeout 450 python3 benchmarks/throughput.py --grid gpu "${data[@]}" --data-batch 32 --timeout 150 --out "$OUT/throughput.jsonl"
} 2>&1 | tee "$OUT/gpu_bench.log"
