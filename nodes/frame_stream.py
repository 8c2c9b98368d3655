"""PersonaLiveFrameByFrame: one camera frame per execution, for per-frame runners such as comfystream."""

from __future__ import annotations

import hashlib

import torch
from comfy_api.v0_0_2 import io

from personalive_core.frames import image_to_pil
from personalive_core.live.frame_stream import FrameStream
from personalive_core.motion_controls import MotionControls

from .common import (
    CATEGORY,
    SizeWidget,
    check_interrupt,
    first_picture,
    models_input,
    node_errors,
    size_input,
    to_intermediate,
)
from .control_inputs import expression_strength_input, motion_mode_input, pose_strength_input, smoothing_input


class PersonaLiveFrameByFrame(SizeWidget, io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="PersonaLiveFrameByFrame",
            display_name="Frame by Frame (PersonaLive live, one frame per run)",
            category=CATEGORY,
            description="Animates a stream one frame per execution, for runners that execute the graph once per "
            "camera frame (comfystream and the like). The stream's state stays between executions, kept per "
            "session_id; it restarts when the session id, the reference or an option changes, and is released by "
            "Unload Models or /free. Until the first window is out (about 16 frames) the reference itself is "
            "returned.",
            inputs=[
                models_input(),
                io.Image.Input("reference", tooltip="The portrait to animate (its first image)."),
                io.Image.Input("frame", tooltip="This execution's camera frame (a batch is fed frame by frame)."),
                io.String.Input(
                    "session_id",
                    default="live",
                    tooltip="Names the stream. Executions with the same id continue it; a new id starts a fresh one "
                    "and releases the old.",
                ),
                size_input(),
                io.Int.Input("seed", default=42, min=0, max=0xFFFFFFFFFFFFFFFF,
                             tooltip="Seed of the stream's noise; changing it restarts the stream."),
                pose_strength_input(),
                expression_strength_input(),
                motion_mode_input("the stream's first frame counts as neutral."),
                smoothing_input(),
            ],
            outputs=[
                io.Image.Output(
                    display_name="frame",
                    tooltip="One output frame per input frame, at the working size: the frame the stream has just "
                    "finished (it answers the input of about 16 executions ago), or the reference while the stream "
                    "warms up.",
                ),
                io.Boolean.Output(
                    display_name="animated",
                    tooltip="False while the stream warms up and the reference is returned instead of an animated "
                    "frame.",
                ),
            ],
            hidden=[io.Hidden.unique_id],
            not_idempotent=True,  # stateful: two such nodes with equal inputs must each run, never share a result
        )

    @classmethod
    def fingerprint_inputs(cls, **kwargs):
        return float("nan")  # never equal to the last run: every execution consumes a new frame

    @classmethod
    @node_errors
    def execute(cls, models, reference, frame, session_id: str, size: int = 512, seed: int = 42,
                pose_strength: float = 1.0, expression_strength: float = 1.0, motion_mode: str = "absolute",
                smoothing: float = 0.0):
        controls = MotionControls(pose_strength, expression_strength, motion_mode, smoothing)
        portrait = first_picture(reference, "reference")
        frames = frame if frame.ndim == 4 else frame[None]
        core_models = models.on_device()
        check_interrupt()
        node_id = cls.hidden.unique_id  # one stream per node of the graph
        key = (session_id, _fingerprint(reference[0]), size, seed, controls)
        held = models.states.get(("frame_by_frame", node_id))
        if held is None or held[0] != key:
            models.states.pop(("frame_by_frame", node_id), None)  # let go of the old stream first
            held = (key, FrameStream(core_models, portrait, size=size, seed=seed, controls=controls))
            models.states[("frame_by_frame", node_id)] = held
        stream = held[1]
        out, animated = [], True
        for image in frames:
            picture, done = stream.step(image_to_pil(image))
            out.append(picture)
            animated = animated and done
        return io.NodeOutput(to_intermediate(torch.stack(out)), animated)


def _fingerprint(image: torch.Tensor) -> str:
    """Identifies a reference picture by its pixels (a changed picture restarts the stream)."""
    return hashlib.sha1(image.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()).hexdigest()
