"""Pure shape arithmetic: PyTorch's output-size rules, their working, and hints.

Each rule here is written once for ``int`` and symbolic dims alike, and comes
with the text that shows its arithmetic in an error message, so a user sees
``floor((4 + 2*0 - 1*(5-1) - 1) / 1) + 1 = 0`` instead of a stack trace.
Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence

from cnnspec.symbolic import Dim, ceildiv, floordiv, indicator

__all__ = [
    "conv_arithmetic",
    "conv_fit_hint",
    "conv_size",
    "dim_names",
    "ntuple",
    "pool_arithmetic",
    "pool_size",
    "same_padding",
]


def ntuple(value: int | Sequence[int | None] | None, n: int) -> tuple:
    """``3 -> (3, 3)``; a sequence is returned as a tuple unchanged."""
    if value is None or isinstance(value, int):
        return (value,) * n
    return tuple(value)


def dim_names(n_spatial: int) -> tuple[str, ...]:
    """Readable names of the trailing spatial dims, for messages."""
    return {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}.get(
        n_spatial, tuple(f"dim {i}" for i in range(n_spatial))
    )


def conv_size(size: Dim, kernel: int, stride: int, padding: int, dilation: int) -> Dim:
    """``floor((W + 2P - D(K-1) - 1) / S) + 1``, exactly as torch computes it."""
    return floordiv(size + 2 * padding - dilation * (kernel - 1) - 1, stride) + 1


def conv_arithmetic(size: Dim, kernel: int, stride: int, padding: int, dilation: int) -> str:
    out = conv_size(size, kernel, stride, padding, dilation)
    return (
        f"floor(({size} + 2*{padding} - {dilation}*({kernel}-1) - 1) / {stride}) + 1 = {out}"
    )


def same_padding(kernel: int, dilation: int) -> tuple[int, int]:
    """torch's split of ``padding='same'``: the odd pixel goes to the right."""
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2


def pool_size(
    size: Dim, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool
) -> Dim:
    """Pooling output size, including ``ceil_mode``'s dropped last window.

    With ``ceil_mode`` torch rounds up, then drops the last window when it
    would start inside the right padding: ``if (out-1)*S >= W + P: out -= 1``.
    That correction only ever fires when ``(-n) mod S >= eff - P`` (with
    ``n = W + 2P - eff``), impossible when ``eff - P >= S`` — the usual case —
    so symbolic results only carry the bracket where it can matter.
    """
    eff = dilation * (kernel - 1) + 1
    n = size + 2 * padding - eff
    if not ceil_mode:
        return floordiv(n, stride) + 1
    out = ceildiv(n, stride) + 1
    if isinstance(out, int):
        return out - 1 if (out - 1) * stride >= size + padding else out
    if eff - padding >= stride:
        return out
    return out - indicator((out - 1) * stride - (size + padding), 0)


def pool_arithmetic(
    size: Dim, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool
) -> str:
    out = pool_size(size, kernel, stride, padding, dilation, ceil_mode)
    rnd = "ceil" if ceil_mode else "floor"
    text = f"{rnd}(({size} + 2*{padding} - {dilation}*({kernel}-1) - 1) / {stride}) + 1"
    if ceil_mode:
        text += " (less one if the last window starts in the padding)"
    return f"{text} = {out}"


def conv_fit_hint(size: int, kernel: int, padding: int, dilation: int, what: str) -> str:
    """The largest kernel and the smallest padding that would make ``size`` fit."""
    max_kernel = (size + 2 * padding - 1) // dilation + 1
    need = dilation * (kernel - 1) + 1 - size
    min_padding = -(-need // 2)
    options = []
    if max_kernel >= 1:
        options.append(f"kernel_size <= {max_kernel}")
    if what == "conv" or min_padding <= kernel // 2:
        options.append(f"padding >= {min_padding}")
    options.append("a larger input")
    return ", or ".join(options) + "."
