#!/usr/bin/env bash
# A small prepared cache for the loader benchmark on the device machine (which lacks dlib):
# one synthetic subject, ten videos (~50 clips), exact flow. Written to .devcache/ (git-ignored).
set -euo pipefail
rm -rf .devcache && mkdir -p .devcache
mol synth .devcache/raw --subjects 1 --clips-per-class 2 --quiet
mol prepare --dataset casme2 --root .devcache/raw --out .devcache/synthetic.h5 --flow exact --align onset --quiet
rm -rf .devcache/raw
ls -la .devcache
