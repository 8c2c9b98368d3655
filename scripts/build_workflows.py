"""Write the shipped workflows: UI format (workflows/*.json, what ComfyUI's template browser and
drag-and-drop load) and API format (workflows/api/*.json, for POST /prompt and `python -m
personalive_core queue`).

    python scripts/build_workflows.py          # rewrite both folders
    python scripts/build_workflows.py --check  # exit 1 if the files differ from what this would write

The graphs below only say which node feeds which input, where each node sits, its title and the few
widget values a template sets. Everything else (the order, type and default of every widget, every
socket and its type) is read from the nodes' own schemas:
- this pack's nodes: their V3 schemas as `INPUT_TYPES()`, `RETURN_TYPES` and `RETURN_NAMES` show them, with the pack
  imported the way ComfyUI imports it, against the fake ComfyUI modules of tests/comfy_pack/fakes.py;
- ComfyUI's core nodes (LoadImage, LoadVideo, GetVideoComponents, CreateVideo, SaveVideo, SaveImage),
  which cannot be imported without ComfyUI: the /object_info entries recorded from ComfyUI 0.3.75 in
  tests/comfy_pack/data/core_object_info.json (test_server_comfyui.py checks them against a live server).
Node ids are given in the order nodes are added, link ids in the order of the inputs they feed.
tests/comfy_pack/test_workflows.py checks independently that every UI/API pair describes the same graph.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import uuid
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]
UI_DIR = REPO / "workflows"
API_DIR = UI_DIR / "api"
CORE_SCHEMAS = REPO / "tests" / "comfy_pack" / "data" / "core_object_info.json"

REFERENCE_FILE = "personalive_reference.png"
DRIVING_VIDEO_FILE = "personalive_driving.mp4"
DRIVING_IMAGE_FILE = "personalive_driving.png"
PICTURE_FILE = "personalive_picture.png"

PRIMITIVES = {"INT", "FLOAT", "STRING", "BOOLEAN"}
SEED_CONTROL = "fixed"  # control_after_generate of a seed: the template gives the same animation every time
UPLOAD_VALUE = "image"  # what the frontend stores for an upload button after the file name


def pack_schemas() -> dict:
    """/object_info-shaped schemas of this pack's nodes, read from the classes."""
    sys.path.insert(0, str(REPO))
    spec = importlib.util.spec_from_file_location("fakes", REPO / "tests" / "comfy_pack" / "fakes.py")
    fakes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fakes)
    with tempfile.TemporaryDirectory() as models, fakes.loaded_pack(REPO, Path(models), fakes.Recorder()) as pack:
        schemas = {}
        for name, cls in fakes.node_classes(pack).items():
            inputs = cls.INPUT_TYPES()
            schemas[name] = {
                "input": inputs,
                "input_order": {section: list(specs) for section, specs in inputs.items()},
                "output": list(cls.RETURN_TYPES),
                "output_name": list(cls.RETURN_NAMES),
            }
        return schemas


class Socket(NamedTuple):
    name: str
    kind: str
    optional: bool


class Widget(NamedTuple):
    name: str
    kind: str  # INT, FLOAT, STRING, BOOLEAN or COMBO
    options: dict
    choices: list  # of a combo


class Node:
    """One node of a graph: its schema's inputs split into sockets and widgets."""

    def __init__(self, node_id: int, schema: dict, type_: str, pos, size, title, values: dict, links: dict):
        self.id, self.type, self.pos, self.size, self.title = node_id, type_, pos, size, title
        self.outputs = list(zip(schema.get("output_name", schema["output"]), schema["output"]))
        self.sockets: list[Socket] = []
        self.widgets: list[Widget] = []
        for section in ("required", "optional"):
            specs = schema["input"].get(section, {})
            for name in schema.get("input_order", {}).get(section, list(specs)):
                first, options = specs[name][0], (specs[name][1] if len(specs[name]) > 1 else {})
                kind = "COMBO" if isinstance(first, list) else first
                if kind in PRIMITIVES | {"COMBO"} and not options.get("forceInput"):
                    choices = first if isinstance(first, list) else options.get("options", [])
                    self.widgets.append(Widget(name, kind, options, choices))
                else:
                    self.sockets.append(Socket(name, kind, section == "optional"))
        unknown = (set(values) | set(links)) - {i.name for i in self.sockets + self.widgets}
        if unknown:
            raise KeyError(f"{type_} has no input(s) {sorted(unknown)}")
        self.values = {w.name: values[w.name] if w.name in values else default_of(w) for w in self.widgets}
        self.links = links  # input name -> (node, output slot)

    def out(self, name: str | None = None) -> tuple[Node, int]:
        """An output socket by name (the first one when None), to link to another node's input."""
        return self, 0 if name is None else [n for n, _ in self.outputs].index(name)

    def input_slots(self) -> list[tuple[str, str, bool, bool]]:
        """(name, type, optional, is_widget) of every input slot the UI shows, in slot order: the sockets,
        then the widgets fed by a link."""
        slots = [(i.name, i.kind, i.optional, False) for i in self.sockets]
        return slots + [(w.name, w.kind, False, True) for w in self.widgets if w.name in self.links]


def default_of(widget: Widget) -> object:
    if "default" in widget.options:
        return widget.options["default"]
    if widget.kind == "COMBO":
        if widget.choices:
            return widget.choices[0]
        raise ValueError(f"widget {widget.name!r} has no choices: the template must set it")
    return {"INT": 0, "FLOAT": 0.0, "STRING": "", "BOOLEAN": False}[widget.kind]


class Graph:
    def __init__(self, schemas: dict):
        self.schemas, self.nodes = schemas, []

    def add(self, type_: str, pos, size, title: str | None = None, values: dict | None = None, **links) -> Node:
        """A node; `links` map input names to a Node (its first output) or `node.out(name)`."""
        links = {k: v if isinstance(v, tuple) else v.out() for k, v in links.items()}
        node = Node(len(self.nodes) + 1, self.schemas[type_], type_, pos, size, title, values or {}, links)
        self.nodes.append(node)
        return node

    def links(self) -> list[list]:
        """[link id, source id, source slot, target id, target slot, type] in the order inputs are fed."""
        rows = []
        for node in self.nodes:
            for slot, (name, *_rest) in enumerate(node.input_slots()):
                if name in node.links:
                    src, src_slot = node.links[name]
                    rows.append([len(rows) + 1, src.id, src_slot, node.id, slot, src.outputs[src_slot][1]])
        return rows

    def ui(self, name: str) -> dict:
        links = self.links()
        ui_nodes = []
        for order, node in enumerate(self.nodes):
            feeding = {row[4]: row[0] for row in links if row[3] == node.id}
            inputs = []
            for slot, (input_name, kind, optional, is_widget) in enumerate(node.input_slots()):
                entry = {"name": input_name, "type": kind}
                if is_widget:
                    entry["widget"] = {"name": input_name}
                entry["link"] = feeding.get(slot)
                if optional:
                    entry["shape"] = 7
                inputs.append(entry)
            outputs = [
                {"name": out_name, "type": out_type, "slot_index": slot,
                 "links": [row[0] for row in links if row[1] == node.id and row[2] == slot] or None}
                for slot, (out_name, out_type) in enumerate(node.outputs)
            ]
            ui = {"id": node.id, "type": node.type, "pos": list(node.pos), "size": list(node.size), "flags": {},
                  "order": order, "mode": 0, "inputs": inputs, "outputs": outputs,
                  "properties": {"Node name for S&R": node.type}}
            if node.title:
                ui["title"] = node.title
            if node.widgets:
                ui["widgets_values"] = [v for w in node.widgets for v in widget_values(w, node.values[w.name])]
            ui_nodes.append(ui)
        return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"personalive/{name}")), "revision": 0,
                "last_node_id": max(n.id for n in self.nodes), "last_link_id": len(links), "nodes": ui_nodes,
                "links": links, "groups": [], "config": {}, "extra": {"ds": {"scale": 0.75, "offset": [40, 40]}},
                "version": 0.4}

    def api(self) -> dict:
        prompt = {}
        for node in self.nodes:
            inputs = {w.name: node.values[w.name] for w in node.widgets if w.name not in node.links}
            for input_name, *_rest in node.input_slots():
                if input_name in node.links:
                    src, slot = node.links[input_name]
                    inputs[input_name] = [str(src.id), slot]
            prompt[str(node.id)] = {"class_type": node.type, "inputs": inputs,
                                    "_meta": {"title": node.title or node.type}}
        return prompt


def widget_values(widget: Widget, value) -> list:
    """The widget's value plus what the frontend stores after it (seed control, upload button)."""
    extra = [SEED_CONTROL] if widget.kind == "INT" and widget.options.get("control_after_generate") else []
    if any(widget.options.get(flag) for flag in ("image_upload", "video_upload")):
        extra.append(UPLOAD_VALUE)
    return [value, *extra]


def personalive_chain(g: Graph, models: Node, reference, driving, x0: int = 400, controls: dict | None = None,
                      expression: dict | None = None) -> Node:
    """Keypoints, pose maps, reference, motion, sampler, decode; returns the decode node. `controls` and
    `expression` set the motion controls' widgets (keypoint node and motion node)."""
    kps = g.add("ExtractLivePortraitKeypoints", (x0, 40), (330, 120), "Keypoints", values=controls or {},
                models=models, reference=reference, driving=driving)
    maps = g.add("RenderPoseMap", (x0, 230), (330, 60), "Pose maps", keypoints=kps)
    ref = g.add("EncodeReference", (x0, 350), (330, 80), "Reference features", models=models, reference=reference)
    motion = g.add("MotionEncode", (x0, 490), (330, 90), "Motion", values=expression or {},
                   models=models, reference=reference, driving=driving, keypoints=kps)
    latent = g.add("PersonaLiveSampler4Step", (x0 + 380, 40), (330, 180), "Sampler", values={"seed": 42},
                   models=models, reference=ref, pose_maps=maps, motion=motion)
    return g.add("ChunkedVAEDecode", (x0 + 380, 300), (330, 100), "Decode", models=models, latent=latent)


def models_and_reference(g: Graph) -> tuple[Node, Node]:
    models = g.add("LoadPersonaLiveModels", (20, 40), (330, 110), "PersonaLive models")
    reference = g.add("LoadImage", (20, 200), (330, 330), "Reference portrait", values={"image": REFERENCE_FILE})
    return models, reference


def from_video(g: Graph) -> None:
    models, reference = models_and_reference(g)
    video = g.add("LoadVideo", (20, 580), (330, 300), "Driving video", values={"file": DRIVING_VIDEO_FILE})
    parts = g.add("GetVideoComponents", (20, 930), (330, 70), video=video)
    decoded = personalive_chain(g, models, reference, parts.out("images"))
    clip = g.add("CreateVideo", (780, 460), (330, 80), values={"fps": 25.0},
                 images=decoded, audio=parts.out("audio"), fps=parts.out("fps"))
    g.add("SaveVideo", (1160, 40), (420, 480), "Save video", values={"filename_prefix": "personalive/animated"},
          video=clip)


def from_image(g: Graph) -> None:
    models, reference = models_and_reference(g)
    driving = g.add("LoadImage", (20, 580), (330, 330), "Driving image", values={"image": DRIVING_IMAGE_FILE})
    decoded = personalive_chain(g, models, reference, driving)
    g.add("SaveImage", (1160, 40), (420, 480), "Save frame", values={"filename_prefix": "personalive/frame"},
          images=decoded)


def paste_back_from_video(g: Graph) -> None:
    """A half/full-body picture: animate the face square with softened, relative motion, paste it back."""
    models = g.add("LoadPersonaLiveModels", (20, 40), (330, 110), "PersonaLive models")
    picture = g.add("LoadImage", (20, 200), (330, 330), "Picture (half or full body)", values={"image": PICTURE_FILE})
    crop = g.add("PersonaLiveFaceCrop", (20, 580), (330, 200), "Face crop", picture=picture)
    video = g.add("LoadVideo", (20, 830), (330, 300), "Driving video", values={"file": DRIVING_VIDEO_FILE})
    parts = g.add("GetVideoComponents", (20, 1180), (330, 70), video=video)
    controls = {"pose_strength": 0.8, "motion_mode": "relative", "smoothing": 0.3}
    decoded = personalive_chain(g, models, crop.out("face"), parts.out("images"), controls=controls,
                                expression={"expression_strength": 1.2})
    pasted = g.add("PersonaLivePasteBack", (780, 460), (330, 120), "Paste back",
                   picture=picture, frames=decoded, crop=crop.out("crop"))
    clip = g.add("CreateVideo", (780, 640), (330, 80), values={"fps": 25.0},
                 images=pasted, audio=parts.out("audio"), fps=parts.out("fps"))
    g.add("SaveVideo", (1160, 40), (420, 480), "Save video", values={"filename_prefix": "personalive/pasted"},
          video=clip)


WORKFLOWS = {
    "personalive_animate_from_video": from_video,
    "personalive_animate_from_image": from_image,
    "personalive_paste_back_from_video": paste_back_from_video,
}


def render() -> dict[Path, str]:
    schemas = {**json.loads(CORE_SCHEMAS.read_text()), **pack_schemas()}
    files = {}
    for name, build in WORKFLOWS.items():
        graph = Graph(schemas)
        build(graph)
        files[UI_DIR / f"{name}.json"] = json.dumps(graph.ui(name), indent=2) + "\n"
        files[API_DIR / f"{name}.json"] = json.dumps(graph.api(), indent=2) + "\n"
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
