"""The pack's own socket types, declared once (V3 `io.Custom`). Their names are in every saved workflow's
links: never rename them."""

from comfy_api.v0_0_2 import io

Models = io.Custom("PERSONALIVE_MODELS")
Keypoints = io.Custom("PERSONALIVE_KEYPOINTS")
Reference = io.Custom("PERSONALIVE_REFERENCE")
Motion = io.Custom("PERSONALIVE_MOTION")
Crop = io.Custom("PERSONALIVE_CROP")
