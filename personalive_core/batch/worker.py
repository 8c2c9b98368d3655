"""One worker of a batch: loads the models once (per precision) and renders jobs one after another."""

from __future__ import annotations

import os
import socket
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from ..errors import PersonaLiveError
from .jobs import BatchJob
from .staging import fetch_input, local_output, output_exists, publish_output


@dataclass
class JobResult:
    """What became of one job: `done`, `skipped` (its output existed) or `failed` (with `error`)."""

    job: BatchJob
    status: str
    frames: int = 0
    seconds: float = 0.0
    error: str = ""
    attempts: int = 1
    worker: str = ""
    resumed_at: int = 0

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        row = asdict(self)
        row["job"] = self.job.to_dict()
        row["fps"] = round(self.fps, 3)
        return row


class JobRunner:
    """Renders jobs resumably with the weights in `weights`; models stay loaded between jobs of the same
    precision. Bad input or weights fail the job with their message; anything else (a crash) is raised
    for the caller to retry."""

    def __init__(self, weights: str, device: str = "auto", checkpoint_every: int = 10,
                 work_dir: str | None = None, progress: Callable[[BatchJob, int], None] | None = None):
        self.weights, self.device_name, self.checkpoint_every = weights, device, checkpoint_every
        self.work_dir = Path(work_dir or Path(tempfile.gettempdir()) / "personalive-batch")
        self.progress = progress or (lambda job, frames: None)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self._models = None
        self._precision = None

    def models(self, precision: str):
        """The models in `precision`, loaded once and kept while jobs ask for the same precision."""
        from ..devices import resolve_device
        from ..loading import load_models

        if self._models is None or self._precision != precision:
            self._models = None  # free the previous precision's weights before loading the next
            self._models = load_models(self.weights, dtype=precision, device=resolve_device(self.device_name))
            self._precision = precision
        return self._models

    def run(self, job: BatchJob) -> JobResult:
        """Render `job` (continuing its checkpoint when there is one); skip it when its output exists."""
        if output_exists(job.output):
            return JobResult(job, "skipped", worker=self.worker)
        try:
            return self._render(job)
        except PersonaLiveError as exc:  # bad input or weights: a retry cannot fix it
            return JobResult(job, "failed", error=str(exc), worker=self.worker)

    def _render(self, job: BatchJob) -> JobResult:
        from ..checks import check_size
        from ..loading import resolve_dtype
        from ..motion_controls import MotionControls
        from ..output_path import check_output_path
        from ..paste_back import choose_crop
        from ..render import Render, RenderOptions, render_fingerprint
        from ..video_io import open_image, probe_driving

        started = time.time()
        check_size(job.size, "size")
        reference = fetch_input(job.reference, self.work_dir)
        portrait, driving = open_image(reference), probe_driving(fetch_input(job.driving, self.work_dir))
        local = local_output(job.output, self.work_dir)
        output = check_output_path(local, inputs=[reference, driving.path], resuming=True)
        controls = MotionControls(job.pose_strength, job.expression_strength, job.motion_mode, job.smoothing)
        crop = choose_crop(portrait, scale=job.crop_scale, even=output.needs_even_size) if job.paste_back else None
        options = RenderOptions(job.size, job.seed, job.include_lead_in, job.decode_chunk, controls, crop)
        models = self.models(job.precision)
        fingerprint = render_fingerprint(reference, driving, options, self.weights,
                                         resolve_dtype(job.precision, models.device), models.device)
        render = Render(models, portrait, driving, output, options, lambda frames: self.progress(job, frames))
        result = render.run_resumable(fingerprint, self.checkpoint_every)
        publish_output(local, job.output)
        return JobResult(job, "done", result.frames, time.time() - started, worker=self.worker,
                         resumed_at=result.resumed_at)
