"""PersonaLive inference in plain PyTorch: loads the official checkpoints and reproduces the
original implementation's numbers. No ComfyUI imports here; `nodes/` adapts it to ComfyUI.

The pipeline, in data-flow order (module in brackets):
  reference portrait -> CLIP embedding, VAE latents, reference-UNet features  [reference]
  driving frames     -> square crops at the working size                     [frames, video_io]
                     -> LivePortrait keypoints, head pose                    [keypoints, streaming.trackers]
                     -> pose maps -> PoseGuider features                      [pose_map, streaming.conditioning]
                     -> face crops -> motion tokens                           [face_crop, streaming.trackers]
  conditioning       -> 4-step denoising over a window of 4 chunks            [streaming.denoiser, scheduler]
                     -> finished latents, in order, with the lead-in          [streaming.session]
  latents            -> frames                                                [decoding]

Entry points: `animate.animate_frames` (the whole pipeline as a generator), `api` (whole IMAGE
batches, stage by stage, for the ComfyUI nodes), `streaming.StreamSession` (push input, get chunks).
Supporting packages: `models` (one network per module, the catalog, loading), `weights` (finding and
safely reading checkpoints), `parity` (comparison with recordings of the original), `cli` (the
command line), `comfy_client` (driving a ComfyUI server), `checks` (input validation), `window`
(chunk, window and lead-in sizes).
"""

__version__ = "0.1.0"
