"""The seven nodes chained on the real core (tiny random weights, CPU), still without a server: odd image
sizes in, every output's shape and range checked."""

from __future__ import annotations

import torch

from .conftest import TEST_SIZE
from .fakes import node_classes


def test_node_chain_on_the_real_core(pack, real_models, weights_dir, rec):
    nodes = node_classes(pack)
    loader = node_classes(pack)["LoadPersonaLiveModels"]
    assert loader.validate_inputs(weights_folder=weights_dir.name, auto_download=False) is True
    gen = torch.Generator().manual_seed(0)
    reference = torch.rand(1, 80, 72, 3, generator=gen)
    driving = torch.rand(5, 96, 128, 3, generator=gen)
    kps = nodes["ExtractLivePortraitKeypoints"].execute(real_models, reference, driving, "keypoints", TEST_SIZE)[0]
    assert kps.num_frames == 5
    maps = nodes["RenderPoseMap"].execute(kps, True)[0]
    assert maps.shape == (12 + 5, TEST_SIZE, TEST_SIZE, 3) and 0 <= maps.min() and maps.max() <= 1
    assert nodes["RenderPoseMap"].execute(kps, False)[0].shape[0] == 5
    ref = nodes["EncodeReference"].execute(real_models, reference, TEST_SIZE)[0]
    motion = nodes["MotionEncode"].execute(real_models, reference, driving, kps)[0]
    assert motion.num_frames == 5
    rec.reset()
    latent = nodes["PersonaLiveSampler4Step"].execute(real_models, ref, maps, motion, 3, False, True)[0]
    assert latent["samples"].shape == (5, 4, TEST_SIZE // 8, TEST_SIZE // 8)
    windows = [p for p in rec.progress]
    assert windows[0][0] == 1 and windows[-1][0] == windows[-1][1]  # per window, ending at 100 %
    assert windows[0][2][0] == "JPEG"  # a preview of the first window
    images = nodes["ChunkedVAEDecode"].execute(real_models, latent, 2, False)[0]
    assert images.shape == (5, TEST_SIZE, TEST_SIZE, 3) and images.dtype == torch.float32
    assert 0 <= images.min() and images.max() <= 1


def test_frame_by_frame_node_gives_the_offline_frames_after_the_delay(pack, real_models):
    """comfystream-style use: one execution per camera frame, state kept per session id; a new session id
    or Unload Models / POST /free (ComfyUI then detaches the models) starts afresh."""
    import sys

    import numpy as np

    from personalive_core.animate import animate_frames
    from personalive_core.demo_inputs import draw_face
    from personalive_core.frames import image_to_pil, square_frame
    from personalive_core.motion_controls import MotionControls

    frame_by_frame = node_classes(pack)["PersonaLiveFrameByFrame"]
    assert np.isnan(frame_by_frame.fingerprint_inputs()) and frame_by_frame.NOT_IDEMPOTENT  # re-run every time
    step = frame_by_frame.PREPARE_CLASS_CLONE({"UNIQUE_ID": "7"}).execute  # as ComfyUI runs node "7"
    as_image = lambda picture: torch.from_numpy(np.asarray(picture, np.float32) / 255.0)[None]  # noqa: E731
    reference = as_image(draw_face(96))
    camera = [as_image(draw_face(96, yaw=0.6 * np.sin(i / 3), mouth=0.5 + 0.5 * np.sin(i))) for i in range(20)]
    kwargs = dict(size=TEST_SIZE, seed=4, pose_strength=0.8)
    runs = [step(real_models, reference, frame, "cam-1", **kwargs) for frame in camera]
    flags = [animated for _, animated in runs]
    delay = flags.index(True)
    assert 0 < delay and all(flags[delay:]) and len(flags) - delay >= 4
    assert all(out.shape == (1, TEST_SIZE, TEST_SIZE, 3) for out, _ in runs)
    offline = torch.cat(list(animate_frames(
        real_models.models, image_to_pil(reference[0]), [square_frame(image_to_pil(f[0]), TEST_SIZE) for f in camera],
        size=TEST_SIZE, seed=4, controls=MotionControls(pose_strength=0.8))))
    assert torch.equal(torch.cat([out for out, _ in runs[delay:]]), offline[:len(camera) - delay])
    # Same session: continues. Another session id: a fresh stream (warming up again), the old one released.
    assert step(real_models, reference, camera[0], "cam-1", **kwargs)[1] is True
    assert step(real_models, reference, camera[0], "cam-2", **kwargs)[1] is False
    assert [key for key in real_models.states] == [("frame_by_frame", "7")]
    step(real_models, reference, camera[1], "cam-2", **kwargs)
    sys.modules["comfy.model_management"].unload_all_models()  # what Unload Models / POST /free do
    assert real_models.states == {}
    out, animated = step(real_models, reference, camera[2], "cam-2", **kwargs)
    assert animated is False and torch.equal(out, runs[0][0])
