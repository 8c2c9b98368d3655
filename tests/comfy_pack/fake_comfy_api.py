"""A stand-in for the part of ComfyUI's V3 node API (`comfy_api.v0_0_2`: `io`, `ComfyExtension`) the pack uses.

Like fakes.py it lets the node unit tests run without the ComfyUI runtime. It describes nodes the way
ComfyUI 0.3.75 and 0.30.0 do: `INPUT_TYPES()` and the RETURN_* attributes give what /object_info shows
(combos as ("COMBO", {"options": ...}), widget options without None values, hidden inputs by name), and
`PREPARE_CLASS_CLONE` fills `cls.hidden` as the executor does. The server tests compare these schemas
with a real server's /object_info (test_server_comfyui.py), so this stand-in cannot drift unnoticed.
"""

from __future__ import annotations

import enum
import types
from typing import Any


def _pruned(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


class Hidden(str, enum.Enum):
    unique_id = "UNIQUE_ID"
    prompt = "PROMPT"
    extra_pnginfo = "EXTRA_PNGINFO"
    dynprompt = "DYNPROMPT"


class HiddenHolder:
    def __init__(self, values: dict):
        self.unique_id = values.get(Hidden.unique_id)
        self.prompt = values.get(Hidden.prompt)


class _Input:
    io_type = None

    def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, default=None, **options):
        self.id, self.optional = id, optional
        self.options = _pruned(dict(display_name=display_name, tooltip=tooltip, lazy=lazy, default=default))
        self.options |= _pruned(options)

    def v1(self) -> tuple:
        return (self.io_type, self.options)


class _Output:
    io_type = None

    def __init__(self, id=None, display_name=None, tooltip=None, is_output_list=False):
        self.id, self.display_name, self.tooltip, self.is_output_list = id, display_name, tooltip, is_output_list


def _socket(io_type: str, input_base=_Input, **extra):
    return types.SimpleNamespace(
        io_type=io_type,
        Input=type("Input", (input_base,), {"io_type": io_type, **extra}),
        Output=type("Output", (_Output,), {"io_type": io_type}),
    )


class _NumberInput(_Input):
    def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, default=None, min=None,
                 max=None, step=None, control_after_generate=None, display_mode=None, round=None):
        super().__init__(id, display_name, optional, tooltip, lazy, default, min=min, max=max, step=step,
                         control_after_generate=control_after_generate, round=round,
                         display=getattr(display_mode, "value", display_mode))


class _StringInput(_Input):
    def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, multiline=False,
                 placeholder=None, default=None):
        super().__init__(id, display_name, optional, tooltip, lazy, default, multiline=multiline,
                         placeholder=placeholder)


class _ComboInput(_Input):
    def __init__(self, id, options=None, display_name=None, optional=False, tooltip=None, lazy=None, default=None):
        super().__init__(id, display_name, optional, tooltip, lazy, default, multiselect=False, options=options)


def Custom(io_type: str):
    return _socket(io_type)


class Schema:
    def __init__(self, node_id, display_name=None, category="sd", inputs=None, outputs=None, hidden=None,
                 description="", is_output_node=False, not_idempotent=False, **_flags):
        self.node_id, self.display_name, self.category = node_id, display_name, category
        self.inputs, self.outputs, self.hidden = inputs or [], outputs or [], hidden or []
        self.description, self.is_output_node, self.not_idempotent = description, is_output_node, not_idempotent


class NodeOutput:
    def __init__(self, *args, ui=None):
        self.args, self.ui = args, ui

    @property
    def result(self):
        return self.args or None

    def __getitem__(self, index) -> Any:
        return self.args[index]


class _SchemaAttribute:
    """A class attribute computed from the node's schema (RETURN_TYPES and friends)."""

    def __init__(self, read):
        self.read = read

    def __get__(self, obj, cls):
        return self.read(cls.define_schema())


class ComfyNode:
    hidden: HiddenHolder = HiddenHolder({})

    @classmethod
    def define_schema(cls) -> Schema:
        raise NotImplementedError

    @classmethod
    def execute(cls, **kwargs) -> NodeOutput:
        raise NotImplementedError

    @classmethod
    def GET_SCHEMA(cls) -> Schema:
        return cls.define_schema()

    @classmethod
    def INPUT_TYPES(cls, include_hidden=True) -> dict:
        schema = cls.define_schema()
        spec: dict = {"required": {}}
        for i in schema.inputs:
            spec.setdefault("optional" if i.optional else "required", {})[i.id] = i.v1()
        if include_hidden and schema.hidden:
            spec["hidden"] = {h.name: (h.value,) for h in schema.hidden}
        return spec

    RETURN_TYPES = _SchemaAttribute(lambda s: tuple(o.io_type for o in s.outputs))
    RETURN_NAMES = _SchemaAttribute(lambda s: tuple(o.display_name or o.io_type for o in s.outputs))
    OUTPUT_TOOLTIPS = _SchemaAttribute(lambda s: tuple(o.tooltip for o in s.outputs))
    DESCRIPTION = _SchemaAttribute(lambda s: s.description)
    CATEGORY = _SchemaAttribute(lambda s: s.category)
    NOT_IDEMPOTENT = _SchemaAttribute(lambda s: s.not_idempotent)

    @classmethod
    def PREPARE_CLASS_CLONE(cls, hidden_inputs: dict):
        """A subclass carrying the hidden inputs, as ComfyUI's executor makes for every execution."""
        return type(f"{cls.__name__}Clone", (cls,), {"hidden": HiddenHolder(hidden_inputs)})


class ComfyExtension:
    async def on_load(self) -> None:
        pass

    async def get_node_list(self) -> list[type[ComfyNode]]:
        raise NotImplementedError


io = types.SimpleNamespace(
    ComfyNode=ComfyNode,
    Schema=Schema,
    NodeOutput=NodeOutput,
    Hidden=Hidden,
    Custom=Custom,
    Int=_socket("INT", _NumberInput),
    Float=_socket("FLOAT", _NumberInput),
    String=_socket("STRING", _StringInput),
    Boolean=_socket("BOOLEAN"),
    Combo=_socket("COMBO", _ComboInput),
    Image=_socket("IMAGE"),
    Latent=_socket("LATENT"),
)
