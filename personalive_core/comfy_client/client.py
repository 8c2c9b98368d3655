"""A small client for a running ComfyUI server: upload inputs, queue an API-format workflow, follow it
on the websocket, fetch what it produced.

Only the standard library and `websocket-client` (imported when a run starts) are used, so this module
can be imported anywhere, ComfyUI installed or not.

    client = ComfyClient("http://127.0.0.1:8188")
    prompt = load_api_workflow("workflows/api/personalive_animate_from_video.json")
    apply_overrides(prompt, ["Reference portrait.image=@me.png", "Sampler.seed=7"], client.upload)
    result = client.run(prompt, on_event=print)
    result.raise_for_status()
    paths = client.download_outputs(result, "out/")
"""

from __future__ import annotations

import json
import mimetypes
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable

from .results import ComfyError, PromptRejected, RunResult, ServerUnreachable, output_files


class ComfyClient:
    """One ComfyUI server (`base_url` like http://127.0.0.1:8188)."""

    def __init__(self, base_url: str = "http://127.0.0.1:8188", client_id: str | None = None, timeout: float = 30.0):
        if "://" not in base_url:
            base_url = "http://" + base_url
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id or uuid.uuid4().hex
        self.timeout = timeout

    # -- plain HTTP -------------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None):
        req = urllib.request.Request(self.base_url + path, data=body, method=method, headers=headers or {})
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError:
            raise
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            raise ServerUnreachable(f"cannot reach ComfyUI at {self.base_url}: {getattr(exc, 'reason', exc)}") from exc

    def get_json(self, path: str) -> Any:
        with self._request("GET", path) as resp:
            return json.loads(resp.read())

    def post_json(self, path: str, payload: Any) -> Any:
        body = json.dumps(payload).encode()
        with self._request("POST", path, body, {"Content-Type": "application/json"}) as resp:
            data = resp.read()
        return json.loads(data) if data.strip() else None

    def get_bytes(self, path: str) -> bytes:
        with self._request("GET", path) as resp:
            return resp.read()

    def system_stats(self) -> dict[str, Any]:
        return self.get_json("/system_stats")

    def check_server(self) -> dict[str, Any]:
        """`system_stats()`, raising `ServerUnreachable` when nothing answers or what answers is not ComfyUI."""
        try:
            stats = self.system_stats()
        except urllib.error.HTTPError as exc:
            problem = f"GET /system_stats answered HTTP {exc.code}"
        except ValueError:
            problem = "GET /system_stats did not answer JSON"
        else:
            if isinstance(stats, dict) and "system" in stats:
                return stats
            problem = "GET /system_stats answered JSON without ComfyUI's system information"
        raise ServerUnreachable(
            f"{self.base_url} answers, but it is not a ComfyUI server ({problem}). Check --server: use the address "
            "ComfyUI prints when it starts (e.g. http://127.0.0.1:8188)."
        )

    def object_info(self, node_class: str | None = None) -> dict[str, Any]:
        return self.get_json("/object_info" + (f"/{urllib.parse.quote(node_class)}" if node_class else ""))

    def history(self, prompt_id: str) -> dict[str, Any]:
        return self.get_json(f"/history/{urllib.parse.quote(prompt_id)}").get(prompt_id, {})

    def interrupt(self, prompt_id: str | None = None) -> None:
        self.post_json("/interrupt", {"prompt_id": prompt_id} if prompt_id else {})

    def free(self, unload_models: bool = True, free_memory: bool = True) -> None:
        self.post_json("/free", {"unload_models": unload_models, "free_memory": free_memory})

    def upload(self, path: str | Path, subfolder: str = "", overwrite: bool = True) -> str:
        """Upload a local file into the server's input folder; returns the name to put in a node input."""
        path = Path(path)
        boundary = "----personalive" + uuid.uuid4().hex
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        parts = []
        for name, value in (
            ("type", "input"),
            ("subfolder", subfolder),
            ("overwrite", "true" if overwrite else "false"),
        ):
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{path.name}"\r\n'
            f"Content-Type: {ctype}\r\n\r\n".encode()
            + path.read_bytes()
            + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        try:
            with self._request(
                "POST", "/upload/image", b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"}
            ) as resp:
                info = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise ComfyError(f"upload of {path} failed: HTTP {exc.code} {exc.read()[:200]!r}") from exc
        return f"{info['subfolder']}/{info['name']}" if info.get("subfolder") else info["name"]

    def download(self, entry: dict[str, Any], dest_dir: str | Path) -> Path:
        """Fetch one output file entry ({"filename", "subfolder", "type"}) into dest_dir."""
        query = urllib.parse.urlencode(
            {
                "filename": entry["filename"],
                "subfolder": entry.get("subfolder", ""),
                "type": entry.get("type", "output"),
            }
        )
        dest = Path(dest_dir) / entry["filename"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(self.get_bytes(f"/view?{query}"))
        return dest

    def download_outputs(
        self, result: RunResult, dest_dir: str | Path, types: Iterable[str] = ("output", "temp")
    ) -> list[Path]:
        wanted = set(types)
        return [
            self.download(e, dest_dir) for _, e in output_files(result.outputs) if e.get("type", "output") in wanted
        ]

    # -- queueing and following ---------------------------------------------------------------------
    def queue(self, prompt: dict[str, Any], prompt_id: str | None = None) -> str:
        """POST /prompt; returns the prompt id or raises PromptRejected with ComfyUI's validation errors."""
        payload: dict[str, Any] = {"prompt": prompt, "client_id": self.client_id}
        if prompt_id:
            payload["prompt_id"] = prompt_id
        try:
            answer = self.post_json("/prompt", payload)
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                body = json.loads(raw)
            except ValueError:
                raise ComfyError(f"POST /prompt failed: HTTP {exc.code}: {raw[:500]!r}") from exc
            raise PromptRejected(body) from exc
        return answer["prompt_id"]

    def connect(self):
        """A websocket on /ws for this client id (call before queue() so no message is missed)."""
        try:
            import websocket  # websocket-client
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ComfyError(
                "following a run needs the websocket-client package: pip install websocket-client"
            ) from exc
        scheme = "wss" if self.base_url.startswith("https") else "ws"
        url = f"{scheme}://{self.base_url.split('://', 1)[1]}/ws?clientId={self.client_id}"
        try:
            return websocket.create_connection(url, timeout=self.timeout)
        except (OSError, websocket.WebSocketException) as exc:
            raise ServerUnreachable(f"cannot open the websocket {url}: {exc}") from exc

    def follow(
        self, ws, prompt_id: str, on_event: Callable[[str, dict], None] | None = None, timeout: float | None = None
    ) -> RunResult:
        """Read websocket messages until `prompt_id` finishes; returns its RunResult."""
        import websocket

        result = RunResult(prompt_id)
        start = time.monotonic()
        deadline = None if timeout is None else start + timeout
        while True:
            if deadline is not None and time.monotonic() > deadline:
                result.status = "timeout"
                break
            try:
                ws.settimeout(2.0)
                raw = ws.recv()
            except websocket.WebSocketTimeoutException:
                # Poll the history too, in case the end message was missed.
                entry = self.history(prompt_id)
                if entry.get("status", {}).get("completed") or entry.get("status", {}).get("status_str") == "error":
                    self._fill_from_history(result, entry)
                    break
                continue
            except (OSError, websocket.WebSocketException) as exc:
                raise ServerUnreachable(f"the websocket closed while waiting for the run: {exc}") from exc
            if isinstance(raw, bytes):  # a live preview image (4-byte event type, 4-byte format, JPEG/PNG)
                if on_event is not None:
                    on_event("preview", {"bytes": len(raw), "prompt_id": prompt_id})
                continue
            msg = json.loads(raw)
            kind, data = msg.get("type"), msg.get("data") or {}
            if data.get("prompt_id") not in (None, prompt_id):
                continue
            if on_event is not None:
                on_event(kind, data)
            if kind == "executed" and data.get("prompt_id") == prompt_id:
                result.outputs[str(data["node"])] = data.get("output") or {}
            elif kind == "execution_cached":
                result.cached = list(data.get("nodes", []))
            elif kind == "execution_success":
                result.status = "success"
                break
            elif kind == "execution_error":
                result.status, result.error = "error", data
                break
            elif kind == "execution_interrupted":
                result.status, result.error = "interrupted", data
                break
        result.seconds = time.monotonic() - start
        if result.status == "success" and not result.outputs:
            self._fill_from_history(result, self.history(prompt_id))
        return result

    def _fill_from_history(self, result: RunResult, entry: dict[str, Any]) -> None:
        status = entry.get("status", {})
        result.outputs = result.outputs or entry.get("outputs", {})
        if status.get("status_str") == "success":
            result.status = "success"
            return
        for kind, data in status.get("messages", []):
            if kind == "execution_error":
                result.status, result.error = "error", data
            elif kind == "execution_interrupted":
                result.status, result.error = "interrupted", data
        if result.status == "running":
            result.status = "error"

    def run(
        self, prompt: dict[str, Any], on_event: Callable[[str, dict], None] | None = None, timeout: float | None = None
    ) -> RunResult:
        """Queue `prompt` and wait for it (PromptRejected if validation fails)."""
        ws = self.connect()
        try:
            prompt_id = self.queue(prompt)
            return self.follow(ws, prompt_id, on_event, timeout)
        finally:
            ws.close()
