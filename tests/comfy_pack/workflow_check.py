"""Independent checks of the shipped workflows: convert a UI-format workflow to the API format the way
the frontend does (widgets_values in schema order) and check API graphs against node schemas given in
/object_info format ({class: {"input": {"required": {...}, "optional": {...}}, "output": [...]}})."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / "workflows"
API_WORKFLOWS = WORKFLOWS / "api"
PRIMITIVES = {"INT", "FLOAT", "STRING", "BOOLEAN"}
UPLOAD_FLAGS = ("image_upload", "video_upload", "audio_upload")

# The pack's node IDs: stable, API workflows reference them.
NODE_IDS = [
    "LoadPersonaLiveModels",
    "ExtractLivePortraitKeypoints",
    "RenderPoseMap",
    "EncodeReference",
    "MotionEncode",
    "PersonaLiveSampler4Step",
    "ChunkedVAEDecode",
    "PersonaLiveFaceCrop",
    "PersonaLivePasteBack",
    "PersonaLiveFrameByFrame",
]


def ui_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.json"))


def api_files() -> list[Path]:
    return sorted(API_WORKFLOWS.glob("*.json"))


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def schema_of_class(cls) -> dict:
    """The /object_info shape of a V1 node class (inputs and output types only)."""
    return {"input": cls.INPUT_TYPES(), "output": list(cls.RETURN_TYPES)}


def _inputs(schema: dict):
    """(section, name, spec) in declaration order (object_info's input_order when given)."""
    order = schema.get("input_order", {})
    for section in ("required", "optional"):
        specs = schema["input"].get(section, {})
        for name in order.get(section, list(specs)):
            yield section, name, specs[name]


DYNAMIC_COMBO = "COMFY_DYNAMICCOMBO_V3"  # ComfyUI 0.30's combo whose choice can bring more inputs (SaveVideo.codec)


def _kind(spec) -> str:
    t = spec[0]
    return "COMBO" if isinstance(t, list) or t == DYNAMIC_COMBO else t


def _options(spec) -> dict:
    return spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}


def _combo_values(spec) -> list | None:
    if isinstance(spec[0], list):
        return spec[0]
    if spec[0] == "COMBO":
        return _options(spec).get("options")
    if spec[0] == DYNAMIC_COMBO:  # only choices that bring no further inputs are supported here
        return [o["key"] for o in _options(spec).get("options", []) if not o.get("inputs", {}).get("required")]
    return None


def is_widget(spec) -> bool:
    return _kind(spec) in PRIMITIVES | {"COMBO"} and not _options(spec).get("forceInput")


def extra_widget_values(name: str, spec) -> int:
    """Values the frontend stores after a widget's own: control_after_generate, an upload button."""
    opts = _options(spec)
    extra = 0
    if _kind(spec) == "INT" and (opts.get("control_after_generate") or name in ("seed", "noise_seed")):
        extra += 1
    if any(opts.get(flag) for flag in UPLOAD_FLAGS):
        extra += 1
    return extra


def ui_to_api(ui: dict, schemas: dict) -> dict:
    """The API graph the frontend would queue for a UI workflow (without _meta)."""
    links = {link[0]: link for link in ui["links"]}
    prompt = {}
    for node in ui["nodes"]:
        if node.get("mode", 0) in (2, 4):  # muted / bypassed
            continue
        schema = schemas[node["type"]]
        linked = {i["name"]: links[i["link"]] for i in node.get("inputs", []) if i.get("link") is not None}
        values = list(node.get("widgets_values", []))
        inputs = {}
        for section, name, spec in _inputs(schema):
            if is_widget(spec):
                if not values and section == "optional" and "default" in _options(spec):
                    values = [_options(spec)["default"]]  # a widget newer than the saved graph starts at its default
                if not values:
                    raise AssertionError(f"node {node['id']} ({node['type']}): no widget value for '{name}'")
                value = values.pop(0)
                del values[: extra_widget_values(name, spec)]
                if name not in linked:
                    inputs[name] = value
            if name in linked:
                link = linked[name]
                inputs[name] = [str(link[1]), link[2]]
        if values:
            raise AssertionError(
                f"node {node['id']} ({node['type']}): {len(values)} widget value(s) left over: {values}"
            )
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return prompt


def without_unset_defaults(prompt: dict, reference: dict, schemas: dict) -> dict:
    """`prompt` less the optional inputs that `reference` (the same graph) leaves out and that hold their schema
    default: a newer ComfyUI's frontend writes such an input into the prompt, and it changes nothing."""
    out = {}
    for node_id, node in prompt.items():
        specs = {name: (section, spec) for section, name, spec in _inputs(schemas[node["class_type"]])}
        kept = reference.get(node_id, {}).get("inputs", {})
        inputs = {
            name: value for name, value in node["inputs"].items()
            if name in kept or specs.get(name, ("", ()))[0] != "optional" or _options(specs[name][1]).get("default") != value
        }
        out[node_id] = {**node, "inputs": inputs}
    return out


def core_schema_changes(snapshot: dict, live: dict) -> list[str]:
    """What of a core node's recorded schema (what the shipped workflows were built against) a live ComfyUI
    changed in a way that matters to them: an input gone or retyped, a new required input, an output gone or
    retyped. New optional inputs and outputs appended after the recorded ones do not matter."""
    problems = []
    recorded = {name: (section, spec) for section, name, spec in _inputs(snapshot)}
    current = {name: (section, spec) for section, name, spec in _inputs(live)}
    for name, (section, spec) in recorded.items():
        if name not in current:
            problems.append(f"input '{name}' is gone")
        elif _kind(current[name][1]) != _kind(spec):
            problems.append(f"input '{name}' is now {_kind(current[name][1])}, was {_kind(spec)}")
        elif current[name][0] == "required" and section != "required":
            problems.append(f"input '{name}' became required")
    problems += [f"new required input '{name}'" for name, (section, _) in current.items()
                 if name not in recorded and section == "required"]
    if live["output"][: len(snapshot["output"])] != snapshot["output"]:
        problems.append(f"outputs {live['output']} no longer start with {snapshot['output']}")
    return problems


def strip_meta(prompt: dict) -> dict:
    return {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in prompt.items()}


def schema_problems(prompt: dict, schemas: dict, check_file_combos: bool = False) -> list[str]:
    """Every way an API graph disagrees with the node schemas (unknown inputs, missing required ones,
    link type mismatches, values outside a combo or a range)."""
    problems = []
    for node_id, node in prompt.items():
        cls = node["class_type"]
        if cls not in schemas:
            problems.append(f"{node_id}: unknown node type {cls}")
            continue
        schema = schemas[cls]
        specs = {name: (section, spec) for section, name, spec in _inputs(schema)}
        for name in node["inputs"]:
            if name not in specs:
                problems.append(f"{node_id} {cls}: input '{name}' is not in the schema")
        for name, (section, spec) in specs.items():
            if name not in node["inputs"]:
                if section == "required":
                    problems.append(f"{node_id} {cls}: required input '{name}' missing")
                continue
            value = node["inputs"][name]
            if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
                src = prompt.get(value[0])
                if src is None:
                    problems.append(f"{node_id} {cls}.{name}: links to missing node {value[0]}")
                    continue
                out_types = schemas[src["class_type"]]["output"]
                if value[1] >= len(out_types):
                    problems.append(
                        f"{node_id} {cls}.{name}: output slot {value[1]} of {src['class_type']} does not exist"
                    )
                elif _kind(spec) != "*" and out_types[value[1]] != _kind(spec):
                    problems.append(f"{node_id} {cls}.{name}: gets {out_types[value[1]]} but wants {_kind(spec)}")
                continue
            kind, opts = _kind(spec), _options(spec)
            combo = _combo_values(spec)
            if combo is not None and (combo or check_file_combos) and value not in combo:
                problems.append(f"{node_id} {cls}.{name}: {value!r} not in {combo}")
            if kind in ("INT", "FLOAT"):
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    problems.append(f"{node_id} {cls}.{name}: {value!r} is not a number")
                elif ("min" in opts and value < opts["min"]) or ("max" in opts and value > opts["max"]):
                    problems.append(f"{node_id} {cls}.{name}: {value} outside [{opts.get('min')}, {opts.get('max')}]")
            if kind == "BOOLEAN" and not isinstance(value, bool):
                problems.append(f"{node_id} {cls}.{name}: {value!r} is not a boolean")
    return problems
