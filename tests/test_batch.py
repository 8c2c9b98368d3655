"""`batch`: many clips from a jobs file, here or on a local Ray; failures stay with their job, finished
jobs are skipped on a rerun, a killed worker's job is retried elsewhere and resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import fsspec
import pytest

from personalive_core.batch.jobs import read_jobs
from personalive_core.cli import main
from personalive_core.demo_inputs import write_demo_inputs
from personalive_core.errors import InputError


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    portrait, _ = write_demo_inputs(folder, size=64, frames=1)
    _, short = write_demo_inputs(folder / "short", size=64, frames=6, fps=10)
    _, long = write_demo_inputs(folder / "long", size=64, frames=16, fps=10)
    return portrait, short, long


def _jobs_file(folder, jobs, name="jobs.jsonl"):
    path = folder / name
    path.write_text("".join(json.dumps(job) + "\n" for job in jobs))
    return path


def _animate(weights, portrait, video, output, seed):
    assert main(["animate", "--reference", str(portrait), "--driving", str(video), "--output", str(output),
                 "--weights", str(weights), "--size", "64", "--seed", str(seed)]) == 0
    return output.read_bytes()


@pytest.mark.parametrize("text, message", [
    ('{"reference": "a.png", "driving": "b.mp4"}\n', r"line 1: output missing"),
    ('{"reference": "a.png", "driving": "b.mp4", "output": "o.mp4", "sed": 3}\n', r"line 1: unknown column\(s\) sed"),
    ('\n{"reference": "a.png",\n', r"line 2: not valid JSON"),
    ('{"reference": "a.png", "driving": "b.mp4", "output": "o.mp4", "size": "big"}\n', r"size: 'big' is not a valid int"),
    ('{"reference": "a", "driving": "b", "output": "o.mp4"}\n{"reference": "c", "driving": "d", "output": "o.mp4"}\n',
     r"lines 1 and 2: both write"),
])
def test_bad_jobs_files_name_the_line(tmp_path, text, message):
    (tmp_path / "jobs.jsonl").write_text(text)
    with pytest.raises(InputError, match=message):
        read_jobs(tmp_path / "jobs.jsonl")


def test_csv_jobs_with_typed_options_and_relative_paths(tmp_path):
    (tmp_path / "jobs.csv").write_text("reference,driving,output,seed,include_lead_in\n"
                                       "me.png,talk.mp4,out/one.mp4,7,yes\n"
                                       "me.png,s3://bucket/talk.mp4,frames/,,\n")
    first, second = read_jobs(tmp_path / "jobs.csv")
    assert (first.reference, first.seed, first.include_lead_in) == (str(tmp_path / "me.png"), 7, True)
    assert (second.driving, second.output, second.seed) == ("s3://bucket/talk.mp4", str(tmp_path / "frames") + "/", 42)


def test_batch_here_renders_skips_and_reports(tiny_random_weights, demo, tmp_path, capsys):
    portrait, short, _ = demo
    with fsspec.open("memory://batch-test/portrait.png", "wb") as file:
        file.write(portrait.read_bytes())
    jobs = _jobs_file(tmp_path, [
        {"reference": str(portrait), "driving": str(short), "output": "one.mp4", "size": 64, "seed": 1},
        {"reference": str(portrait), "driving": "missing.mp4", "output": "two.mp4", "size": 64},
        {"reference": "memory://batch-test/portrait.png", "driving": str(short),
         "output": "memory://batch-test/three.webm", "size": 64, "seed": 3},
    ])
    args = ["batch", str(jobs), "--weights", str(tiny_random_weights), "--work-dir", str(tmp_path / "work")]
    assert main(args) == 1  # one job failed
    out = capsys.readouterr().out
    assert "two.mp4 (line 2): Driving input not found" in out and "2 done, 0 skipped, 1 failed" in out
    assert (tmp_path / "one.mp4").read_bytes() == _animate(tiny_random_weights, portrait, short,
                                                           tmp_path / "single.mp4", seed=1)
    with fsspec.open("memory://batch-test/three.webm", "rb") as file:
        assert file.read()[:4] == b"\x1a\x45\xdf\xa3"  # a Matroska/WebM file was uploaded
    summary = json.loads((tmp_path / "jobs.jsonl.summary.json").read_text())
    assert [row["status"] for row in summary] == ["done", "failed", "done"] and summary[0]["frames"] == 6

    assert main(args) == 1
    assert "2 skipped" in capsys.readouterr().out  # finished jobs are not rendered again


def test_batch_on_local_ray_retries_a_killed_worker(tiny_random_weights, demo, tmp_path):
    ray = pytest.importorskip("ray", reason="the Ray tests need `pip install ray` (scripts/setup.sh --test does)")
    from personalive_core.batch.jobs import read_jobs as read
    from personalive_core.batch.on_ray import run_on_ray, start_ray

    portrait, short, long = demo
    jobs = read(_jobs_file(tmp_path, [
        {"reference": str(portrait), "driving": str(long), "output": "long.mp4", "size": 64, "seed": 4},
        {"reference": str(portrait), "driving": str(short), "output": "a.mp4", "size": 64, "seed": 5},
        {"reference": str(portrait), "driving": str(short), "output": "b/", "size": 64, "seed": 6},
    ]))
    start_ray(num_cpus=2)
    killed = []

    def kill_first_worker_mid_job(actors):
        """The first job goes to the first worker: kill its process once the job has made some frames."""
        pid = ray.get(actors[0].pid.remote())

        def watch():
            frame = tmp_path / "long.mp4.resume" / "frames" / "frame_000005.png"
            deadline = time.time() + 300
            while not frame.exists() and time.time() < deadline:
                time.sleep(0.05)
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

        threading.Thread(target=watch, daemon=True).start()

    try:
        reported = []
        results = run_on_ray(jobs, str(tiny_random_weights), workers=2, checkpoint_every=1,
                             on_actors=kill_first_worker_mid_job, on_frames=lambda job, n: reported.append((job.name, n)))
    finally:
        ray.shutdown()
    assert killed and [r.status for r in results] == ["done", "done", "done"]
    assert results[0].attempts == 2 and results[0].resumed_at > 0  # retried, continuing from its checkpoint
    assert {r.attempts for r in results[1:]} == {1}
    assert ("a.mp4", 6) in reported and ("b", 6) in reported  # the workers' frame counts reach the driver
    assert len(list((tmp_path / "b").glob("frame_*.png"))) == 6
    # Each worker computes on one thread (Ray's OMP_NUM_THREADS for a 1-CPU actor); so does this single run,
    # since the CPU's float sums depend on the thread count.
    single = subprocess.run([sys.executable, "-m", "personalive_core", "animate", "--reference", str(portrait),
                             "--driving", str(long), "--output", str(tmp_path / "single.mp4"), "--weights",
                             str(tiny_random_weights), "--size", "64", "--seed", "4"],
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True)
    assert single.returncode == 0, single.stderr
    assert (tmp_path / "long.mp4").read_bytes() == (tmp_path / "single.mp4").read_bytes()
