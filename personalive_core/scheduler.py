"""The DDIM variant of PersonaLive: fixed timesteps 999/666/333/0, one timestep per frame.

Stock diffusers `DDIMScheduler.step` takes one scalar timestep; here every frame of the window
carries its own noise level, and a step goes from t to t-333 for every frame at once.
"""

from __future__ import annotations

import torch

TIMESTEPS = (999, 666, 333, 0)  # noise level of each chunk entering the window, newest first
STEP_LENGTH = 333


class StreamingDDIM:
    """Per-frame DDIM with eta=0, epsilon prediction and scaled-linear betas up to 0.02."""

    def __init__(self, beta_start: float = 0.00085, beta_end: float = 0.02, num_train_timesteps: int = 1000,
                 step_length: int = STEP_LENGTH):
        betas = torch.linspace(beta_start**0.5, beta_end**0.5, num_train_timesteps, dtype=torch.float32) ** 2
        self.alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
        self.final_alpha_cumprod = torch.tensor(1.0)  # alpha before t=0 (set_alpha_to_one)
        self.step_length = step_length

    def window_timesteps(self, frames_per_chunk: int = 4, device=None) -> torch.Tensor:
        """Per-frame timesteps of a full window, oldest chunk first: [0]*4 + [333]*4 + [666]*4 + [999]*4."""
        levels = torch.tensor(TIMESTEPS[::-1], dtype=torch.int64, device=device)
        return levels.repeat_interleave(frames_per_chunk)

    def add_noise(self, sample: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """Noise `sample` (B,C,F,h,w) to `timesteps` (one per frame, or one for all frames)."""
        b, c, f, h, w = sample.shape
        x = sample.transpose(1, 2).reshape(b * f, c, h, w)
        n = noise.transpose(1, 2).reshape(b * f, c, h, w)
        alphas = self.alphas_cumprod.to(device=sample.device, dtype=sample.dtype)[timesteps.to(sample.device)]
        sqrt_a = (alphas**0.5).flatten().view(-1, 1, 1, 1)
        sqrt_1ma = ((1 - alphas) ** 0.5).flatten().view(-1, 1, 1, 1)
        noisy = sqrt_a * x + sqrt_1ma * n
        return noisy.reshape(b, f, c, h, w).transpose(1, 2)

    def step(self, eps: torch.Tensor, timesteps: torch.Tensor, sample: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step for frames (N,C,h,w) at `timesteps` (N,): returns (previous sample, predicted clean sample)."""
        acp = self.alphas_cumprod.to(sample.device)
        t = timesteps.to(sample.device)
        prev_t = t - self.step_length
        a_t = acp[t].view(-1, 1, 1, 1)
        a_prev = torch.where(prev_t >= 0, acp[prev_t.clamp(min=0)], self.final_alpha_cumprod.to(sample.device))
        a_prev = a_prev.view(-1, 1, 1, 1)
        x0 = (sample - (1 - a_t) ** 0.5 * eps) / a_t**0.5
        x_prev = a_prev**0.5 * x0 + (1 - a_prev) ** 0.5 * eps
        return x_prev, x0
