"""Paste-back: a square around the face of a larger picture is animated and pasted back; outside the
square (and on its edge) the picture's pixels are kept exactly; the output has the picture's size."""

from __future__ import annotations

import av
import numpy as np
import pytest
import torch
from PIL import Image

from personalive_core.cli import main
from personalive_core.demo_inputs import write_demo_inputs
from personalive_core.errors import InputError
from personalive_core.paste_back import FaceCrop, PasteBack, crop_around, feather_mask


def _picture(width=200, height=300, seed=0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


def test_the_crop_is_a_square_around_the_face_inside_the_picture():
    assert crop_around((60, 80, 120, 150), 200, 300, scale=2.0) == FaceCrop(20, 45, 140)
    moved = crop_around((60, 80, 120, 150), 200, 300, scale=2.0, offset=(0.0, 0.5))
    assert moved.top == 80 and moved.left == 20  # half a face lower
    edge = crop_around((0, 0, 50, 50), 200, 300, scale=3.0)
    assert (edge.left, edge.top, edge.side) == (0, 0, 150)  # kept inside, not shifted off the picture
    assert crop_around((10, 10, 190, 190), 200, 300, scale=3.0).side == 200  # at most the picture


def test_the_mask_is_zero_on_the_edge_and_one_inside():
    mask = feather_mask(100, feather=0.2)
    assert mask[0].max() == 0 and mask[:, -1].max() == 0 and mask[50, 50] == 1
    assert np.all(np.diff(mask[50, :50]) >= 0)  # rises monotonically towards the centre


def test_pixels_outside_the_square_stay_exactly_the_pictures():
    picture = _picture()
    crop = FaceCrop(20, 45, 140)
    out = (PasteBack(picture, crop)(torch.rand(3, 64, 64, 3)) * 255).round().to(torch.uint8).numpy()
    original = np.asarray(picture)
    outside = np.ones(original.shape[:2], bool)
    outside[crop.top + 1:crop.top + crop.side - 1, crop.left + 1:crop.left + crop.side - 1] = False
    assert out.shape == (3, 300, 200, 3)
    assert all(np.array_equal(frame[outside], original[outside]) for frame in out)
    inside = out[0, crop.top + 70, crop.left + 70]
    assert not np.array_equal(inside, original[crop.top + 70, crop.left + 70])  # the animation is in there


def test_the_seam_is_colour_matched():
    picture = Image.new("RGB", (128, 128), (200, 60, 40))
    crop = FaceCrop(32, 32, 64)
    frames = torch.full((1, 64, 64, 3), 0.1)  # a much darker animation
    out = (PasteBack(picture, crop)(frames) * 255).round().numpy()[0]
    ring = out[33, 40:90]  # just inside the edge, where the blend starts
    assert np.abs(ring - np.array([200, 60, 40])).max() <= 2


def test_animate_paste_back_writes_the_pictures_size(tiny_random_weights, tmp_path):
    portrait, video = write_demo_inputs(tmp_path, size=96, frames=5, fps=10)
    big = Image.new("RGB", (240, 320), (30, 90, 160))
    big.paste(Image.open(portrait), (70, 40))
    big.save(tmp_path / "big.png")
    out = tmp_path / "pasted"
    assert main(["animate", "--reference", str(tmp_path / "big.png"), "--driving", str(video), "--output", str(out),
                 "--tiny-random-weights", "--size", "64", "--paste-back", "--crop-box", "70,40,96"]) == 0
    frames = [np.asarray(Image.open(p)) for p in sorted(out.glob("frame_*.png"))]
    assert len(frames) == 5 and frames[0].shape == (320, 240, 3)
    original = np.asarray(big)
    assert np.array_equal(frames[0][:40], original[:40]) and np.array_equal(frames[0][:, 166:], original[:, 166:])


@pytest.mark.parametrize("extra, message", [
    (("--crop-box", "200,40,96"), "crop box 200,40,96 does not fit the 240x321 picture"),
    (("--crop-box", "70,40,96"), "needs an even width and height"),
])
def test_bad_paste_back_options_are_refused_early(tmp_path, capsys, extra, message):
    portrait, video = write_demo_inputs(tmp_path, size=96, frames=2, fps=10)
    Image.new("RGB", (240, 321)).save(tmp_path / "odd.png")
    assert main(["animate", "--reference", str(tmp_path / "odd.png"), "--driving", str(video), "--output",
                 str(tmp_path / "o.mp4"), "--tiny-random-weights", "--size", "64", "--paste-back", *extra]) == 2
    assert message in capsys.readouterr().err


def test_the_face_is_found_in_a_larger_picture(tmp_path, face_mesh_ready):  # the optional mediapipe extra
    from personalive_core.paste_back import find_face

    portrait, _ = write_demo_inputs(tmp_path, size=96, frames=1)
    big = Image.new("RGB", (480, 640), (30, 90, 160))
    big.paste(Image.open(portrait).resize((192, 192)), (140, 80))
    x0, y0, x1, y1 = find_face(big)
    assert 140 <= x0 < x1 <= 332 and 80 <= y0 < y1 <= 272  # inside the pasted portrait
    assert x1 - x0 > 40  # a face, not a speck


def test_without_a_face_the_message_says_how_to_give_the_square(monkeypatch):
    from personalive_core import face_mesh
    from personalive_core.paste_back import find_face

    def unavailable(*args, **kwargs):
        raise face_mesh.FaceMeshUnavailable("MediaPipe is not installed.")

    monkeypatch.setattr(face_mesh, "face_mesh_boxes", unavailable)
    with pytest.raises(InputError, match=r"not installed\. Or give the face's square yourself \(animate: --crop-box"):
        find_face(_picture())


def test_without_the_model_file_the_message_says_where_it_goes(tmp_path, monkeypatch):
    pytest.importorskip("mediapipe", reason="mediapipe is not installed")
    from personalive_core import face_mesh
    from personalive_core.face_landmarker_file import FaceLandmarkerModel
    from personalive_core.paste_back import find_face

    if "tasks" not in face_mesh.installed_backends():
        pytest.skip("the installed mediapipe has no Tasks face landmarker")
    monkeypatch.setattr(face_mesh, "_legacy_solution", lambda mp: None)  # only the Tasks API, as mediapipe >= 0.10.30
    with pytest.raises(InputError, match=rf"save it as {tmp_path}.*face_landmarker\.task.*Or give the face's square"):
        find_face(_picture(), face_model=FaceLandmarkerModel((tmp_path,)))
