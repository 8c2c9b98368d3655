"""One frame in, one frame out (the per-frame node's core): after the warm-up steps, step i returns the
offline pipeline's frame i - delay, bit for bit; before, the reference portrait."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from personalive_core.animate import animate_frames
from personalive_core.demo_inputs import draw_face
from personalive_core.errors import InputError
from personalive_core.frames import square_frame
from personalive_core.live.frame_stream import FrameStream
from personalive_core.live.service import MAX_DELAY_FRAMES
from personalive_core.motion_controls import MotionControls

SIZE = 64


@pytest.fixture(scope="module")
def models(tiny_random_weights):
    from personalive_core.loading import load_models

    return load_models(tiny_random_weights, dtype="fp32", device="cpu")


def test_steps_give_the_offline_frames_after_the_delay(models):
    portrait = draw_face(96)
    inputs = [draw_face(96, yaw=np.sin(i / 3), mouth=0.5 + 0.5 * np.sin(i)).resize((120, 96)) for i in range(28)]
    controls = MotionControls(pose_strength=0.6, expression_strength=1.3, smoothing=0.2)
    stream = FrameStream(models, portrait, size=SIZE, seed=9, controls=controls)
    steps = [stream.step(picture) for picture in inputs]
    delay = stream.delay
    assert delay is not None and 0 < delay <= MAX_DELAY_FRAMES
    assert [animated for _, animated in steps] == [False] * delay + [True] * (len(inputs) - delay)
    placeholder = steps[0][0]
    assert placeholder.shape == (SIZE, SIZE, 3) and all(torch.equal(f, placeholder) for f, _ in steps[:delay])
    offline = torch.cat(list(animate_frames(models, portrait, [square_frame(f, SIZE) for f in inputs], size=SIZE,
                                            seed=9, controls=controls)))
    out = torch.stack([f for f, _ in steps[delay:]])
    assert out.shape == (len(inputs) - delay, SIZE, SIZE, 3)
    assert torch.equal(out, offline[:len(inputs) - delay])


def test_a_bad_portrait_or_size_is_refused_clearly(models):
    from PIL import Image

    with pytest.raises(InputError, match="at least 32x32"):
        FrameStream(models, Image.new("RGB", (8, 8)), size=SIZE)
    with pytest.raises(InputError, match="size"):
        FrameStream(models, draw_face(96), size=100)
