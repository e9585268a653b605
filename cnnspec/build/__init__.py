"""Stage 5, build: ShapeTrace → ``torch.nn.Sequential``; the first stage that imports torch.

Also the torchinfo comparison, export (pt2/ONNX, checked against eager torch)
and the one place that loads a state dict into a model.
"""

from cnnspec.build.model import build_from_trace, build_model

__all__ = ["build_from_trace", "build_model"]
