"""Start and stop a real ComfyUI server with this pack installed, for the server and browser tests: ComfyUI
0.30.0 (the newest obtainable, what the tests run against) or 0.3.75 (a smoke test of the oldest supported).

The runtime (venv + ComfyUI source) comes from scripts/provision_comfyui.sh (see find_runtime). Each
server gets its own run directory (custom_nodes/ with a symlink to this repository, models/, input/,
output/, temp/, user/); the runtime itself is never written to.

    python -m tests.comfy_pack.server            # start one by hand on a free port and print its address
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACK_NAME = "ComfyUI-PersonaLive"
PROVISION = REPO / "scripts" / "provision_comfyui.sh"


class RuntimeUnavailable(RuntimeError):
    """The ComfyUI runtime cannot be built on this machine (the reason says why)."""


NEWEST = "0.30.0"  # the ComfyUI the server and browser tests run on
OLDEST = "0.3.75"  # the oldest ComfyUI the pack supports (pyproject's requires-comfyui): a smoke test
NEWEST_FRONTEND = "1.58.1"  # the newest frontend package: one browser test serves it (--front-end-root)


def runtime_root(version: str = NEWEST) -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / f"personalive-comfyrt-{version}"
    own = os.environ.get("PERSONALIVE_COMFYRT") if version == NEWEST else None
    return Path(own or default)


@dataclass
class Runtime:
    python: Path  # the interpreter ComfyUI runs with
    comfyui_dir: Path  # holds main.py
    no_frontend: Path | None = None  # placeholder page for a runtime without the frontend package

    def newest_frontend(self) -> Path | None:
        """The newest frontend's static folder, where provision_comfyui.sh installed it."""
        static = self.comfyui_dir.parent / f"frontend-{NEWEST_FRONTEND}" / "comfyui_frontend_package" / "static"
        return static if (static / "index.html").is_file() else None


def find_runtime(lean: bool = False, version: str = NEWEST) -> Runtime:
    """The ComfyUI `version` to test against.

    PERSONALIVE_COMFYUI_DIR (+ PERSONALIVE_COMFYUI_PYTHON) selects an existing ComfyUI checkout in place of
    the newest. Otherwise the runtime of scripts/provision_comfyui.sh is used, built on the spot when CI=true
    or PERSONALIVE_PROVISION_COMFYUI=1 (a 2 GB download; never done behind a user's back).
    """
    own = os.environ.get("PERSONALIVE_COMFYUI_DIR") if version == NEWEST else None
    if own:
        return Runtime(Path(os.environ.get("PERSONALIVE_COMFYUI_PYTHON", sys.executable)), Path(own))
    root = runtime_root(version)
    env = dict(os.environ, PERSONALIVE_COMFYRT=str(root), COMFYRT_LEAN="1" if lean else "0", COMFYRT_COMFYUI=version)
    check = subprocess.run(["bash", str(PROVISION), "--check"], env=env, capture_output=True, text=True)
    if check.returncode != 0:
        if not (os.environ.get("CI") or os.environ.get("PERSONALIVE_PROVISION_COMFYUI") == "1"):
            raise RuntimeUnavailable(
                f"no ComfyUI {version} test runtime at {root}: run `COMFYRT_COMFYUI={version} bash "
                "scripts/provision_comfyui.sh` (a CPU-only ComfyUI from PyPI, about 2 GB; needs Python 3.11), or set "
                "PERSONALIVE_PROVISION_COMFYUI=1 to let the tests build it, or "
                "PERSONALIVE_COMFYUI_DIR/PERSONALIVE_COMFYUI_PYTHON to use your own ComfyUI"
            )
        proc = subprocess.run(["bash", str(PROVISION)], env=env, capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            raise RuntimeUnavailable(f"scripts/provision_comfyui.sh failed:\n{proc.stderr[-3000:]}")
    return Runtime(root / "venv" / "bin" / "python", root / "ComfyUI", root / "no_frontend" if lean else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ComfyServer:
    run_dir: Path
    port: int = field(default_factory=free_port)
    extra_args: list[str] = field(default_factory=list)
    lean: bool = False
    version: str = NEWEST
    process: subprocess.Popen | None = None
    runtime: Runtime | None = None
    startup_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.run_dir / "comfyui.log"

    @property
    def models_dir(self) -> Path:
        return self.run_dir / "models"

    @property
    def input_dir(self) -> Path:
        return self.run_dir / "input"

    @property
    def output_dir(self) -> Path:
        return self.run_dir / "output"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def prepare(self) -> "ComfyServer":
        for sub in ("custom_nodes", "models", "input", "output", "temp", "user"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
        link = self.run_dir / "custom_nodes" / PACK_NAME
        if not link.exists():
            link.symlink_to(REPO, target_is_directory=True)
        return self

    def start(self, timeout: float = 180.0) -> "ComfyServer":
        self.runtime = find_runtime(self.lean, self.version)
        self.prepare()
        args = [
            str(self.runtime.python),
            "main.py",
            "--cpu",
            "--listen",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--base-directory",
            str(self.run_dir),
            "--database-url",
            f"sqlite:///{self.run_dir / 'user' / 'comfyui.db'}",
            "--disable-api-nodes",
            *self.extra_args,
        ]
        if self.runtime.no_frontend is not None:
            args += ["--front-end-root", str(self.runtime.no_frontend)]
        # The sampler's compile input captures graphs without inductor's minutes of code generation here.
        env = dict(os.environ, PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1",
                   PERSONALIVE_COMPILE_BACKEND="aot_eager")
        started = time.monotonic()
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                args,
                cwd=self.runtime.comfyui_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"ComfyUI exited during startup (code {self.process.returncode}):\n{self.log()[-4000:]}"
                )
            try:
                with urllib.request.urlopen(self.url + "/system_stats", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.25)
        else:
            self.stop()
            raise RuntimeError(f"ComfyUI did not answer within {timeout}s:\n{self.log()[-4000:]}")
        self.startup_seconds = time.monotonic() - started
        return self

    def pack_import_error(self) -> str | None:
        """ComfyUI only logs a failing custom node import; return that part of the log, if any."""
        text = self.log()
        marker = f"custom_nodes/{PACK_NAME} module for custom nodes"
        if marker in text or f"(IMPORT FAILED): {self.run_dir / 'custom_nodes' / PACK_NAME}" in text:
            return text[max(0, text.find("Traceback")) :][:6000]
        return None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main() -> int:  # pragma: no cover - manual helper
    import tempfile

    server = ComfyServer(Path(tempfile.mkdtemp(prefix="personalive-comfy-"))).start()
    print(json.dumps({"url": server.url, "run_dir": str(server.run_dir), "pid": server.process.pid}))
    print("Ctrl-C stops it", file=sys.stderr)
    try:
        server.process.wait()
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
