"""`python -m personalive_core queue`: run an API-format workflow on a ComfyUI server.

    python -m personalive_core queue workflows/api/personalive_animate_from_video.json \
        --server http://127.0.0.1:8188 \
        --set "Reference portrait.image=@me.png" --set "Driving video.file=@drive.mp4" --set Sampler.seed=7 \
        --output-dir out/

Uploads the files named with `@PATH`, queues the graph, shows progress from the websocket, downloads
the outputs, and prints ComfyUI's own error text when validation or execution fails.

Exit status: 0 success, 1 the run failed or was interrupted, 2 the workflow or the assignments are
wrong or ComfyUI rejected the graph, 3 the server cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

from ..comfy_client import ComfyClient, ComfyError, PromptRejected, ServerUnreachable, apply_overrides, load_api_workflow

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_REQUEST, EXIT_UNREACHABLE = 0, 1, 2, 3

HELP = "run an API-format workflow on a ComfyUI server (upload, queue, progress, download)"


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("workflow", type=Path, help="API-format workflow JSON (e.g. workflows/api/*.json)")
    parser.add_argument("--server", dest="servers", action="append", default=None,
                        help="ComfyUI address (default http://127.0.0.1:8188); repeat it with --jobs to spread the "
                             "jobs over several servers, one prompt at a time each")
    parser.add_argument("--jobs", type=Path, help="JSON Lines file, one prompt per line: "
                        '{"set": {"NODE.INPUT": VALUE, ...}, "output_dir": DIR}; finished jobs are skipped')
    parser.add_argument("--retries", type=int, default=2, help="with --jobs: tries again after a failed run")
    parser.add_argument("--summary", type=Path, help="with --jobs: JSON summary path (default JOBS.summary.json)")
    parser.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="NODE.INPUT=VALUE",
        help="change one input; NODE is a node id, title or unique class name; VALUE is JSON or "
        "text; @PATH uploads a local file (repeatable)",
    )
    parser.add_argument(
        "--output-dir", type=Path, default=Path("comfy_outputs"), help="where to save the outputs (default %(default)s)"
    )
    parser.add_argument("--no-download", action="store_true", help="do not download the outputs")
    parser.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout at the end")
    return parser


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the `queue` sub-command (like the other cli modules); it dispatches through `func`."""
    parser = sub.add_parser("queue", help=HELP, description=HELP)
    add_arguments(parser)
    parser.set_defaults(func=run)


def _progress_printer(prompt: dict[str, Any], stream) -> Callable[[str, dict], None]:
    def name(node_id) -> str:
        node = prompt.get(str(node_id), {})
        title = node.get("_meta", {}).get("title") or node.get("class_type") or "?"
        return f"#{node_id} {title}"

    tty = stream.isatty()
    state = {"open_line": False}

    def emit(text: str, transient: bool = False) -> None:
        if tty and transient:
            stream.write("\r\033[K" + text)
            state["open_line"] = True
        else:
            if state["open_line"]:
                stream.write("\n")
            stream.write(text + "\n")
            state["open_line"] = False
        stream.flush()

    def on_event(kind: str, data: dict) -> None:
        if kind == "execution_start":
            emit(f"started {data.get('prompt_id')}")
        elif kind == "execution_cached" and data.get("nodes"):
            emit(f"cached: {', '.join(name(n) for n in data['nodes'])}")
        elif kind == "executing" and data.get("node") is not None:
            emit(f"running {name(data['node'])}")
        elif kind == "progress":
            emit(f"  {name(data.get('node'))}: {data.get('value')}/{data.get('max')}", transient=True)
        elif kind == "executed":
            emit(f"done {name(data.get('node'))}")

    return on_event


def run(args: argparse.Namespace) -> int:
    out, err = sys.stdout, sys.stderr
    servers = args.servers or ["http://127.0.0.1:8188"]
    if args.jobs is not None:
        return _run_jobs(args, servers)
    if len(servers) > 1:
        print("error: several --server addresses need --jobs (one prompt per line) to share out", file=err)
        return EXIT_BAD_REQUEST
    client = ComfyClient(servers[0])

    def prepare():
        prompt = load_api_workflow(args.workflow)
        client.check_server()  # fail early and clearly when the server is not there, or not ComfyUI
        return apply_overrides(prompt, args.assignments, client.upload)

    prompt, failed = _checked(prepare)
    if failed is not None:
        return failed

    on_event = None if args.quiet else _progress_printer(prompt, err)
    ws = None
    prompt_id = None
    try:
        ws = client.connect()
        prompt_id = client.queue(prompt)
        result = client.follow(ws, prompt_id, on_event, args.timeout)
    except PromptRejected as exc:
        print(f"ComfyUI rejected the workflow:\n{exc}", file=err)
        return EXIT_BAD_REQUEST
    except ServerUnreachable as exc:
        print(f"error: {exc}", file=err)
        return EXIT_UNREACHABLE
    except KeyboardInterrupt:
        if prompt_id is not None:
            try:
                client.interrupt(prompt_id)
                print(f"\ninterrupt sent for {prompt_id}", file=err)
            except ComfyError:
                pass
        return 130
    finally:
        if ws is not None:
            ws.close()

    files = []
    if result.ok and not args.no_download:
        files = client.download_outputs(result, args.output_dir)
    if args.json:
        json.dump(
            {
                "prompt_id": result.prompt_id,
                "status": result.status,
                "seconds": round(result.seconds, 3),
                "error": result.error,
                "outputs": result.outputs,
                "files": [str(f) for f in files],
            },
            out,
            indent=2,
        )
        out.write("\n")
    if not result.ok:
        print(f"error: {result.error_text()}", file=err)
        return EXIT_RUN_FAILED
    for f in files:
        print(f"saved {f}", file=err)
    print(f"finished {result.prompt_id} in {result.seconds:.1f}s", file=err)
    return EXIT_OK


def _checked(step: Callable[[], Any]) -> tuple[Any, int | None]:
    """(what `step` returns, None), or (None, exit status) after printing why it failed."""
    try:
        return step(), None
    except ServerUnreachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None, EXIT_UNREACHABLE
    except (ComfyError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None, EXIT_BAD_REQUEST


def _run_jobs(args: argparse.Namespace, servers: list[str]) -> int:
    """`--jobs`: the workflow once per line of the jobs file, spread over `servers`, with a summary."""
    from ..comfy_client.spread import read_queue_jobs, spread_jobs
    from ..text_table import text_table

    err = sys.stderr

    def prepare():
        loaded = load_api_workflow(args.workflow), read_queue_jobs(args.jobs)
        for server in servers:
            ComfyClient(server).check_server()
        return loaded

    loaded, failed = _checked(prepare)
    if failed is not None:
        return failed
    prompt, jobs = loaded

    def report(result) -> None:
        if not args.quiet:
            print(f"line {result.job.line}: {result.status} {result.server} {result.error}".rstrip(), file=err)

    results = spread_jobs(prompt, jobs, servers, args.retries, args.timeout, not args.no_download, report)
    rows = [(r.job.line, r.server or "-", f"{r.seconds:.1f}", r.status, r.job.output_dir) for r in results]
    print(text_table(("line", "server", "seconds", "status", "output"), rows), file=err)
    for r in results:
        if r.status == "failed":
            print(f"line {r.job.line}: {r.error}", file=err)
    summary = args.summary or args.jobs.with_name(args.jobs.name + ".summary.json")
    summary.write_text(json.dumps([r.to_dict() for r in results], indent=2) + "\n", encoding="utf-8")
    print(f"summary: {summary}", file=err)
    return EXIT_RUN_FAILED if any(r.status == "failed" for r in results) else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry: `python -m personalive_core.cli.queue WORKFLOW ...`."""
    parser = add_arguments(argparse.ArgumentParser(prog="personalive_core queue", description=HELP))
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
