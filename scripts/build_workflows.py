"""Write the shipped workflows from one description: UI format (workflows/*.json, what ComfyUI's
template browser and drag-and-drop load) and API format (workflows/api/*.json, for POST /prompt and
`python -m personalive_core queue`).

    python scripts/build_workflows.py          # rewrite both folders
    python scripts/build_workflows.py --check  # exit 1 if the files differ from what this would write

tests/comfy_pack/test_workflows.py checks independently that every UI/API pair describes the same graph.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UI_DIR = REPO / "workflows"
API_DIR = UI_DIR / "api"

REFERENCE_FILE = "personalive_reference.png"
DRIVING_VIDEO_FILE = "personalive_driving.mp4"
DRIVING_IMAGE_FILE = "personalive_driving.png"

# Output sockets (name, type) of every node type used, in slot order.
OUTPUTS = {
    "LoadPersonaLiveModels": [("models", "PERSONALIVE_MODELS")],
    "ExtractLivePortraitKeypoints": [("keypoints", "PERSONALIVE_KEYPOINTS")],
    "RenderPoseMap": [("pose_maps", "IMAGE")],
    "EncodeReference": [("reference", "PERSONALIVE_REFERENCE")],
    "MotionEncode": [("motion", "PERSONALIVE_MOTION")],
    "PersonaLiveSampler4Step": [("latent", "LATENT")],
    "ChunkedVAEDecode": [("images", "IMAGE")],
    "LoadImage": [("IMAGE", "IMAGE"), ("MASK", "MASK")],
    "LoadVideo": [("VIDEO", "VIDEO")],
    "GetVideoComponents": [("images", "IMAGE"), ("audio", "AUDIO"), ("fps", "FLOAT")],
    "CreateVideo": [("VIDEO", "VIDEO")],
    "SaveVideo": [],
    "SaveImage": [],
}
# Linkable inputs (name, type) in the order the node declares them; optional ones marked.
LINK_INPUTS = {
    "ExtractLivePortraitKeypoints": [("models", "PERSONALIVE_MODELS"), ("reference", "IMAGE"), ("driving", "IMAGE")],
    "RenderPoseMap": [("keypoints", "PERSONALIVE_KEYPOINTS")],
    "EncodeReference": [("models", "PERSONALIVE_MODELS"), ("reference", "IMAGE")],
    "MotionEncode": [
        ("models", "PERSONALIVE_MODELS"),
        ("reference", "IMAGE"),
        ("driving", "IMAGE"),
        ("keypoints", "PERSONALIVE_KEYPOINTS"),
    ],
    "PersonaLiveSampler4Step": [
        ("models", "PERSONALIVE_MODELS"),
        ("reference", "PERSONALIVE_REFERENCE"),
        ("pose_maps", "IMAGE"),
        ("motion", "PERSONALIVE_MOTION"),
    ],
    "ChunkedVAEDecode": [("models", "PERSONALIVE_MODELS"), ("latent", "LATENT")],
    "GetVideoComponents": [("video", "VIDEO")],
    "CreateVideo": [("images", "IMAGE"), ("audio?", "AUDIO")],
    "SaveVideo": [("video", "VIDEO")],
    "SaveImage": [("images", "IMAGE")],
}
# Widget inputs in widgets_values order. "+control" is the frontend's extra control_after_generate
# value after a seed; "+upload" the value of an upload button; neither is a node input.
WIDGETS = {
    "LoadPersonaLiveModels": ["weights_folder", "precision", "auto_download"],
    "ExtractLivePortraitKeypoints": ["crop_method", "size"],
    "RenderPoseMap": ["include_lead_in"],
    "EncodeReference": ["size"],
    "MotionEncode": [],
    "PersonaLiveSampler4Step": ["seed", "+control", "include_lead_in", "preview"],
    "ChunkedVAEDecode": ["chunk_size", "use_tiny"],
    "LoadImage": ["image", "+upload"],
    "LoadVideo": ["file", "+upload"],
    "GetVideoComponents": [],
    "CreateVideo": ["fps"],
    "SaveVideo": ["filename_prefix", "format", "codec"],
    "SaveImage": ["filename_prefix"],
}
WIDGET_TYPES = {"fps": "FLOAT"}  # widgets that a workflow feeds from a link


@dataclass
class Node:
    id: int
    type: str
    pos: tuple[int, int]
    size: tuple[int, int]
    widgets: dict = field(default_factory=dict)  # widget name -> value (including +control / +upload)
    links: dict = field(default_factory=dict)  # input name -> (node id, output slot)
    title: str | None = None


def ui_workflow(name: str, nodes: list[Node]) -> dict:
    by_id = {n.id: n for n in nodes}
    links, link_ids = [], {}
    for n in nodes:
        for input_name, (src, slot) in n.links.items():
            link_id = len(links) + 1
            out_type = OUTPUTS[by_id[src].type][slot][1]
            links.append([link_id, src, slot, n.id, None, out_type])
            link_ids[(n.id, input_name)] = link_id
    ui_nodes = []
    for order, n in enumerate(nodes):
        inputs = []
        for input_name, input_type in LINK_INPUTS.get(n.type, []):
            optional = input_name.endswith("?")
            input_name = input_name.rstrip("?")
            entry = {"name": input_name, "type": input_type, "link": link_ids.get((n.id, input_name))}
            if optional:
                entry["shape"] = 7
            inputs.append(entry)
        for input_name in n.links:  # widgets fed by a link ("converted to input")
            if input_name in WIDGETS[n.type]:
                inputs.append(
                    {
                        "name": input_name,
                        "type": WIDGET_TYPES[input_name],
                        "widget": {"name": input_name},
                        "link": link_ids[(n.id, input_name)],
                    }
                )
        for slot, entry in enumerate(inputs):
            for link in links:
                if link[0] == entry["link"]:
                    link[4] = slot
        outputs = []
        for slot, (out_name, out_type) in enumerate(OUTPUTS[n.type]):
            targets = [link[0] for link in links if link[1] == n.id and link[2] == slot]
            outputs.append({"name": out_name, "type": out_type, "slot_index": slot, "links": targets or None})
        ui = {
            "id": n.id,
            "type": n.type,
            "pos": list(n.pos),
            "size": list(n.size),
            "flags": {},
            "order": order,
            "mode": 0,
            "inputs": inputs,
            "outputs": outputs,
            "properties": {"Node name for S&R": n.type},
        }
        if n.title:
            ui["title"] = n.title
        if WIDGETS[n.type]:
            ui["widgets_values"] = [n.widgets[w] for w in WIDGETS[n.type]]
        ui_nodes.append(ui)
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"personalive/{name}")),
        "revision": 0,
        "last_node_id": max(by_id),
        "last_link_id": len(links),
        "nodes": ui_nodes,
        "links": links,
        "groups": [],
        "config": {},
        "extra": {"ds": {"scale": 0.75, "offset": [40, 40]}},
        "version": 0.4,
    }


def api_workflow(nodes: list[Node]) -> dict:
    prompt = {}
    for n in nodes:
        inputs = {}
        for input_name in WIDGETS[n.type]:
            if not input_name.startswith("+") and input_name not in n.links:
                inputs[input_name] = n.widgets[input_name]
        for input_name, (src, slot) in n.links.items():
            inputs[input_name] = [str(src), slot]
        prompt[str(n.id)] = {"class_type": n.type, "inputs": inputs, "_meta": {"title": n.title or n.type}}
    return prompt


def personalive_chain(driving: tuple[int, int], first_id: int, x0: int) -> list[Node]:
    """Models, keypoints, pose maps, reference, motion, sampler, decode (reference image is node 2)."""
    i = first_id
    return [
        Node(
            1,
            "LoadPersonaLiveModels",
            (20, 40),
            (330, 110),
            title="PersonaLive models",
            widgets={"weights_folder": "pretrained_weights", "precision": "auto", "auto_download": False},
        ),
        Node(
            i,
            "ExtractLivePortraitKeypoints",
            (x0, 40),
            (330, 120),
            title="Keypoints",
            widgets={"crop_method": "keypoints", "size": 512},
            links={"models": (1, 0), "reference": (2, 0), "driving": driving},
        ),
        Node(
            i + 1,
            "RenderPoseMap",
            (x0, 230),
            (330, 60),
            title="Pose maps",
            widgets={"include_lead_in": True},
            links={"keypoints": (i, 0)},
        ),
        Node(
            i + 2,
            "EncodeReference",
            (x0, 350),
            (330, 80),
            title="Reference features",
            widgets={"size": 512},
            links={"models": (1, 0), "reference": (2, 0)},
        ),
        Node(
            i + 3,
            "MotionEncode",
            (x0, 490),
            (330, 90),
            title="Motion",
            links={"models": (1, 0), "reference": (2, 0), "driving": driving, "keypoints": (i, 0)},
        ),
        Node(
            i + 4,
            "PersonaLiveSampler4Step",
            (x0 + 380, 40),
            (330, 180),
            title="Sampler",
            widgets={"seed": 42, "+control": "fixed", "include_lead_in": False, "preview": True},
            links={"models": (1, 0), "reference": (i + 2, 0), "pose_maps": (i + 1, 0), "motion": (i + 3, 0)},
        ),
        Node(
            i + 5,
            "ChunkedVAEDecode",
            (x0 + 380, 300),
            (330, 100),
            title="Decode",
            widgets={"chunk_size": 8, "use_tiny": False},
            links={"models": (1, 0), "latent": (i + 4, 0)},
        ),
    ]


def from_video() -> list[Node]:
    chain = personalive_chain(driving=(4, 0), first_id=5, x0=400)
    return [
        chain[0],
        Node(
            2,
            "LoadImage",
            (20, 200),
            (330, 330),
            title="Reference portrait",
            widgets={"image": REFERENCE_FILE, "+upload": "image"},
        ),
        Node(
            3,
            "LoadVideo",
            (20, 580),
            (330, 300),
            title="Driving video",
            widgets={"file": DRIVING_VIDEO_FILE, "+upload": "image"},
        ),
        Node(4, "GetVideoComponents", (20, 930), (330, 70), links={"video": (3, 0)}),
        *chain[1:],
        Node(
            11,
            "CreateVideo",
            (780, 460),
            (330, 80),
            widgets={"fps": 25.0},
            links={"images": (10, 0), "audio": (4, 1), "fps": (4, 2)},
        ),
        Node(
            12,
            "SaveVideo",
            (1160, 40),
            (420, 480),
            title="Save video",
            widgets={"filename_prefix": "personalive/animated", "format": "auto", "codec": "auto"},
            links={"video": (11, 0)},
        ),
    ]


def from_image() -> list[Node]:
    chain = personalive_chain(driving=(3, 0), first_id=4, x0=400)
    return [
        chain[0],
        Node(
            2,
            "LoadImage",
            (20, 200),
            (330, 330),
            title="Reference portrait",
            widgets={"image": REFERENCE_FILE, "+upload": "image"},
        ),
        Node(
            3,
            "LoadImage",
            (20, 580),
            (330, 330),
            title="Driving image",
            widgets={"image": DRIVING_IMAGE_FILE, "+upload": "image"},
        ),
        *chain[1:],
        Node(
            10,
            "SaveImage",
            (1160, 40),
            (420, 480),
            title="Save frame",
            widgets={"filename_prefix": "personalive/frame"},
            links={"images": (9, 0)},
        ),
    ]


WORKFLOWS = {
    "personalive_animate_from_video": from_video,
    "personalive_animate_from_image": from_image,
}


def render() -> dict[Path, str]:
    files = {}
    for name, build in WORKFLOWS.items():
        nodes = build()
        files[UI_DIR / f"{name}.json"] = json.dumps(ui_workflow(name, nodes), indent=2) + "\n"
        files[API_DIR / f"{name}.json"] = json.dumps(api_workflow(nodes), indent=2) + "\n"
    return files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for path, text in render().items():
        if not path.is_file() or path.read_text() != text:
            stale.append(path)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    for path in stale:
        print(("stale: " if args.check else "wrote: ") + str(path.relative_to(REPO)))
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
