"""What the ComfyUI registry reads from pyproject.toml and .comfyignore, checked against its published rules
(docs.comfy.org/registry/specifications): a valid node id and semantic version, the repository URL, the
publisher, display name and icon, the ComfyUI versions the pack is tested on; the published package
keeps the runtime and leaves the tests out; node IDs never collide with another PersonaLive pack's."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
RAW_PREFIX = "https://raw.githubusercontent.com/comfyui-personalive/ComfyUI-PersonaLive/main/"
# Generic IDs another PersonaLive pack registers (and a second pack copies).
OTHER_PACKS_NODE_IDS = {"PersonaLiveCheckpointLoader", "PersonaLivePhotoSampler"}


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_project_fields_follow_the_registry_rules():
    project = pyproject()["project"]
    name = project["name"]
    assert len(name) < 100 and re.fullmatch(r"[A-Za-z][A-Za-z0-9._-]*", name), name
    assert not re.search(r"[._-]{2}", name), "no consecutive special characters"
    version = project["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version) and str(Version(version)) == version, version
    assert project["description"] and project["license"] == {"text": "Apache-2.0"}
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", project["urls"]["Repository"])
    assert SpecifierSet(project["requires-python"]).contains("3.11")
    assert not any(dep.split(">")[0].split("=")[0].strip() == "torch" for dep in project["dependencies"])
    for classifier in project["classifiers"]:  # the values the registry's parser accepts
        assert classifier == "Operating System :: OS Independent" or classifier in {
            "Environment :: GPU :: NVIDIA CUDA", "Environment :: GPU :: AMD ROCm", "Environment :: GPU :: Intel Arc",
            "Environment :: NPU :: Huawei Ascend", "Environment :: GPU :: Apple Metal"}, classifier


def test_comfy_section_names_the_publisher_icon_and_comfyui_versions():
    comfy = pyproject()["tool"]["comfy"]
    assert re.fullmatch(r"[a-z][a-z0-9-]*", comfy["PublisherId"]), comfy["PublisherId"]
    assert comfy["DisplayName"] == "ComfyUI-PersonaLive"
    assert comfy["Icon"].startswith(RAW_PREFIX)
    icon = REPO / comfy["Icon"][len(RAW_PREFIX):]
    from PIL import Image

    with Image.open(icon) as picture:  # the registry shows a square icon, at most 400 px
        assert picture.width == picture.height <= 400
    tested = SpecifierSet(comfy["requires-comfyui"])
    assert tested.contains("0.3.75") and tested.contains("0.30.0") and not tested.contains("0.3.60")


def test_the_published_package_keeps_the_runtime_and_leaves_the_tests_out():
    ignored = [line.strip() for line in (REPO / ".comfyignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()

    def published(path: str) -> bool:
        return not any(path == rule or (rule.endswith("/") and path.startswith(rule)) for rule in ignored)

    kept = {path for path in tracked if published(path)}
    assert not any(path.startswith(("tests/", "bench/", ".ci/")) for path in kept)
    for needed in ("__init__.py", "nodes/__init__.py", "personalive_core/__init__.py", "web/personalive_live.js",
                   "personalive_core/live/page/index.html", "requirements.txt", "pyproject.toml", "README.md",
                   "scripts/setup.sh", "scripts/animate_demo.sh", "docs/images/icon.png"):
        assert needed in kept, needed
    assert any(path.startswith("workflows/") for path in kept)
    assert all(any(path == rule or path.startswith(rule) for path in tracked) for rule in ignored), \
        "every rule names something that exists"


def test_node_ids_are_this_packs_own():
    source = "".join(path.read_text() for path in (REPO / "nodes").glob("*.py"))
    ids = set(re.findall(r'node_id="(\w+)"', source))  # the V3 schemas' node IDs
    assert len(ids) >= 10 and not ids & OTHER_PACKS_NODE_IDS, ids & OTHER_PACKS_NODE_IDS
