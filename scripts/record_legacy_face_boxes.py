"""Record the legacy MediaPipe face-mesh boxes of drawn faces into tests/data/legacy_face_mesh_boxes.json.

    .venv/bin/python scripts/record_legacy_face_boxes.py [--models FOLDER]

Needs a mediapipe that still has the legacy solution (0.10.11-0.10.21, e.g. `pip install mediapipe==0.10.14`
in a scratch venv with the pack's requirements). tests/test_face_mesh.py compares the Tasks face
landmarker's boxes with these, since one venv holds one mediapipe. With --models (a folder holding Google's
face_landmarker.task) this mediapipe's Tasks boxes are recorded too: they should not change with the release.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from personalive_core.demo_inputs import draw_face  # noqa: E402
from personalive_core.face_landmarker_file import FaceLandmarkerModel  # noqa: E402
from personalive_core.face_mesh import face_mesh_backend, face_mesh_boxes  # noqa: E402
from personalive_core.video_io import square_frame  # noqa: E402

OUT = REPO / "tests" / "data" / "legacy_face_mesh_boxes.json"
SIZES = (128, 256, 512)
YAWS = (-0.8, -0.4, 0.0, 0.4, 0.8)
POSES = ((0.0, 0.3), (1.0, 0.8), (-1.0, 0.0))  # (tilt, mouth): level, chin down and open, chin up and shut
SCALE = 1.1


def boxes(specs, backend, model=None) -> list[list[int]]:
    frames = torch.stack([square_frame(draw_face(s["size"], s["yaw"], s["mouth"], s["tilt"]), s["size"])
                          for s in specs])
    return face_mesh_boxes(frames, SCALE, backend=backend, model=model).tolist()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, help="folder holding face_landmarker.task: also record the Tasks boxes")
    args = parser.parse_args()
    import mediapipe

    face_mesh_backend(backend="legacy")  # says what is missing when this mediapipe has no legacy solution
    model = FaceLandmarkerModel((args.models,)) if args.models else None
    frames = []
    for size in SIZES:
        specs = [{"size": size, "yaw": yaw, "mouth": mouth, "tilt": tilt} for yaw in YAWS for tilt, mouth in POSES]
        recorded = {"legacy": boxes(specs, "legacy")}
        if model is not None:
            recorded["tasks"] = boxes(specs, "tasks", model)
        frames += [{**spec, **{k: v[i] for k, v in recorded.items()}} for i, spec in enumerate(specs)]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    head = {"about": "face_mesh_boxes of draw_face(size, yaw, mouth, tilt) frames; see " + Path(__file__).name,
            "mediapipe": mediapipe.__version__, "scale": SCALE}
    lines = ",\n  ".join(json.dumps(f) for f in frames)  # one frame a line: readable diffs
    OUT.write_text(json.dumps(head)[:-1] + f', "frames": [\n  {lines}\n]}}\n')
    print(f"wrote {len(frames)} frames' boxes ({', '.join(k for k in ('legacy', 'tasks') if k in frames[0])}) "
          f"from mediapipe {mediapipe.__version__} to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
