"""The shipped workflows: UI/API pairs in sync, every input valid for the pack's schemas (offline; the
server tests repeat the schema check against a live /object_info)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from . import workflow_check as wc
from .fakes import node_classes

CORE_SCHEMAS = json.loads((wc.REPO / "tests/comfy_pack/data/core_object_info.json").read_text())


@pytest.fixture(scope="module")
def schemas(pack):
    own = {name: wc.schema_of_class(cls) for name, cls in node_classes(pack).items()}
    return {**CORE_SCHEMAS, **own}


def test_every_ui_workflow_has_an_api_twin_and_back():
    ui = {p.name for p in wc.ui_files()}
    api = {p.name for p in wc.api_files()}
    assert ui, "no UI workflows shipped in workflows/"
    assert ui == api


def test_templates_for_video_single_image_and_paste_back_with_controls():
    types = {p.stem: {n["type"] for n in wc.load(p)["nodes"]} for p in wc.ui_files()}
    video = [t for t in types.values() if {"LoadVideo", "GetVideoComponents", "CreateVideo", "SaveVideo"} <= t]
    image = [t for t in types.values() if "LoadVideo" not in t and "SaveImage" in t]
    paste = [t for t in types.values() if {"PersonaLiveFaceCrop", "PersonaLivePasteBack"} <= t]
    assert video and image and paste
    controlled = wc.load(wc.API_WORKFLOWS / "personalive_paste_back_from_video.json")
    by_type = {n["class_type"]: n["inputs"] for n in controlled.values()}
    keypoints = by_type["ExtractLivePortraitKeypoints"]
    assert keypoints["pose_strength"] != 1.0 and keypoints["motion_mode"] == "relative" and keypoints["smoothing"] > 0
    assert by_type["MotionEncode"]["expression_strength"] != 1.0  # the template shows every control
    for t in types.values():
        assert t <= set(CORE_SCHEMAS) | set(wc.NODE_IDS), "only core nodes and this pack"


@pytest.mark.parametrize("path", wc.ui_files(), ids=lambda p: p.stem)
def test_ui_and_api_describe_the_same_graph(path, schemas):
    converted = wc.ui_to_api(wc.load(path), schemas)
    api = wc.strip_meta(wc.load(wc.API_WORKFLOWS / path.name))
    assert converted == api


@pytest.mark.parametrize("path", wc.api_files(), ids=lambda p: p.stem)
def test_api_workflow_inputs_match_the_schemas(path, schemas):
    assert wc.schema_problems(wc.load(path), schemas) == []


def test_ui_workflow_links_are_consistent():
    for path in wc.ui_files():
        ui = wc.load(path)
        nodes = {n["id"]: n for n in ui["nodes"]}
        for link_id, src, src_slot, dst, dst_slot, link_type in ui["links"]:
            assert link_id in (nodes[src]["outputs"][src_slot]["links"] or []), (path.name, link_id)
            assert nodes[dst]["inputs"][dst_slot]["link"] == link_id, (path.name, link_id)
            assert nodes[src]["outputs"][src_slot]["type"] == link_type


def test_generator_and_files_agree():
    """workflows/ was written by scripts/build_workflows.py and not edited by hand since."""
    out = subprocess.run(
        [sys.executable, str(wc.REPO / "scripts/build_workflows.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_ui_workflow_has_a_template_thumbnail():
    for path in wc.ui_files():
        thumb = path.with_suffix(".jpg")
        assert thumb.is_file() and thumb.read_bytes()[:3] == b"\xff\xd8\xff", f"{thumb.name} missing"
