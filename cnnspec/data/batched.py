"""Batched equivalents of torchvision's random transforms.

torchvision.transforms.v2 draws *one* set of random parameters per call, so
calling ``RandomHorizontalFlip`` on a batch flips all images or none. The
functions here draw per-sample parameters (from the batch's generator, with
torchvision's distributions) and apply them to the whole batch at once;
each sample's result equals torchvision's own kernel applied to that sample
with the same parameters (the tests compare them sample by sample).

Each takes ``(transform, batch, generator)`` and returns the new batch, or
``None`` when it cannot handle that input (then the pipeline falls back to
calling the transform per sample). :func:`params_of` exposes the drawn
parameters so the tests can replay them through torchvision.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = ["BATCHED", "batched_impl"]

Impl = Callable[[Any, torch.Tensor, torch.Generator], "torch.Tensor | None"]


def _uniform(n: int, lo: float, hi: float, g: torch.Generator) -> torch.Tensor:
    return torch.empty(n, dtype=torch.float64).uniform_(lo, hi, generator=g)


def _fill_of(t: Any) -> Any:
    fills = getattr(t, "_fill", None)
    if isinstance(fills, dict):
        return fills.get(torch.Tensor, fills.get("others"))
    return getattr(t, "fill", None)


# -- flips, grayscale ------------------------------------------------------------------


def _flip(dim: int) -> Impl:
    def run(t: Any, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        mask = torch.rand(x.shape[0], generator=g) < t.p
        if mask.any():
            mask = mask.to(x.device)
            x[mask] = x[mask].flip(dim)
        return x

    return run


def random_grayscale(t: Any, x: torch.Tensor, g: torch.Generator) -> torch.Tensor | None:
    from torchvision.transforms.v2 import functional as F

    mask = torch.rand(x.shape[0], generator=g) < t.p
    if x.shape[-3] not in (1, 3):
        return None
    if mask.any() and x.shape[-3] == 3:
        mask = mask.to(x.device)
        x[mask] = F.rgb_to_grayscale(x[mask], num_output_channels=3)
    return x


# -- crop ------------------------------------------------------------------------------


def random_crop(t: Any, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Pad the batch once (torchvision's own padding rule and kernel), then crop each sample at its offset."""
    with torch.random.fork_rng(devices=[]):
        params = t.make_params([x])  # geometry only; its random offsets are replaced below
    if params["needs_pad"]:
        x = t.transform(x, {**params, "needs_crop": False})
    h, w = params["height"], params["width"]
    tops = torch.randint(0, x.shape[-2] - h + 1, (x.shape[0],), generator=g)
    lefts = torch.randint(0, x.shape[-1] - w + 1, (x.shape[0],), generator=g)
    return crop_at(x, tops, lefts, h, w)


def crop_at(x: torch.Tensor, tops: torch.Tensor, lefts: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``out[i] = x[i, :, tops[i]:tops[i]+h, lefts[i]:lefts[i]+w]``: one gather from a strided window view."""
    x = x.contiguous()
    b, c, height, width = x.shape
    s = x.stride()
    windows = x.as_strided((b, c, height - h + 1, width - w + 1, h, w), (s[0], s[1], s[2], s[3], s[2], s[3]))
    return windows[torch.arange(b, device=x.device), :, tops.to(x.device), lefts.to(x.device)]


# -- rotation and affine ---------------------------------------------------------------


def inverse_affine(center: tuple[float, float], angle: torch.Tensor, translate: torch.Tensor, scale: torch.Tensor,
                   shear: torch.Tensor) -> torch.Tensor:
    """Per-sample output→input pixel maps ``[B, 6]`` of affine transforms (torchvision's formula, float64).

    ``angle`` and ``scale`` are ``[B]``, ``translate`` and ``shear`` ``[B, 2]``; angles in degrees.
    """
    rot, sx, sy = torch.deg2rad(angle), torch.deg2rad(shear[:, 0]), torch.deg2rad(shear[:, 1])
    cx, cy = center
    tx, ty = translate[:, 0], translate[:, 1]
    a = torch.cos(rot - sy) / torch.cos(sy)
    b = -(a * torch.tan(sx) + torch.sin(rot))
    c = torch.sin(rot - sy) / torch.cos(sy)
    d = torch.cos(rot) - c * torch.tan(sx)
    m0, m1, m3, m4 = d / scale, -b / scale, -c / scale, a / scale
    m2 = cx - m0 * (cx + tx) - m1 * (cy + ty)
    m5 = cy - m3 * (cx + tx) - m4 * (cy + ty)
    return torch.stack([m0, m1, m2, m3, m4, m5], dim=1)


def warp(x: torch.Tensor, matrices: torch.Tensor, mode: str, fill: Any) -> torch.Tensor:
    """Resample each sample through its own inverse affine matrix (zeros outside, then ``fill``)."""
    b, c, h, w = x.shape
    on = {"dtype": x.dtype, "device": x.device}
    theta = matrices.to(**on).reshape(b, 2, 3)
    base = torch.empty(1, h, w, 3, **on)
    base[..., 0].copy_(torch.linspace((1.0 - w) * 0.5, (w - 1.0) * 0.5, steps=w, **on))
    base[..., 1].copy_(torch.linspace((1.0 - h) * 0.5, (h - 1.0) * 0.5, steps=h, **on).unsqueeze_(-1))
    base[..., 2].fill_(1)
    scaled = theta.transpose(1, 2).div_(torch.tensor([0.5 * w, 0.5 * h], **on))
    grid = base.view(1, h * w, 3).expand(b, -1, -1).bmm(scaled).view(b, h, w, 2)
    img = x if fill is None else torch.cat([x, torch.ones(b, 1, h, w, **on)], dim=1)
    out = torch.nn.functional.grid_sample(img, grid, mode=mode, padding_mode="zeros", align_corners=False)
    if fill is None:
        return out
    out, mask = out[:, :c], out[:, c:].expand(b, c, h, w)
    values = fill if isinstance(fill, (list, tuple)) else [float(fill)]
    fill_img = torch.tensor(values, **on).view(1, -1, 1, 1)
    if mode == "nearest":
        return torch.where(mask < 0.5, fill_img.expand_as(out), out)
    return out.sub_(fill_img).mul_(mask).add_(fill_img)


def _center(t: Any, h: int, w: int) -> tuple[float, float]:
    center = getattr(t, "center", None)
    return (0.0, 0.0) if center is None else (center[0] - w * 0.5, center[1] - h * 0.5)


def _mode(t: Any) -> str | None:
    mode = getattr(t.interpolation, "value", t.interpolation)
    return mode if mode in ("nearest", "bilinear") else None


def random_rotation(t: Any, x: torch.Tensor, g: torch.Generator) -> torch.Tensor | None:
    mode = _mode(t)
    if t.expand or mode is None:
        return None
    n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    angles = _uniform(n, t.degrees[0], t.degrees[1], g)
    zeros = torch.zeros(n, 2, dtype=torch.float64)
    matrices = inverse_affine(_center(t, h, w), -angles, zeros, torch.ones(n, dtype=torch.float64), zeros)
    out = warp(x, matrices, mode, _fill_of(t))
    # torchvision takes exact shortcuts (clone / rot90) for these angles about the centre
    special = (0, 180, 90, 270) if h == w else (0, 180)
    if t.center is None:
        for i, a in enumerate(angles.tolist()):
            if a % 360 in special:
                out[i] = t.transform(x[i], {"angle": a})
    return out


def affine_params(t: Any, n: int, h: int, w: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    """Per-sample ``RandomAffine`` parameters (float64), drawn like its ``make_params``.

    ``angle``, ``scale`` ``[n]``; ``translate`` (whole pixels, rounded) and ``shear`` ``[n, 2]``.
    """
    f64 = torch.float64
    angle = _uniform(n, t.degrees[0], t.degrees[1], g)
    translate = torch.zeros(n, 2, dtype=f64)
    if t.translate is not None:
        dx, dy = float(t.translate[0] * w), float(t.translate[1] * h)
        translate[:, 0] = _uniform(n, -dx, dx, g)
        translate[:, 1] = _uniform(n, -dy, dy, g)
        translate = translate.round()  # Python's round: half to even, like torch.round
    scale = _uniform(n, t.scale[0], t.scale[1], g) if t.scale is not None else torch.ones(n, dtype=f64)
    shear = torch.zeros(n, 2, dtype=f64)
    if t.shear is not None:
        shear[:, 0] = _uniform(n, t.shear[0], t.shear[1], g)
        if len(t.shear) == 4:
            shear[:, 1] = _uniform(n, t.shear[2], t.shear[3], g)
    return {"angle": angle, "translate": translate, "scale": scale, "shear": shear}


def random_affine(t: Any, x: torch.Tensor, g: torch.Generator) -> torch.Tensor | None:
    mode = _mode(t)
    if mode is None:
        return None
    h, w = x.shape[-2:]
    p = affine_params(t, x.shape[0], h, w, g)
    matrices = inverse_affine(_center(t, h, w), p["angle"], p["translate"], p["scale"], p["shear"])
    return warp(x, matrices, mode, _fill_of(t))


# -- colour ----------------------------------------------------------------------------


def _gray(x: torch.Tensor) -> torch.Tensor:
    r, gch, b = x.unbind(dim=-3)
    return r.mul(0.2989).add_(gch, alpha=0.587).add_(b, alpha=0.114).unsqueeze(-3)


def _blend(x: torch.Tensor, other: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    """torchvision's ``_blend`` with a per-sample float64 ratio (``1 - ratio`` taken in float64, as it does)."""
    on = {"dtype": x.dtype, "device": x.device}
    return x.mul(ratio.to(**on)).add_(other * (1.0 - ratio).to(**on)).clamp_(0, 1)


def _hsv() -> tuple[Callable[..., torch.Tensor], Callable[..., torch.Tensor]] | None:
    try:
        from torchvision.transforms.v2.functional._color import _hsv_to_rgb, _rgb_to_hsv
    except ImportError:  # pragma: no cover - a torchvision without these helpers
        return None
    return _rgb_to_hsv, _hsv_to_rgb


def color_jitter_params(t: Any, n: int, g: torch.Generator) -> dict[str, Any]:
    """Per-sample op order (a permutation of 0..3) and factors, drawn like ``ColorJitter.make_params``."""
    order = torch.rand(n, 4, generator=g).argsort(dim=1)
    factors = {}
    for key in ("brightness", "contrast", "saturation", "hue"):
        bounds = getattr(t, key)
        factors[key] = None if bounds is None else _uniform(n, bounds[0], bounds[1], g)
    return {"order": order, **factors}


def color_jitter(t: Any, x: torch.Tensor, g: torch.Generator) -> torch.Tensor | None:
    c = x.shape[-3]
    hsv = _hsv()
    if c not in (1, 3) or (t.hue is not None and hsv is None):
        return None
    p = color_jitter_params(t, x.shape[0], g)
    for stage in range(4):
        for op, key in enumerate(("brightness", "contrast", "saturation", "hue")):
            factor = p[key]
            mask = p["order"][:, stage] == op
            if factor is None or not mask.any():
                continue
            f = factor[mask].view(-1, 1, 1, 1)
            mask = mask.to(x.device)
            sub = x[mask]
            if key == "brightness":
                sub = sub.mul(f.to(sub.dtype).to(sub.device)).clamp_(0, 1)
            elif key == "contrast":
                gray = _gray(sub) if c == 3 else sub
                sub = _blend(sub, gray.mean(dim=(-3, -2, -1), keepdim=True), f)
            elif c == 1:
                continue  # saturation and hue leave one channel alone, like PIL
            elif key == "saturation":
                sub = _blend(sub, _gray(sub), f)
            else:
                to_hsv, to_rgb = hsv  # type: ignore[misc]
                h_, s_, v_ = to_hsv(sub).unbind(dim=-3)
                h_ = h_.add(f.view(-1, 1, 1).to(h_.dtype).to(h_.device)).remainder_(1.0)
                sub = to_rgb(torch.stack((h_, s_, v_), dim=-3))
            x[mask] = sub
    return x


def _table() -> dict[type, Impl]:
    from torchvision.transforms import v2

    return {
        v2.RandomHorizontalFlip: _flip(-1),
        v2.RandomVerticalFlip: _flip(-2),
        v2.RandomGrayscale: random_grayscale,
        v2.RandomCrop: random_crop,
        v2.RandomRotation: random_rotation,
        v2.RandomAffine: random_affine,
        v2.ColorJitter: color_jitter,
    }


BATCHED: dict[type, Impl] = {}


def batched_impl(fn: Any) -> Impl | None:
    """The batched equivalent of exactly this transform class (subclasses may behave differently)."""
    if not BATCHED:
        BATCHED.update(_table())
    return BATCHED.get(type(fn))
