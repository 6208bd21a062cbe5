#!/bin/bash
# A less noisy dev measure? The large benchmark's dev part: Hopper's 75 videos train, Paul's 75 are
# tested (holdout, one fold), heads only, recognition alone, 3 paired seeds per set of weights.
# Validation fixed before it runs: the measure is worth using if it separates A (Hopper's photograph in
# the pool) from B (procedural faces only) with an interval that excludes zero, as version 2 (photographs)
# separated from version 1 on the test part.
cd /work/main
R="--config synthetic-demo --set loss_flow=0 --set loss_landmark=0 --set train_layers=heads --set protocol=holdout --set test_subjects=sub02"
for arm in "v1:src/mol/weights/mol-pretrained-v1.safetensors" "B:.devcache/pre2/B/shippable.safetensors" "A:.devcache/pre2/A/shippable.safetensors" ; do
  name=${arm%%:*}; init=${arm#*:}
  for s in 0 1 2; do
    out=.devcache/large/runs/$name-s$s
    [ -f $out/metrics.json ] && continue
    .venv/bin/mol train --cache .devcache/large/dev.h5 --out $out $R --init $init --seed $s > $out.log 2>&1
  done
done
L=.devcache/large/runs
.venv/bin/python benchmarks/seed_comparison.py --out .devcache/large/cmp_vBA --subject sub02 \
  "v1=$L/v1-s0,$L/v1-s1,$L/v1-s2" "B=$L/B-s0,$L/B-s1,$L/B-s2" "A=$L/A-s0,$L/A-s1,$L/A-s2" > .devcache/large/cmp_vBA.log 2>&1
