"""PersonaLive inference in plain PyTorch: loads the official checkpoints and reproduces the
original implementation's numbers. No ComfyUI imports here; `nodes/` adapts it to ComfyUI."""

__version__ = "0.1.0"
