"""The headless client and `queue` command without a server (the server tests run them for real)."""

from __future__ import annotations

import json

import pytest

from personalive_core.cli import queue as cli_queue
from personalive_core.comfy_client import ComfyError, apply_overrides, format_rejection, load_api_workflow, output_files

from . import server
from . import workflow_check as wc

VIDEO_API = wc.API_WORKFLOWS / "personalive_animate_from_video.json"


def test_load_api_workflow_refuses_the_ui_format():
    with pytest.raises(ComfyError, match="UI-format workflow.*workflows/api/"):
        load_api_workflow(wc.WORKFLOWS / "personalive_animate_from_video.json")
    assert load_api_workflow(VIDEO_API)["9"]["class_type"] == "PersonaLiveSampler4Step"


def test_load_api_workflow_accepts_a_saved_prompt_body(tmp_path):
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"prompt": json.loads(VIDEO_API.read_text()), "client_id": "x"}))
    assert "9" in load_api_workflow(body)


def test_overrides_by_id_title_and_class(tmp_path):
    prompt = load_api_workflow(VIDEO_API)
    uploaded = []
    picture = tmp_path / "me.png"
    picture.write_bytes(b"png")

    def upload(path):
        uploaded.append(path)
        return "uploaded_" + path.name

    apply_overrides(
        prompt,
        [
            "9.seed=7",
            "Sampler.preview=false",
            "SaveVideo.filename_prefix=out/x",
            "Reference portrait.image=@" + str(picture),
            "Driving video.file=" + str(picture),
            "Keypoints.crop_method=mediapipe",
        ],
        upload,
    )
    assert prompt["9"]["inputs"]["seed"] == 7 and prompt["9"]["inputs"]["preview"] is False
    assert prompt["12"]["inputs"]["filename_prefix"] == "out/x"
    assert prompt["2"]["inputs"]["image"] == prompt["3"]["inputs"]["file"] == "uploaded_me.png"
    assert prompt["5"]["inputs"]["crop_method"] == "mediapipe"
    assert uploaded == [picture, picture]


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("seed=1", "expected NODE.INPUT=VALUE"),
        ("nosuchnode.seed=1", "no node 'nosuchnode'.*9 \\(Sampler\\)"),
        ("9.seed", "expected NODE.INPUT=VALUE"),
        ("Reference portrait.image=@/no/such/file.png", "not found"),
    ],
)
def test_bad_overrides_say_what_is_wrong(assignment, message):
    with pytest.raises(ComfyError, match=message):
        apply_overrides(load_api_workflow(VIDEO_API), [assignment], upload=lambda p: p.name)


def test_format_rejection_lists_every_node_error():
    body = {
        "error": {
            "type": "prompt_outputs_failed_validation",
            "message": "Prompt outputs failed validation",
            "details": "",
        },
        "node_errors": {
            "1": {
                "class_type": "LoadPersonaLiveModels",
                "errors": [
                    {
                        "type": "custom_validation_failed",
                        "message": "Custom validation failed for node",
                        "details": "weights_folder - folder 'x' not found",
                    }
                ],
            }
        },
    }
    text = format_rejection(body)
    assert text.splitlines()[0] == "Prompt outputs failed validation"
    assert (
        "node 1 (LoadPersonaLiveModels): Custom validation failed for node: weights_folder - folder 'x' not found"
        in text
    )


def test_output_files_finds_every_file_entry():
    outputs = {
        "12": {"images": [{"filename": "a.mp4", "subfolder": "personalive", "type": "output"}], "animated": [True]},
        "3": {"text": ["hi"]},
    }
    assert output_files(outputs) == [("12", {"filename": "a.mp4", "subfolder": "personalive", "type": "output"})]


def test_queue_command_exit_codes_without_a_server(capsys, tmp_path):
    url = f"http://127.0.0.1:{server.free_port()}"
    assert cli_queue.main([str(VIDEO_API), "--server", url]) == cli_queue.EXIT_UNREACHABLE
    assert "cannot reach ComfyUI" in capsys.readouterr().err
    assert cli_queue.main([str(wc.WORKFLOWS / "personalive_animate_from_video.json"), "--server", url]) == 2
    assert "UI-format" in capsys.readouterr().err
