#!/usr/bin/env bash
# The call that made the shipped weights v1 (src/mol/weights/MODEL_CARD.md): one pre-training run
# with frame-difference input for 120 s of training on a lent GPU, 14 clip-generating processes.
# Needs the framed dev photographs in .devcache/faces (see gpu_pretrain.sh).
export PYTHONPATH=src PYTHONUNBUFFERED=1 PYTHONFAULTHANDLER=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
timeout -s ABRT 175 python3 -m mol pretrain --out /tmp/pt --device cuda --batch 32 --workers 14 --time-budget 120 --steps 100000 --eval-every 250 --eval-clips 64 --checkpoint-every 1000 --motion-input diff --face-cache .devcache/faces > $OUT/diff.log 2>&1
echo "exit $?" >> $OUT/diff.log
mkdir -p $OUT/diff; cp /tmp/pt/{shippable.safetensors,card.json,eval.csv,log.csv,curves.png} $OUT/diff/ 2>/dev/null
tr '\r' '\n' < $OUT/diff.log | grep -v '^$' | tail -n 40
