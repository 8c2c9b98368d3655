"""`queue` explains bad workflow files and servers that are not ComfyUI, and starts without torch."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from personalive_core.cli import queue as cli_queue

from . import workflow_check as wc

VIDEO_API = wc.API_WORKFLOWS / "personalive_animate_from_video.json"
REPO = Path(__file__).resolve().parents[2]


def test_a_broken_json_file_is_named_with_the_place_of_the_error(capsys, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"1": {"class_type": "X",\n "inputs": }', encoding="utf-8")
    assert cli_queue.main([str(broken), "--server", "http://127.0.0.1:9"]) == cli_queue.EXIT_BAD_REQUEST
    err = capsys.readouterr().err
    assert str(broken) in err and "not valid JSON (line 2" in err and "Export (API)" in err


def test_a_missing_workflow_file_is_named(capsys, tmp_path):
    missing = tmp_path / "nope.json"
    assert cli_queue.main([str(missing), "--server", "http://127.0.0.1:9"]) == cli_queue.EXIT_BAD_REQUEST
    assert f"workflow file not found: {missing}" in capsys.readouterr().err


class _NotComfy(http.server.BaseHTTPRequestHandler):
    """A web server that is not ComfyUI: 404 for /system_stats, or an HTML page."""

    html = False

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.html:
            body = b"<html><body>router login</body></html>"
            self.send_response(200)
        else:
            body = b"not found"
            self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("html", [False, True], ids=["http-404", "html-page"])
def test_a_server_that_is_not_comfyui_is_called_so(capsys, html):
    handler = type("Handler", (_NotComfy,), {"html": html})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        assert cli_queue.main([str(VIDEO_API), "--server", url]) == cli_queue.EXIT_UNREACHABLE
    finally:
        httpd.shutdown()
        httpd.server_close()
    err = capsys.readouterr().err
    assert "is not a ComfyUI server" in err and "--server" in err
    assert "HTTP 404" in err if not html else "did not answer JSON" in err


def test_queue_starts_without_importing_torch():
    code = (
        "import sys\n"
        "from personalive_core.cli import main\n"
        "try:\n    main(['queue', '--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('torch', 'numpy', 'av', 'diffusers') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out
