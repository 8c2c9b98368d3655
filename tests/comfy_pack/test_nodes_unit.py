"""Every node class called directly on the real core (tiny random weights, 64 px), against the fake
ComfyUI modules of fakes.py: registration, widgets, the loader, and every input check, each error named
after its node. Running the nodes (progress, interrupts, decoding): test_nodes_running.py."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types

import pytest
import torch

from personalive_core.errors import InputError, WeightsError
from personalive_core.face_mesh import FaceMeshUnavailable

from .conftest import GRAPH_FRAMES as N, REPO, img, node
from .fakes import display_names, node_classes
from .workflow_check import NODE_IDS


# -- registration and metadata -----------------------------------------------------------------------


def test_exports_exactly_the_pack_nodes_named_after_their_classes(pack):
    assert list(node_classes(pack)) == NODE_IDS
    assert all(display_names(pack).values())
    assert all(cls.__name__ == name for name, cls in node_classes(pack).items())  # errors name the ID
    # V3 only: ComfyUI takes NODE_CLASS_MAPPINGS over comfy_entrypoint when a module has both.
    assert not hasattr(pack, "NODE_CLASS_MAPPINGS") and callable(pack.comfy_entrypoint)


@pytest.mark.parametrize("name", NODE_IDS)
def test_every_input_has_a_tooltip_and_every_node_a_description(pack, name):
    cls = node_classes(pack)[name]
    assert cls.CATEGORY == "PersonaLive"
    assert len(cls.DESCRIPTION) > 40
    assert callable(cls.execute)
    assert len(cls.OUTPUT_TOOLTIPS) == len(cls.RETURN_TYPES) == len(cls.RETURN_NAMES)
    for section, inputs in cls.INPUT_TYPES().items():
        if section == "hidden":  # filled in by ComfyUI (the node's id), never shown
            continue
        for input_name, spec in inputs.items():
            assert len(spec) == 2 and spec[1].get("tooltip"), f"{name}.{input_name} has no tooltip"


def test_custom_socket_types(pack):
    m = node_classes(pack)
    assert m["LoadPersonaLiveModels"].RETURN_TYPES == ("PERSONALIVE_MODELS",)
    assert m["ExtractLivePortraitKeypoints"].RETURN_TYPES == ("PERSONALIVE_KEYPOINTS",)
    assert m["EncodeReference"].RETURN_TYPES == ("PERSONALIVE_REFERENCE",)
    assert m["MotionEncode"].RETURN_TYPES == ("PERSONALIVE_MOTION",)
    assert m["PersonaLiveSampler4Step"].RETURN_TYPES == ("LATENT",)
    assert m["RenderPoseMap"].RETURN_TYPES == m["ChunkedVAEDecode"].RETURN_TYPES == ("IMAGE",)
    for name in NODE_IDS[1:]:
        spec = m[name].INPUT_TYPES()["required"]
        assert "models" not in spec or spec["models"][0] == "PERSONALIVE_MODELS"


def test_the_size_widget_is_one_declaration(pack):
    m = node_classes(pack)
    sizes = [m[n].INPUT_TYPES()["required"]["size"] for n in ("ExtractLivePortraitKeypoints", "EncodeReference")]
    assert sizes[0] == sizes[1]
    assert sizes[0][0] == "INT" and {k: sizes[0][1][k] for k in ("default", "min", "max", "step")} == {
        "default": 512, "min": 64, "max": 2048, "step": 64}


def test_root_package_is_inert_outside_comfyui():
    """Plain Python (no ComfyUI): importing the pack folder as a package registers no nodes and
    leaves `personalive_core` importable; this is what pytest does when it collects tests/."""
    code = textwrap.dedent(f"""
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location("somepack", {str(REPO / "__init__.py")!r},
                                                      submodule_search_locations=[{str(REPO)!r}])
        mod = importlib.util.module_from_spec(spec); sys.modules["somepack"] = mod; spec.loader.exec_module(mod)
        assert not hasattr(mod, "comfy_entrypoint") and not hasattr(mod, "NODE_CLASS_MAPPINGS")
        assert "comfy" not in sys.modules and "somepack.nodes" not in sys.modules
        import personalive_core
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


# -- LoadPersonaLiveModels ------------------------------------------------------------------------------


def test_weights_folder_choices_follow_registered_paths(pack, weights_dir, tmp_path):
    import folder_paths

    cls = node_classes(pack)["LoadPersonaLiveModels"]
    choices = cls.INPUT_TYPES()["required"]["weights_folder"][1]["options"]
    assert choices[0] == "pretrained_weights" and weights_dir.name in choices
    extra = tmp_path / "elsewhere"
    (extra / "from_yaml").mkdir(parents=True)
    folder_paths.add_model_folder_path("personalive", str(extra))  # what extra_model_paths.yaml does
    try:
        assert "from_yaml" in cls.INPUT_TYPES()["required"]["weights_folder"][1]["options"]
    finally:
        folder_paths.folder_names_and_paths["personalive"][0].remove(str(extra))


def test_a_missing_folder_is_rejected_with_instructions(pack, fake_models_dir):
    cls = node_classes(pack)["LoadPersonaLiveModels"]
    msg = cls.validate_inputs(weights_folder="nope", auto_download=False)
    assert "'nope' not found" in msg and "auto_download" in msg and "extra_model_paths" in msg
    assert cls.validate_inputs(weights_folder="nope", auto_download=True) is True
    assert "name of a folder" in cls.validate_inputs(weights_folder="../x", auto_download=False)
    assert cls.validate_inputs(weights_folder=None, auto_download=False) is True  # linked input
    with pytest.raises(WeightsError, match="^LoadPersonaLiveModels: PersonaLive weights folder 'nope' not found"):
        node(pack, "LoadPersonaLiveModels").execute("nope", "auto", False)
    (fake_models_dir / "personalive" / "half").mkdir(parents=True, exist_ok=True)
    msg = cls.validate_inputs(weights_folder="half", auto_download=False)
    assert "12 PersonaLive weights file(s) missing" in msg and "denoising_unet.pth" in msg and "huggingface.co" in msg


def test_load_hands_the_models_to_comfy_model_management(pack, real_models, weights_dir, rec):
    assert real_models.root == weights_dir and real_models.models.dtype == torch.float32
    networks = dict(real_models.patcher.model.named_children())["networks"]
    assert set(networks) == set(real_models.models.modules())
    assert real_models.on_device() is real_models.models and rec.loads == [real_models.patcher]
    cls = node_classes(pack)["LoadPersonaLiveModels"]
    assert cls.validate_inputs(weights_folder=weights_dir.name, auto_download=False) is True


def test_precision_auto_follows_the_device(pack, monkeypatch):
    loader = sys.modules["ComfyUI-PersonaLive.nodes.loader"]
    mm = sys.modules["comfy.model_management"]
    gpu = torch.device("cuda")
    assert loader.resolve_precision("bf16", gpu) == "bf16"
    monkeypatch.setattr(mm, "should_use_fp16", lambda device=None, **kw: True)
    assert loader.resolve_precision("auto", gpu) == "fp16"
    monkeypatch.setattr(mm, "should_use_fp16", lambda device=None, **kw: False)
    monkeypatch.setattr(mm, "should_use_bf16", lambda device=None, **kw: True)
    assert loader.resolve_precision("auto", gpu) == "bf16"
    assert loader.resolve_precision("auto", torch.device("cpu")) == "fp32"


def test_auto_download_places_missing_files_then_loads(pack, weights_dir, fake_models_dir, monkeypatch, rec):
    import huggingface_hub

    from personalive_core.weights.official import OFFICIAL_FILES

    gone = {"sd-vae-ft-mse/config.json", "sd-image-variations-diffusers/unet/config.json"}
    root = fake_models_dir / "personalive" / "downloaded"
    for spec in OFFICIAL_FILES:  # a partial copy of the tiny weights
        if spec.relpath not in gone:
            (root / spec.relpath).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(spec.find(weights_dir), root / spec.find(weights_dir).relative_to(weights_dir))
    fetched = []

    def fake_download(repo_id, filename, local_dir, **kw):  # "downloads" from the tiny weights
        spec = next(f for f in OFFICIAL_FILES if (f.repo_id, f.repo_path) == (repo_id, filename))
        fetched.append(spec.relpath)
        path = local_dir / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(spec.find(weights_dir).read_bytes())
        return str(path)

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    bundle = node(pack, "LoadPersonaLiveModels").execute("downloaded", "auto", True)[0]
    assert set(fetched) == gone and all((root / p).is_file() for p in gone)
    assert bundle.root == root and bundle.models.root == root  # loaded from the completed folder
    assert rec.progress[-1][:2] == (2, 2)


def test_auto_download_offline_says_what_to_do(pack, monkeypatch):
    import huggingface_hub

    def offline(**kw):
        raise OSError("Temporary failure in name resolution")

    model_folder = sys.modules["ComfyUI-PersonaLive.nodes.model_folder"]
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    load = node(pack, "LoadPersonaLiveModels").execute
    with pytest.raises(model_folder.DownloadError, match="offline.*download the file by hand from https://hugg"):
        load("offline_try", "auto", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(model_folder.DownloadError, match="^LoadPersonaLiveModels: .*HF_HUB_OFFLINE"):
        load("offline_try2", "auto", True)


def test_loader_cache_key_follows_the_weight_files(pack, fake_models_dir):
    cls = node_classes(pack)["LoadPersonaLiveModels"]
    folder = fake_models_dir / "personalive" / "cache_key"
    (folder / "personalive").mkdir(parents=True)
    (folder / "personalive" / "pose_guider.pth").write_bytes(b"weights")
    before = cls.fingerprint_inputs("cache_key", "auto", False)
    assert before == cls.fingerprint_inputs("cache_key", "auto", False)
    (folder / "personalive" / "pose_guider.pth").write_bytes(b"replaced weights")
    assert cls.fingerprint_inputs("cache_key", "auto", False) != before
    assert cls.fingerprint_inputs("missing", "auto", False) == ""


# -- input checks -------------------------------------------------------------------------------------


def test_bad_batches_and_sizes_are_named_after_the_node(pack, real_models):
    extract = node(pack, "ExtractLivePortraitKeypoints").execute
    with pytest.raises(InputError, match="^ExtractLivePortraitKeypoints: .*one image, but a batch of 2.*ImageFrom"):
        extract(real_models, img(2), img(3), "keypoints", 64)
    with pytest.raises(InputError, match="^ExtractLivePortraitKeypoints: .*empty batch"):
        extract(real_models, img(1), img(0), "keypoints", 64)
    with pytest.raises(InputError, match="^ExtractLivePortraitKeypoints: .*size must be a multiple of 64"):
        extract(real_models, img(1), img(2), "keypoints", 96)  # a widget converted to an input: not validated
    with pytest.raises(InputError, match="^ExtractLivePortraitKeypoints: .*color channels"):
        extract(real_models, img(1, channels=2), img(2), "keypoints", 64)
    with pytest.raises(InputError, match="^ExtractLivePortraitKeypoints: unknown crop_method 'dlib'"):
        extract(real_models, img(1), img(2), "dlib", 64)


def test_size_is_validated_when_queued(pack, real_models):
    for name in ("EncodeReference", "ExtractLivePortraitKeypoints"):
        cls = node_classes(pack)[name]
        assert cls.validate_inputs(size=512) is True and cls.validate_inputs(size=None) is True
        assert "multiple of 64" in cls.validate_inputs(size=100) and "use 64 or 128" in cls.validate_inputs(size=100)
        assert "between 64 and 2048" in cls.validate_inputs(size=8)
    with pytest.raises(InputError, match="^EncodeReference: .*must be one image"):
        node(pack, "EncodeReference").execute(real_models, img(3), 64)
    with pytest.raises(InputError, match="^EncodeReference: size must be a multiple of 64"):
        node(pack, "EncodeReference").execute(real_models, img(1), 100)


def _without_mediapipe(monkeypatch, fake=None):
    """mediapipe not installed (fake=None) or replaced by `fake`, for this test only."""
    for name in ("mediapipe", "mediapipe.python", "mediapipe.python.solutions"):
        monkeypatch.setitem(sys.modules, name, None)
    if fake is not None:
        monkeypatch.setitem(sys.modules, "mediapipe", fake)


def test_mediapipe_missing_is_a_clear_error(pack, real_models, monkeypatch):
    _without_mediapipe(monkeypatch)
    cls = node_classes(pack)["ExtractLivePortraitKeypoints"]
    assert "needs the mediapipe package" in cls.validate_inputs(size=64, crop_method="mediapipe")
    assert cls.validate_inputs(size=64, crop_method="keypoints") is True
    assert "unknown crop_method 'dlib'" in cls.validate_inputs(size=64, crop_method="dlib")
    with pytest.raises(FaceMeshUnavailable, match="^ExtractLivePortraitKeypoints: .*'keypoints' face-crop method"):
        cls.execute(real_models, img(1), img(2), "mediapipe", 64)


def test_mediapipe_without_face_mesh_is_a_clear_error(pack, monkeypatch):
    _without_mediapipe(monkeypatch, fake=types.SimpleNamespace(__version__="0.10.31"))
    msg = node_classes(pack)["ExtractLivePortraitKeypoints"].validate_inputs(crop_method="mediapipe")
    assert "0.10.31 has no face mesh" in msg and "pip install" in msg


def test_motion_encode_rejects_mismatched_frame_counts(pack, graph):
    mismatch = rf"^MotionEncode: the driving batch has 3 frame\(s\) but the keypoints has {N}\. .*ImageFromBatch"
    with pytest.raises(InputError, match=mismatch):
        node(pack, "MotionEncode").execute(graph.models, img(1), img(3), graph.kps)


def test_sampler_rejects_mismatched_pose_maps(pack, graph):
    sample = node(pack, "PersonaLiveSampler4Step").execute
    without_lead_in = rf"^PersonaLiveSampler4Step: expected {12 + N} pose maps.*got {N}.*include_lead_in on"
    with pytest.raises(InputError, match=without_lead_in):
        sample(graph.models, graph.ref, graph.maps[12:], graph.motion, 0, False, False)
    with pytest.raises(InputError, match=rf"expected {12 + N} pose maps.*got 9.*same driving frames"):
        sample(graph.models, graph.ref, graph.maps[:9], graph.motion, 0, False, False)
    with pytest.raises(InputError, match="^PersonaLiveSampler4Step: pose maps are 64x60 .* encoded at 64x64"):
        sample(graph.models, graph.ref, graph.maps[:, :60], graph.motion, 0, False, False)


def test_face_crop_then_paste_back_keeps_the_picture_outside_the_square(pack):
    picture = torch.rand(1, 90, 70, 3)
    face, crop = node(pack, "PersonaLiveFaceCrop").execute(picture, 2.0, 0.0, 0.0, left=10, top=20, side=48)
    assert face.shape == (1, 48, 48, 3) and torch.equal(face, picture[:, 20:68, 10:58])
    frames = torch.rand(5, 64, 64, 3)
    (pasted,) = node(pack, "PersonaLivePasteBack").execute(picture, frames, crop, 0.12)
    assert pasted.shape == (5, 90, 70, 3)
    expected = (picture[0] * 255).round()
    outside = torch.ones(90, 70, dtype=torch.bool)
    outside[21:67, 11:57] = False
    assert all(torch.equal((frame * 255).round()[outside], expected[outside]) for frame in pasted)
    with pytest.raises(Exception, match="PersonaLiveFaceCrop.*does not fit the 70x90 picture"):
        node(pack, "PersonaLiveFaceCrop").execute(picture, 2.0, 0.0, 0.0, left=40, top=0, side=48)


def _face_image(size: int, **pose) -> torch.Tensor:
    import numpy as np

    from personalive_core.demo_inputs import draw_face

    return torch.from_numpy(np.asarray(draw_face(size, **pose), np.float32) / 255.0)[None]


def test_mediapipe_crops_with_the_face_model_in_the_models_folder(pack, real_models, fake_models_dir,
                                                                  face_landmarker_folder, monkeypatch):
    """The Tasks face landmarker (current MediaPipe) finds its model in models/personalive/mediapipe/; without
    it and offline, both face-detecting nodes say where to put it."""
    import shutil

    from personalive_core import face_landmarker_file
    from personalive_core.face_mesh import installed_backends

    if installed_backends()[:1] != ("tasks",):
        pytest.skip("this mediapipe has the legacy face mesh, which needs no model file")
    folder = fake_models_dir / "personalive" / "mediapipe"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(face_landmarker_folder / "face_landmarker.task", folder)
    try:
        cls = node_classes(pack)["ExtractLivePortraitKeypoints"]
        assert cls.validate_inputs(size=64, crop_method="mediapipe") is True
        options = node_classes(pack)["LoadPersonaLiveModels"].INPUT_TYPES()["required"]["weights_folder"][1]["options"]
        assert "mediapipe" not in options  # the model's folder is not a weights folder
        kps = cls.execute(real_models, _face_image(96), torch.cat([_face_image(96, yaw=y) for y in (0, 0.6)]),
                          "mediapipe", 64)[0]
        assert kps.num_frames == 2
        face, crop = node(pack, "PersonaLiveFaceCrop").execute(_face_image(160), 2.0, 0.0, 0.0)  # side 0: detect
        assert 40 < crop.side <= 160 and face.shape[1] == face.shape[2] == crop.side
    finally:
        (folder / "face_landmarker.task").unlink()
    monkeypatch.setattr(face_landmarker_file, "MODEL_URL", (folder / "nowhere.task").as_uri())  # offline
    for run in (lambda: cls.execute(real_models, _face_image(96), _face_image(96), "mediapipe", 64),
                lambda: node(pack, "PersonaLiveFaceCrop").execute(_face_image(160), 2.0, 0.0, 0.0)):
        with pytest.raises(Exception, match=r"^\w+: Could not download face_landmarker\.task .* save it as "
                                            rf"{folder / 'face_landmarker.task'}"):
            run()
