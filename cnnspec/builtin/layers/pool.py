"""Pooling: max, average and adaptive pools in 1-3 spatial dims.

Pools do not look at channels, so like torch they accept an input with or
without a leading channel dim (torch treats a batched ``[N, H, W]`` as one
unbatched ``[C, H, W]`` image; per sample the result is the same).
"""

from __future__ import annotations

from pydantic import Field

from cnnspec.argtypes import Size
from cnnspec.layer import LayerParams, LayerShape, LayerType, ShapeContext, torch_module
from cnnspec.shapes.arithmetic import dim_names, ntuple, pool_arithmetic, pool_size

__all__ = ["LAYERS"]


def _max_params(n: int) -> type[LayerParams]:
    class MaxPoolParams(LayerParams):
        kernel_size: Size(n)  # type: ignore[valid-type]
        stride: Size(n) | None = None  # type: ignore[valid-type]
        padding: Size(n, 0) = 0  # type: ignore[valid-type]
        dilation: Size(n) = 1  # type: ignore[valid-type]
        ceil_mode: bool = False

    MaxPoolParams.__name__ = MaxPoolParams.__qualname__ = f"MaxPool{n}dParams"
    return MaxPoolParams


def _avg_params(n: int) -> type[LayerParams]:
    class AvgPoolParams(LayerParams):
        kernel_size: Size(n)  # type: ignore[valid-type]
        stride: Size(n) | None = None  # type: ignore[valid-type]
        padding: Size(n, 0) = 0  # type: ignore[valid-type]
        ceil_mode: bool = False
        count_include_pad: bool = True

    if n > 1:

        class AvgPoolParamsOverride(AvgPoolParams):
            divisor_override: int | None = Field(default=None, ge=1)

        AvgPoolParams = AvgPoolParamsOverride
    AvgPoolParams.__name__ = AvgPoolParams.__qualname__ = f"AvgPool{n}dParams"
    return AvgPoolParams


def _adaptive_params(n: int) -> type[LayerParams]:
    class AdaptiveParams(LayerParams):
        output_size: Size(n, 1, allow_none=True)  # type: ignore[valid-type]

    AdaptiveParams.__name__ = AdaptiveParams.__qualname__ = f"AdaptivePool{n}dParams"
    return AdaptiveParams


def make_pool_infer(n: int, *, input_covers_kernel: bool = False):
    """``input_covers_kernel``: torch's 3-D average pool also requires every
    unpadded input dim to be at least the kernel (found by the differential test)."""

    def infer(p, shape, ctx: ShapeContext) -> LayerShape:
        ctx.require_rank([n, n + 1], f"optional channels and {n} spatial")
        k = ntuple(p.kernel_size, n)
        s = ntuple(p.stride, n) if p.stride is not None else k
        pad = ntuple(p.padding, n)
        d = ntuple(getattr(p, "dilation", 1), n)
        for ki, pi in zip(k, pad):
            if pi > ki // 2:
                ctx.fail(
                    f"padding {pi} is more than half of kernel_size {ki} (torch refuses it)",
                    hint=f"padding <= {ki // 2}, or kernel_size >= {2 * pi}", arg="padding",
                )
        lead, sizes = shape[: len(shape) - n], shape[len(shape) - n :]
        out = []
        for size, ki, si, pi, di, dim in zip(sizes, k, s, pad, d, dim_names(n)):
            o = pool_size(size, ki, si, pi, di, p.ceil_mode)
            if input_covers_kernel:
                ctx.require_positive(
                    size - ki + 1, what=f"{dim} {size} minus kernel_size {ki} plus 1",
                    arithmetic=f"{size} - {ki} + 1 = {size - ki + 1} (AvgPool3d needs the unpadded input to cover "
                    "the kernel)",
                    hint=f"kernel_size <= {size}" if isinstance(size, int) else None, arg="kernel_size",
                )
            hint = None
            if isinstance(size, int):
                hint = f"kernel_size <= {(size + 2 * pi - 1) // di + 1}, or a larger input."
            ctx.require_positive(
                o, what=f"output {dim}", arithmetic=pool_arithmetic(size, ki, si, pi, di, p.ceil_mode), hint=hint,
                arg=("dilation", "kernel_size") if di > 1 else "kernel_size",
            )
            out.append(o)
        return LayerShape(
            shape=(*lead, *out),
            kwargs=p.kwargs(),
            rf=tuple((di * (ki - 1) + 1, si) for ki, si, di in zip(k, s, d)),
        )

    return infer


def make_adaptive_infer(n: int, mean_shortcut: bool = False):
    """The adaptive pools' rule. torch computes AdaptiveAvgPool2d/3d to an all-ones output as a
    mean over the last ``n`` dims, which accepts any number of leading dims (``mean_shortcut``)."""

    def infer(p, shape, ctx: ShapeContext) -> LayerShape:
        target = ntuple(p.output_size, n)
        if mean_shortcut and all(t == 1 for t in target) and len(shape) > n + 1:
            pass  # torch's mean over the last n dims: any leading dims
        else:
            ctx.require_rank([n, n + 1], f"optional channels and {n} spatial")
        lead, sizes = shape[: len(shape) - n], shape[len(shape) - n :]
        out = tuple(size if t is None else t for size, t in zip(sizes, target))
        return LayerShape(shape=(*lead, *out), kwargs=p.kwargs(), rf="global")

    return infer


LAYERS = []
for _n in (1, 2, 3):
    LAYERS += [
        LayerType(f"MaxPool{_n}d", _max_params(_n), make_pool_infer(_n), torch_module(f"MaxPool{_n}d"),
                  prefix="pool", doc="Max pooling; stride defaults to kernel_size."),
        LayerType(f"AvgPool{_n}d", _avg_params(_n), make_pool_infer(_n, input_covers_kernel=_n == 3),
                  torch_module(f"AvgPool{_n}d"),
                  prefix="pool", doc="Average pooling; stride defaults to kernel_size."),
        LayerType(f"AdaptiveAvgPool{_n}d", _adaptive_params(_n), make_adaptive_infer(_n, mean_shortcut=_n > 1),
                  torch_module(f"AdaptiveAvgPool{_n}d"), prefix="gap",
                  doc="Average pooling to a fixed output size; null keeps that input dim."),
        LayerType(f"AdaptiveMaxPool{_n}d", _adaptive_params(_n), make_adaptive_infer(_n),
                  torch_module(f"AdaptiveMaxPool{_n}d"), prefix="gmp",
                  doc="Max pooling to a fixed output size; null keeps that input dim."),
    ]
