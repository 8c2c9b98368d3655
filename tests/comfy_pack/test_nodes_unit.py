"""Every node class called directly, against fake ComfyUI modules and a stand-in core facade (see
conftest.py / fakes.py / fake_core.py). No server, runs in about a second."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from .conftest import REPO
from .workflow_check import NODE_IDS



def node(pack, name):
    return pack.NODE_CLASS_MAPPINGS[name]()


def img(n, h=64, w=64):
    return torch.rand(n, h, w, 3)


def load(pack, folder="fake_weights", precision="auto", auto_download=False):
    return node(pack, "LoadPersonaLiveModels").load(folder, precision, auto_download)[0]


# -- registration and metadata -----------------------------------------------------------------------


def test_exports_exactly_the_seven_nodes(pack):
    assert list(pack.NODE_CLASS_MAPPINGS) == NODE_IDS
    assert set(pack.NODE_DISPLAY_NAME_MAPPINGS) == set(NODE_IDS)


@pytest.mark.parametrize("name", NODE_IDS)
def test_every_input_has_a_tooltip_and_every_node_a_description(pack, name, weights_dir):
    cls = pack.NODE_CLASS_MAPPINGS[name]
    assert cls.CATEGORY == "PersonaLive"
    assert len(cls.DESCRIPTION) > 40
    assert callable(getattr(cls, cls.FUNCTION))
    assert len(cls.OUTPUT_TOOLTIPS) == len(cls.RETURN_TYPES) == len(cls.RETURN_NAMES)
    for section, inputs in cls.INPUT_TYPES().items():
        for input_name, spec in inputs.items():
            assert len(spec) == 2 and spec[1].get("tooltip"), f"{name}.{input_name} has no tooltip"


def test_custom_socket_types(pack):
    m = pack.NODE_CLASS_MAPPINGS
    assert m["LoadPersonaLiveModels"].RETURN_TYPES == ("PERSONALIVE_MODELS",)
    assert m["ExtractLivePortraitKeypoints"].RETURN_TYPES == ("PERSONALIVE_KEYPOINTS",)
    assert m["EncodeReference"].RETURN_TYPES == ("PERSONALIVE_REFERENCE",)
    assert m["MotionEncode"].RETURN_TYPES == ("PERSONALIVE_MOTION",)
    assert m["PersonaLiveSampler4Step"].RETURN_TYPES == ("LATENT",)
    assert m["RenderPoseMap"].RETURN_TYPES == m["ChunkedVAEDecode"].RETURN_TYPES == ("IMAGE",)


def test_root_package_is_inert_outside_comfyui():
    """Plain Python (no ComfyUI): importing the pack folder as a package exports empty mappings and
    leaves `personalive_core` importable; this is what pytest does when it collects tests/."""
    code = textwrap.dedent(f"""
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location("somepack", {str(REPO / "__init__.py")!r},
                                                      submodule_search_locations=[{str(REPO)!r}])
        mod = importlib.util.module_from_spec(spec); sys.modules["somepack"] = mod; spec.loader.exec_module(mod)
        assert mod.NODE_CLASS_MAPPINGS == {{}} and mod.NODE_DISPLAY_NAME_MAPPINGS == {{}}
        assert "comfy" not in sys.modules and "somepack.nodes" not in sys.modules
        import personalive_core
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


# -- LoadPersonaLiveModels ------------------------------------------------------------------------------


def test_weights_folder_choices_follow_registered_paths(pack, weights_dir, tmp_path):
    import folder_paths

    choices = pack.NODE_CLASS_MAPPINGS["LoadPersonaLiveModels"].INPUT_TYPES()["required"]["weights_folder"][0]
    assert choices[0] == "pretrained_weights" and "fake_weights" in choices
    extra = tmp_path / "elsewhere"
    (extra / "from_yaml").mkdir(parents=True)
    folder_paths.add_model_folder_path("personalive", str(extra))  # what extra_model_paths.yaml does
    try:
        choices = pack.NODE_CLASS_MAPPINGS["LoadPersonaLiveModels"].INPUT_TYPES()["required"]["weights_folder"][0]
        assert "from_yaml" in choices
    finally:
        folder_paths.folder_names_and_paths["personalive"][0].remove(str(extra))


def test_validate_rejects_a_missing_folder_with_instructions(pack, fake_api):
    cls = pack.NODE_CLASS_MAPPINGS["LoadPersonaLiveModels"]
    msg = cls.VALIDATE_INPUTS(weights_folder="nope", auto_download=False)
    assert isinstance(msg, str) and "'nope' not found" in msg and "auto_download" in msg and "extra_model_paths" in msg
    assert cls.VALIDATE_INPUTS(weights_folder="nope", auto_download=True) is True
    assert "name of a folder" in cls.VALIDATE_INPUTS(weights_folder="../x", auto_download=False)
    assert cls.VALIDATE_INPUTS(weights_folder=None, auto_download=False) is True  # linked input


def test_validate_lists_missing_files(pack, fake_api, fake_models_dir):
    (fake_models_dir / "personalive" / "half").mkdir(parents=True, exist_ok=True)
    msg = pack.NODE_CLASS_MAPPINGS["LoadPersonaLiveModels"].VALIDATE_INPUTS(weights_folder="half", auto_download=False)
    assert "2 PersonaLive weights file(s) missing" in msg and "denoising_unet.pth" in msg and "huggingface.co" in msg


def test_load_wraps_models_for_comfy_model_management(pack, fake_api, weights_dir, rec, api_calls):
    bundle = load(pack)
    assert api_calls == [("load_models", str(weights_dir), "fp32", "cpu")]  # auto on the CPU -> fp32
    assert type(bundle.patcher.model).__name__ == "PersonaLiveModule"
    assert set(dict(bundle.patcher.model.named_children())["networks"]) == {"pose_guider", "vae"}
    assert bundle.on_device() is bundle.models and rec.loads == [bundle.patcher]
    assert (
        pack.NODE_CLASS_MAPPINGS["LoadPersonaLiveModels"].VALIDATE_INPUTS(
            weights_folder="fake_weights", auto_download=False
        )
        is True
    )


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


def test_auto_download_places_missing_files(pack, fake_api, fake_models_dir, monkeypatch, rec):
    import huggingface_hub

    fetched = []

    def fake_download(repo_id, filename, local_dir, **kw):
        fetched.append((repo_id, filename))
        path = __import__("pathlib").Path(local_dir) / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"w")
        return str(path)

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    bundle = load(pack, folder="downloaded", auto_download=True)
    root = fake_models_dir / "personalive" / "downloaded"
    assert bundle.root == root
    assert (root / "personalive/denoising_unet.pth").read_bytes() == b"w"
    assert (root / "sd-vae-ft-mse/config.json").is_file()
    assert ("huaichang/PersonaLive", "pretrained_weights/personalive/denoising_unet.pth") in fetched
    assert rec.progress[-1][:2] == (2, 2)


def test_auto_download_offline_says_what_to_do(pack, fake_api, monkeypatch):
    import huggingface_hub

    def offline(**kw):
        raise OSError("Temporary failure in name resolution")

    model_folder = sys.modules["ComfyUI-PersonaLive.nodes.model_folder"]
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(
        model_folder.DownloadError, match="offline.*download the file by hand from https://huggingface.co/"
    ):
        load(pack, folder="offline_try", auto_download=True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(model_folder.DownloadError, match="HF_HUB_OFFLINE"):
        load(pack, folder="offline_try2", auto_download=True)


# -- keypoints, pose maps, encoders -------------------------------------------------------------------


def test_extract_and_render(pack, fake_api, weights_dir, api_calls):
    models = load(pack)
    kps = node(pack, "ExtractLivePortraitKeypoints").extract(models, img(1), img(5), "keypoints", 64)[0]
    assert kps.num_frames == 5
    assert api_calls[-1] == ("extract_keypoints", (1, 64, 64, 3), (5, 64, 64, 3), "keypoints", 64)
    maps = node(pack, "RenderPoseMap").render(kps, True)[0]
    assert maps.shape == (17, 64, 64, 3) and maps.dtype == torch.float32
    assert node(pack, "RenderPoseMap").render(kps, False)[0].shape[0] == 5


def test_extract_rejects_bad_batches(pack, fake_api, weights_dir):
    models, extract = load(pack), node(pack, "ExtractLivePortraitKeypoints").extract
    with pytest.raises(ValueError, match="must be one image, but a batch of 2.*ImageFromBatch"):
        extract(models, img(2), img(3), "keypoints", 64)
    with pytest.raises(ValueError, match="empty batch"):
        extract(models, img(1), img(0), "keypoints", 64)
    with pytest.raises(ValueError, match="multiple of 64"):
        extract(models, img(1), img(2), "keypoints", 96)
    rgba = torch.rand(1, 64, 64, 4)
    assert extract(models, rgba, img(2), "keypoints", 64)[0].num_frames == 2


def test_mediapipe_missing_is_a_clear_error(pack, fake_api, weights_dir, monkeypatch):
    keypoints = sys.modules["ComfyUI-PersonaLive.nodes.keypoints"]
    real_import = keypoints.importlib.import_module

    def no_mediapipe(name, *a, **kw):
        if name.startswith("mediapipe"):
            raise ImportError("No module named 'mediapipe'")
        return real_import(name, *a, **kw)

    monkeypatch.setattr(keypoints.importlib, "import_module", no_mediapipe)
    from personalive_core.errors import PersonaLiveError

    with pytest.raises(PersonaLiveError, match="needs the mediapipe package.*'keypoints' face-crop method"):
        node(pack, "ExtractLivePortraitKeypoints").extract(load(pack), img(1), img(2), "mediapipe", 64)


def test_mediapipe_without_face_mesh_is_a_clear_error(pack, monkeypatch):
    import types

    keypoints = sys.modules["ComfyUI-PersonaLive.nodes.keypoints"]

    def new_mediapipe(name, *a, **kw):
        if name == "mediapipe":
            return types.SimpleNamespace(__version__="0.10.31")
        raise ImportError(name)

    monkeypatch.setattr(keypoints.importlib, "import_module", new_mediapipe)
    assert "0.10.31 has no face mesh" in keypoints.mediapipe_problem()


def test_encode_reference_validates_size(pack, fake_api, weights_dir, api_calls):
    cls = pack.NODE_CLASS_MAPPINGS["EncodeReference"]
    assert cls.VALIDATE_INPUTS(size=512) is True
    assert "multiple of 64" in cls.VALIDATE_INPUTS(size=100) and "use 64 or 128" in cls.VALIDATE_INPUTS(size=100)
    extract = pack.NODE_CLASS_MAPPINGS["ExtractLivePortraitKeypoints"]
    assert extract.VALIDATE_INPUTS(size=512) is True and "multiple of 64" in extract.VALIDATE_INPUTS(size=520)
    assert "between 64 and 2048" in cls.VALIDATE_INPUTS(size=8)
    ref = cls().encode(load(pack), img(1), 256)[0]
    assert ref.size == 256 and api_calls[-1] == ("encode_reference", (1, 64, 64, 3), 256)
    with pytest.raises(ValueError, match="must be one image"):
        cls().encode(load(pack), img(3), 256)


def test_motion_encode_rejects_mismatched_frame_counts(pack, fake_api, weights_dir):
    models = load(pack)
    kps = node(pack, "ExtractLivePortraitKeypoints").extract(models, img(1), img(5), "keypoints", 64)[0]
    assert node(pack, "MotionEncode").encode(models, img(1), img(5), kps)[0].num_frames == 5
    with pytest.raises(ValueError, match="driving batch has 3 frame.*keypoints has 5"):
        node(pack, "MotionEncode").encode(models, img(1), img(3), kps)


# -- sampler and decode ----------------------------------------------------------------------------


def _graph(pack, n=10):
    models = load(pack)
    kps = node(pack, "ExtractLivePortraitKeypoints").extract(models, img(1), img(n), "keypoints", 64)[0]
    maps = node(pack, "RenderPoseMap").render(kps, True)[0]
    ref = node(pack, "EncodeReference").encode(models, img(1), 64)[0]
    motion = node(pack, "MotionEncode").encode(models, img(1), img(n), kps)[0]
    return models, ref, maps, motion


def test_sampler_outputs_one_latent_per_driving_frame_with_progress(pack, fake_api, weights_dir, rec):
    models, ref, maps, motion = _graph(pack, n=10)
    rec.reset()
    latent = node(pack, "PersonaLiveSampler4Step").sample(models, ref, maps, motion, 7, False, True)[0]
    assert set(latent) == {"samples"} and latent["samples"].shape == (10, 4, 8, 8)
    assert [p[:2] for p in rec.progress] == [(1, 3), (2, 3), (3, 3), (3, 3)]  # per 4-frame window, then done
    assert all(p[2][0] == "JPEG" for p in rec.progress[:3])  # live previews
    assert rec.loads  # the models were loaded through comfy.model_management
    again = node(pack, "PersonaLiveSampler4Step").sample(models, ref, maps, motion, 7, False, False)[0]
    assert torch.equal(again["samples"], latent["samples"])
    assert rec.progress[-1][2] is None  # preview off
    lead = node(pack, "PersonaLiveSampler4Step").sample(models, ref, maps, motion, 7, True, False)[0]
    assert lead["samples"].shape[0] == 22


def test_sampler_is_interruptible_between_windows(pack, fake_api, weights_dir, rec):
    mm = sys.modules["comfy.model_management"]
    models, ref, maps, motion = _graph(pack, n=16)
    rec.reset()
    rec.interrupt_after_checks = 2  # the user presses Cancel during the second window
    with pytest.raises(mm.InterruptProcessingException):
        node(pack, "PersonaLiveSampler4Step").sample(models, ref, maps, motion, 0, False, False)
    assert len(rec.progress) == 1  # stopped after the first of four windows


def test_sampler_rejects_pose_maps_without_lead_in(pack, fake_api, weights_dir):
    models, ref, maps, motion = _graph(pack, n=6)
    with pytest.raises(ValueError, match="expected 18 pose maps.*got 6.*include_lead_in on in RenderPoseMap"):
        node(pack, "PersonaLiveSampler4Step").sample(models, ref, maps[12:], motion, 0, False, False)
    with pytest.raises(ValueError, match="expected 18 pose maps.*got 9.*same driving frames"):
        node(pack, "PersonaLiveSampler4Step").sample(models, ref, maps[:9], motion, 0, False, False)


def test_sampler_rejects_sizes_not_multiple_of_8(pack, fake_api, weights_dir):
    models, ref, maps, motion = _graph(pack, n=2)
    with pytest.raises(ValueError, match="multiples of 8"):
        node(pack, "PersonaLiveSampler4Step").sample(models, ref, maps[:, :60], motion, 0, False, False)


def test_chunked_decode(pack, fake_api, weights_dir, rec, api_calls):
    models = load(pack)
    rec.reset()
    latent = {"samples": torch.randn(10, 4, 8, 8)}
    images = node(pack, "ChunkedVAEDecode").decode(models, latent, 4, False)[0]
    assert images.shape == (10, 64, 64, 3) and images.dtype == torch.float32
    assert [c[1] for c in api_calls if c[0] == "decode_latents"] == [(4, 4, 8, 8), (4, 4, 8, 8), (2, 4, 8, 8)]
    assert [p[:2] for p in rec.progress] == [(4, 10), (8, 10), (10, 10)]
    video_latent = {"samples": torch.randn(1, 4, 3, 8, 8)}  # (B, C, T, H, W) from video models
    assert node(pack, "ChunkedVAEDecode").decode(models, video_latent, 8, False)[0].shape == (3, 64, 64, 3)
    with pytest.raises(ValueError, match="expected SD latents"):
        node(pack, "ChunkedVAEDecode").decode(models, {"samples": torch.randn(2, 16, 8, 8)}, 8, False)
    with pytest.raises(Exception, match="tiny autoencoder not available"):
        node(pack, "ChunkedVAEDecode").decode(models, latent, 4, True)


def test_decode_is_interruptible_between_chunks(pack, fake_api, weights_dir, rec):
    mm = sys.modules["comfy.model_management"]
    models = load(pack)
    rec.reset()
    rec.interrupt_after_checks = 3
    with pytest.raises(mm.InterruptProcessingException):
        node(pack, "ChunkedVAEDecode").decode(models, {"samples": torch.randn(12, 4, 8, 8)}, 2, False)
    assert len(rec.progress) < 6


def test_loader_cache_key_follows_the_weight_files(pack, weights_dir):
    cls = pack.NODE_CLASS_MAPPINGS["LoadPersonaLiveModels"]
    before = cls.IS_CHANGED("fake_weights", "auto", False)
    assert before == cls.IS_CHANGED("fake_weights", "auto", False)
    (weights_dir / "personalive" / "denoising_unet.pth").write_bytes(b"replaced weights")
    assert cls.IS_CHANGED("fake_weights", "auto", False) != before
    assert cls.IS_CHANGED("missing", "auto", False) == ""
