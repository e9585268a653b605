"""Hypothesis strategies for random layer stacks, and a torch reference executor.

The reference builds each torch module from the spec's own arguments, filling
the inferred ones (in_channels, num_features, in_features, num_channels) from
the *real* tensor it receives, and runs it. It never consults cnnspec's
inference, so static accept/reject and shapes can be compared against what
torch itself does.
"""

from __future__ import annotations

import warnings
from typing import Any

from hypothesis import strategies as st

ACTIVATIONS = [
    "relu", "relu6", "leakyrelu", "elu", "celu", "selu", "gelu", "silu", "mish", "hardswish",
    "hardsigmoid", "hardtanh", "sigmoid", "tanh", "softplus", "softsign", "tanhshrink", "logsigmoid",
]


def size_arg(n: int, lo: int, hi: int) -> st.SearchStrategy[Any]:
    scalar = st.integers(lo, hi)
    return st.one_of(scalar, st.lists(scalar, min_size=n, max_size=n)) if n > 1 else scalar


@st.composite
def conv_entry(draw, nd: int) -> dict[str, Any]:
    groups = draw(st.sampled_from([1, 1, 1, 2, 3]))
    args: dict[str, Any] = {
        "out_channels": groups * draw(st.integers(1, 4)),
        "kernel_size": draw(size_arg(nd, 1, 6)),
    }
    if draw(st.booleans()):
        args["stride"] = draw(size_arg(nd, 1, 3))
    if draw(st.booleans()):
        args["padding"] = draw(st.one_of(size_arg(nd, 0, 4), st.sampled_from(["same", "valid"])))
    if draw(st.booleans()):
        args["dilation"] = draw(size_arg(nd, 1, 3))
    if groups > 1:
        args["groups"] = groups
    if draw(st.integers(0, 4)) == 0:
        args["padding_mode"] = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    if draw(st.integers(0, 5)) == 0:
        args["in_channels"] = draw(st.integers(1, 6))
    if draw(st.integers(0, 4)) == 0:
        args["bias"] = False
    return {f"conv{nd}d": args}


@st.composite
def pool_entry(draw, nd: int) -> dict[str, Any]:
    kind = draw(st.sampled_from(["max", "avg"]))
    args: dict[str, Any] = {"kernel_size": draw(size_arg(nd, 1, 5))}
    if draw(st.booleans()):
        args["stride"] = draw(size_arg(nd, 1, 4))
    if draw(st.booleans()):
        args["padding"] = draw(size_arg(nd, 0, 3))
    if draw(st.booleans()):
        args["ceil_mode"] = True
    if kind == "max" and draw(st.integers(0, 3)) == 0:
        args["dilation"] = draw(size_arg(nd, 1, 3))
    if kind == "avg" and draw(st.integers(0, 3)) == 0:
        args["count_include_pad"] = False
    if kind == "avg" and nd > 1 and draw(st.integers(0, 5)) == 0:
        args["divisor_override"] = draw(st.integers(1, 5))
    return {f"{kind}pool{nd}d": args}


@st.composite
def adaptive_entry(draw, nd: int) -> dict[str, Any]:
    kind = draw(st.sampled_from(["adaptiveavgpool", "adaptivemaxpool"]))
    if nd > 1 and draw(st.booleans()):
        out = draw(st.lists(st.one_of(st.none(), st.integers(1, 5)), min_size=nd, max_size=nd))
    else:
        out = draw(st.integers(1, 5))
    return {f"{kind}{nd}d": {"output_size": out}}


@st.composite
def leaf_entry(draw, nd: int) -> Any:
    other_nd = draw(st.sampled_from([1, 2, 3, nd, nd, nd, nd, nd]))
    choice = draw(st.integers(0, 19))
    if choice <= 4:
        return draw(conv_entry(other_nd))
    if choice <= 7:
        return draw(pool_entry(other_nd))
    if choice == 8:
        return draw(adaptive_entry(other_nd))
    if choice == 9:
        args = {} if draw(st.booleans()) else {"num_features": draw(st.integers(1, 6))}
        return {f"batchnorm{draw(st.sampled_from([1, 2, 3, nd]))}d": args}
    if choice == 10:
        return {"groupnorm": {"num_groups": draw(st.integers(1, 4))}}
    if choice == 11:
        args = {"out_features": draw(st.integers(1, 8))}
        if draw(st.integers(0, 4)) == 0:
            args["in_features"] = draw(st.integers(1, 20))
        return {"linear": args}
    if choice == 12:
        args = {}
        if draw(st.booleans()):
            args["start_dim"] = draw(st.integers(-4, 3).filter(lambda d: d != 0))
        if draw(st.booleans()):
            args["end_dim"] = draw(st.integers(-4, 3))
        return {"flatten": args} if args else "flatten"
    if choice == 13:
        name = draw(st.sampled_from(["softmax", "logsoftmax", "softmin"]))
        return {name: {"dim": draw(st.integers(-5, 4))}} if draw(st.booleans()) else name
    if choice == 14:
        name = draw(st.sampled_from(["dropout", "dropout1d", "dropout2d", "dropout3d", "alphadropout"]))
        return {name: {"p": draw(st.sampled_from([0.0, 0.25, 0.5]))}}
    if choice == 15:
        return {"prelu": {"num_parameters": draw(st.sampled_from([1, 1, 2, 3, 4]))}}
    if choice == 16:
        return {"layernorm": {"normalized_shape": draw(st.integers(1, 12))}}
    if choice == 17:
        dim = draw(st.integers(-3, 3).filter(lambda d: d != 0))
        sizes = draw(st.lists(st.sampled_from([-1, 1, 2, 3, 4]), min_size=1, max_size=3))
        return {"unflatten": {"dim": dim, "unflattened_size": sizes}}
    if choice == 18:
        return "identity"
    return draw(st.sampled_from(ACTIVATIONS))


@st.composite
def entry(draw, nd: int, depth: int) -> Any:
    if depth < 2 and draw(st.integers(0, 9)) == 0:
        kind = draw(st.sampled_from(["residual", "concat", "repeat", "sequential"]))
        body = draw(st.lists(entry(nd, depth + 1), min_size=1, max_size=3))
        if kind == "residual":
            args: dict[str, Any] = {"layers": body}
            if draw(st.booleans()):
                args["shortcut"] = draw(st.lists(entry(nd, depth + 1), min_size=1, max_size=2))
            return {"residual": args}
        if kind == "concat":
            extra = draw(st.lists(st.lists(entry(nd, depth + 1), min_size=1, max_size=2), min_size=1, max_size=2))
            args = {"branches": [body, *extra]}
            if draw(st.integers(0, 3)) == 0:
                args["dim"] = draw(st.integers(-3, 3))
            return {"concat": args}
        if kind == "repeat":
            return {"repeat": {"times": draw(st.integers(1, 3)), "layers": body}}
        return {"sequential": {"layers": body}}
    return draw(leaf_entry(nd))


@st.composite
def stacks(draw) -> tuple[list[int], list[Any]]:
    nd = draw(st.sampled_from([1, 2, 2, 2, 3]))
    hi = {1: 30, 2: 20, 3: 8}[nd]
    shape = [draw(st.integers(1, 6)), *(draw(st.integers(1, hi)) for _ in range(nd))]
    layers = draw(st.lists(entry(nd, 0), min_size=1, max_size=6))
    return shape, layers


# -- the torch reference -----------------------------------------------------------------

_INFERRED = {
    "in_channels": lambda x: x.shape[1],
    "num_features": lambda x: x.shape[1],
    "num_channels": lambda x: x.shape[1],
    "in_features": lambda x: x.shape[-1],
}


def _torch_class(name: str) -> Any:
    from torch import nn

    lookup = {n.lower(): getattr(nn, n) for n in dir(nn) if isinstance(getattr(nn, n), type)}
    return lookup[name.lower()]


def _split(item: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(item, str):
        return item, {}
    ((name, args),) = item.items()
    return name, dict(args or {})


class Reference:
    """Runs a layer list in torch, counting parameters; any exception = torch rejects."""

    def __init__(self) -> None:
        self.params = 0

    @staticmethod
    def check_documented_limits(cls_name: str, args: dict[str, Any], x: Any) -> None:
        """Where cnnspec is stricter than torch, on purpose (docs/errors.md).

        Each only "works" in torch by mixing the batch into a sample: a channel-dependent
        layer given an input without a batch dim (torch then reads the batch as channels),
        flatten/unflatten/concat along the batch dim itself, and (in ``one``) adding residual
        paths of different ranks, which broadcasts the batch dim against a sample dim.
        """
        expected = {"Conv1d": 3, "Conv2d": 4, "Conv3d": 5}.get(cls_name)
        if expected is not None and x.dim() != expected:
            raise RuntimeError(f"{cls_name} needs a batched input of {expected} dims")
        rank = x.dim()
        if cls_name == "Flatten" and args.get("start_dim", 1) % rank == 0:
            raise RuntimeError("flatten over the batch dim")
        if cls_name == "Unflatten" and args["dim"] % rank == 0:
            raise RuntimeError("unflatten of the batch dim")

    def run(self, layers: list[Any], x: Any) -> Any:
        for item in layers:
            x = self.one(item, x)
        return x

    def one(self, item: Any, x: Any) -> Any:
        import torch

        name, args = _split(item)
        if name == "sequential":
            return self.run(args["layers"], x)
        if name == "repeat":
            for _ in range(args["times"]):
                x = self.run(args["layers"], x)
            return x
        if name == "residual":
            skip = self.run(args["shortcut"], x) if args.get("shortcut") else x
            body = self.run(args["layers"], x)
            if body.dim() != skip.dim():
                # torch would line the batch dim up against a sample dim
                raise RuntimeError("residual paths of different ranks (documented limit)")
            return body + skip
        if name == "concat":
            outs = [self.run(branch, x) for branch in args["branches"]]
            if args.get("dim", 1) % outs[0].dim() == 0:
                raise RuntimeError("concatenating along the batch dim (documented limit)")
            return torch.cat(outs, dim=args.get("dim", 1))
        cls = _torch_class(name)
        self.check_documented_limits(cls.__name__, args, x)
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in args.items() if k != "name"}
        import inspect

        params = inspect.signature(cls).parameters
        for key, infer in _INFERRED.items():
            if key in params and key not in kwargs:
                kwargs[key] = infer(x)
        if name.lower() in ("softmax", "logsoftmax", "softmin") and "dim" not in kwargs:
            kwargs["dim"] = 1  # cnnspec's documented default
        return self.forward(cls(**kwargs), x)

    def forward(self, module: Any, x: Any) -> Any:
        """Run one built module, counting its parameters; an empty output is a failure, as for cnnspec."""
        self.params += sum(p.numel() for p in module.parameters())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = module(x)
        if out.numel() == 0:
            raise RuntimeError("empty output")
        return out
