#!/usr/bin/env bash
# Fresh-machine demo of the main job: set up ./.venv, draw a synthetic portrait and driving video,
# and animate it headless. Without --weights it uses tiny RANDOM weights (the output is noise, but
# every stage of the real pipeline runs). Usage: bash scripts/animate_demo.sh [--weights ROOT] [...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m personalive_core make-demo-inputs demo --frames 12
if [[ " $* " == *" --weights "* ]]; then
  exec .venv/bin/python -m personalive_core animate --reference demo/portrait.png --driving demo/driving.mp4 \
    --output demo/animated.mp4 "$@"
fi
exec .venv/bin/python -m personalive_core animate --reference demo/portrait.png --driving demo/driving.mp4 \
  --output demo/animated.mp4 --tiny-random-weights --size 128 "$@"
