"""Reading a checkpoint without trusting it.

Checks, in order: the zip container's CRC-32 of every record (a bit flip in
tensor data otherwise loads silently — torch does not check it), a static scan
of the pickle that allows only the globals a ``torch.save`` of tensors and
plain values produces, and torch's own weights-only unpickler, always asked for
explicitly: torch lets ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` override only a
call that left ``weights_only`` unset. Either fence alone refuses a pickle
that would run code; both are tested separately.

Also the write-side check: no floating-point tensor with NaN/inf is saved.
"""

from __future__ import annotations

import io
import math
import pickletools
import zipfile
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from cnnspec.checkpoint.errors import CorruptCheckpointError, NonFiniteStateError, UnsafeCheckpointError

__all__ = ["check_finite", "scan_pickle", "torch_load", "verify_container"]


@lru_cache(maxsize=1)
def _allowed_globals() -> frozenset[tuple[str, str]]:
    import torch

    allowed = {
        # containers and scalars that optimizer / scheduler state dicts use
        ("collections", "OrderedDict"), ("collections", "Counter"), ("builtins", "set"), ("builtins", "complex"),
        ("builtins", "bytearray"), ("_codecs", "encode"),
        # tensors, parameters and their metadata
        ("torch", "Size"), ("torch", "device"), ("torch", "Tensor"), ("torch.serialization", "_get_layout"),
        ("torch.nn.parameter", "Parameter"), ("torch._tensor", "_rebuild_from_type_v2"),
        *(("torch._utils", f"_rebuild_{kind}") for kind in (
            "tensor", "tensor_v2", "tensor_v3", "parameter", "parameter_with_state", "sparse_tensor", "qtensor",
            "meta_tensor_no_storage", "device_tensor_from_cpu_tensor")),
    }
    for attr in dir(torch):
        obj = getattr(torch, attr, None)
        if isinstance(obj, torch.dtype) or (attr.endswith("Storage") and isinstance(obj, type)):
            allowed.add(("torch", attr))
    return frozenset(allowed)


_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING"}
_REFUSED_OPS = {"INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "EXT1", "EXT2", "EXT4"}
_PUT_OPS = {"MEMOIZE", "BINPUT", "LONG_BINPUT", "PUT"}
_GET_OPS = {"BINGET", "LONG_BINGET", "GET"}


def scan_pickle(data: bytes) -> None:
    """Refuse a pickle naming any global outside the tensor-checkpoint allowlist.

    The opcodes are read, never executed. ``STACK_GLOBAL`` takes its names
    from the stack, so the two values pushed just before it must be known
    strings (literals or memo entries holding literals); anything computed is
    refused. Raises :class:`UnsafeCheckpointError` or, for a malformed
    stream, :class:`CorruptCheckpointError`.
    """
    allowed = _allowed_globals()
    memo: dict[int, Any] = {}
    pushed: list[Any] = []  # what each opcode left on top (None: not a known string)
    try:
        for op, arg, _ in pickletools.genops(data):
            name = op.name
            if name in _REFUSED_OPS:
                raise UnsafeCheckpointError(f"the pickle uses the opcode {name}, which a weights file never needs")
            if name in _PUT_OPS:
                memo[len(memo) if name == "MEMOIZE" else int(arg)] = pushed[-1] if pushed else None
                continue
            if name in _GET_OPS:
                pushed.append(memo.get(int(arg)))
                continue
            if name == "GLOBAL":
                module, _, attr = str(arg).partition(" ")
            elif name == "STACK_GLOBAL":
                if len(pushed) < 2 or not all(isinstance(v, str) for v in pushed[-2:]):
                    raise UnsafeCheckpointError("the pickle builds a global from computed values")
                module, attr = pushed[-2], pushed[-1]
            else:
                pushed.append(arg if name in _STRING_OPS else None)
                continue
            if (module, attr) not in allowed:
                raise UnsafeCheckpointError(f"the pickle refers to {module}.{attr}, which is not tensor data")
            pushed.append(None)
    except (ValueError, IndexError) as exc:
        raise CorruptCheckpointError(f"the pickle is malformed: {exc}") from None


def verify_container(data: bytes) -> None:
    """Zip structure, every record's CRC-32, then every pickle inside."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise CorruptCheckpointError(f"record {bad} fails its CRC-32 check (the file was altered)")
            pickles = [n for n in zf.namelist() if n.endswith(".pkl")]
            if not pickles:
                raise CorruptCheckpointError("no data.pkl inside: not a torch checkpoint")
            for n in pickles:
                scan_pickle(zf.read(n))
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise CorruptCheckpointError(f"not a complete checkpoint archive ({exc}); it may be truncated, "
                                     "or a legacy pickle file, which cnnspec never loads") from None


def torch_load(data: bytes, map_location: Any = "cpu") -> Any:
    """The only place cnnspec unpickles: torch's weights-only unpickler, always explicit."""
    import pickle

    import torch

    try:
        return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(f"torch's weights-only loader refused it: {str(exc).splitlines()[0]}") from None
    except (RuntimeError, EOFError, ValueError, KeyError) as exc:
        raise CorruptCheckpointError(f"torch could not read it: {str(exc).splitlines()[0]}") from None


def _tensors(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    import torch

    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            yield from _tensors(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _tensors(v, f"{prefix}[{i}]")


def check_finite(state: Mapping[str, Any]) -> None:
    """Raise :class:`NonFiniteStateError` naming the first floating tensor with NaN/inf."""
    import torch

    for name, t in _tensors(state):
        if t.is_complex():
            t = torch.view_as_real(t)
        if not t.is_floating_point() or t.numel() == 0:
            continue
        try:  # min and max propagate NaN and show inf: 25x faster than isfinite(t).all(), no allocation
            lo, hi = torch.aminmax(t.detach())
            finite = math.isfinite(lo.item()) and math.isfinite(hi.item())
        except RuntimeError:  # a dtype without aminmax
            finite = bool(torch.isfinite(t).all())
        if not finite:
            raise NonFiniteStateError(f"{name} holds non-finite values (NaN or inf); checkpoint not written")
