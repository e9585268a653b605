"""Weights into a model: one reader, one fit check, one message for every command."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

from cnnspec.build import build_model
from cnnspec.build.weights import (
    WeightsMismatchError,
    check_fit,
    fit_state,
    mismatch_message,
    read_weights,
    state_dict_of,
)
from cnnspec.checkpoint import CheckpointError, UnsafeCheckpointError, save_checkpoint
from cnnspec.exceptions import CnnspecError, SpecError
from cnnspec.spec import load_spec

SPEC = """
name: tiny
input: [1, 8, 8]
model:
  - conv2d: {out_channels: 4, kernel_size: 3}
  - relu
  - flatten
  - linear: {out_features: 3}
"""


def _net(channels: int = 4, extra: bool = False) -> nn.Sequential:
    layers = [nn.Conv2d(1, channels, 3), nn.ReLU(), nn.Flatten(), nn.Linear(channels * 36, 3)]
    return nn.Sequential(*layers, *([nn.Linear(3, 2)] if extra else []))


def _message(expected: nn.Module, given: nn.Module, **kwargs) -> str:
    with pytest.raises(WeightsMismatchError) as info:
        check_fit(expected.state_dict(), given.state_dict(), **kwargs)
    return str(info.value)


# -- the one message -------------------------------------------------------------------


def test_missing_keys_are_counted_and_named() -> None:
    assert _message(_net(extra=True), _net(), source="w.pt") == (
        "the weights in w.pt do not fit the spec's model: 2 missing keys\n"
        "  missing (in the model, not in the file): 4.weight, 4.bias\n"
        "  Hint: were these weights trained from this spec? `cnnspec diff A B` compares two specs")


def test_unexpected_keys_are_counted_and_named() -> None:
    assert _message(_net(), _net(extra=True), source="w.pt") == (
        "the weights in w.pt do not fit the spec's model: 2 unexpected keys\n"
        "  unexpected (in the file, not in the model): 4.weight, 4.bias\n"
        "  Hint: were these weights trained from this spec? `cnnspec diff A B` compares two specs")


def test_shape_mismatches_show_both_shapes() -> None:
    assert _message(_net(channels=4), _net(channels=6), source="w.pt") == (
        "the weights in w.pt do not fit the spec's model: 3 shape mismatches\n"
        "  shape mismatch: 0.weight is [6, 1, 3, 3] in the file, [4, 1, 3, 3] in the model\n"
        "  shape mismatch: 0.bias is [6] in the file, [4] in the model\n"
        "  shape mismatch: 3.weight is [3, 216] in the file, [3, 144] in the model\n"
        "  Hint: were these weights trained from this spec? `cnnspec diff A B` compares two specs")


def test_every_kind_at_once_in_one_message_with_the_callers_subject_and_hint() -> None:
    given = {"0.weight": torch.zeros(6, 1, 3, 3), "0.bias": torch.zeros(6), "3.weight": torch.zeros(3, 144),
             "3.bias": torch.zeros(3), "5.weight": torch.zeros(2)}
    with pytest.raises(WeightsMismatchError) as info:
        check_fit(_net(extra=True).state_dict(), given, source=Path("runs/a/last.pt"),
                  subject="torchvision's ResNet", hint="use the same model")
    assert str(info.value).splitlines() == [
        "the weights in runs/a/last.pt do not fit torchvision's ResNet: 2 missing keys, 1 unexpected key, "
        "2 shape mismatches",
        "  missing (in the model, not in the file): 4.weight, 4.bias",
        "  unexpected (in the file, not in the model): 5.weight",
        "  shape mismatch: 0.weight is [6, 1, 3, 3] in the file, [4, 1, 3, 3] in the model",
        "  shape mismatch: 0.bias is [6] in the file, [4] in the model",
        "  Hint: use the same model",
    ]


def test_long_lists_are_cut_with_a_count_and_one_of_each_is_singular() -> None:
    keys = [f"k{i}" for i in range(7)]
    shapes = [(f"s{i}", [i], [i + 1]) for i in range(5)]
    assert mismatch_message("f.pt", "the spec's model", keys, ["u"], shapes).splitlines() == [
        "the weights in f.pt do not fit the spec's model: 7 missing keys, 1 unexpected key, 5 shape mismatches",
        "  missing (in the model, not in the file): k0, k1, k2, k3 and 3 more",
        "  unexpected (in the file, not in the model): u",
        "  shape mismatch: s0 is [0] in the file, [1] in the model",
        "  shape mismatch: s1 is [1] in the file, [2] in the model",
        "  shape mismatch: s2 is [2] in the file, [3] in the model",
        "  ... and 2 more shape mismatches",
    ]
    assert mismatch_message("f.pt", "m", ["a"], [], [("s", [1], [2])] * 4).splitlines()[0] == \
        "the weights in f.pt do not fit m: 1 missing key, 4 shape mismatches"
    assert mismatch_message("f.pt", "m", [], [], [("s", [1], [2])] * 4).splitlines()[-1] == \
        "  ... and 1 more shape mismatch"


def test_without_a_source_the_message_speaks_of_the_weights() -> None:
    assert _message(_net(channels=4), _net(channels=6)).splitlines()[:2] == [
        "the weights do not fit the spec's model: 3 shape mismatches",
        "  shape mismatch: 0.weight is [6, 1, 3, 3] in the weights, [4, 1, 3, 3] in the model"]


def test_the_error_is_a_spec_error_carrying_what_differs() -> None:
    with pytest.raises(WeightsMismatchError) as info:
        check_fit(_net(channels=4, extra=True).state_dict(), _net(channels=6).state_dict(), source="w.pt")
    error = info.value
    assert isinstance(error, SpecError) and isinstance(error, CnnspecError)
    assert error.missing == ["4.weight", "4.bias"] and error.unexpected == []
    assert error.shapes[0] == ("0.weight", [6, 1, 3, 3], [4, 1, 3, 3]) and len(error.shapes) == 3
    assert error.hint and "cnnspec diff" in error.hint


# -- fitting -------------------------------------------------------------------------------


def test_fit_state_loads_all_or_nothing() -> None:
    target, source = _net(), _net()
    before = {k: v.clone() for k, v in target.state_dict().items()}
    wrong = {**source.state_dict(), "0.bias": torch.zeros(5)}
    with pytest.raises(WeightsMismatchError, match=r"0\.bias is \[5\] in the file, \[4\] in the model"):
        fit_state(target, wrong, source="w.pt")
    assert all(torch.equal(v, before[k]) for k, v in target.state_dict().items())
    fit_state(target, source.state_dict(), source="w.pt")
    assert all(torch.equal(v, source.state_dict()[k]) for k, v in target.state_dict().items())


def test_keep_checks_and_loads_only_the_kept_modules() -> None:
    target, source = _net(extra=True), _net(channels=6)
    with pytest.raises(WeightsMismatchError, match="3 shape mismatches"):
        fit_state(target, source.state_dict(), keep=("0", "3", "4"))
    with pytest.raises(WeightsMismatchError, match=r"1 shape mismatch\n  shape mismatch: 3\.weight"):
        fit_state(target, source.state_dict(), keep=("3",))
    fit_state(target, _net().state_dict(), keep=("0",))  # 3 may differ, 4 may be absent: they are not kept
    same = _net()
    fit_state(target, same.state_dict(), keep=("0", "3"))
    assert torch.equal(target[0].weight, same[0].weight) and torch.equal(target[3].weight, same[3].weight)


def test_shapes_are_compared_on_the_meta_device_too() -> None:
    with torch.device("meta"):
        expected = _net(channels=4).state_dict()
    check_fit(expected, _net(channels=4).state_dict())
    with pytest.raises(WeightsMismatchError, match="3 shape mismatches"):
        check_fit(expected, _net(channels=6).state_dict())


# -- reading -------------------------------------------------------------------------------


@pytest.mark.parametrize("wrap", [None, "model", "state_dict", "trainer"])
def test_the_state_dict_is_found_wherever_a_file_keeps_it(tmp_path: Path, wrap: str | None) -> None:
    state = _net().state_dict()
    held = {"trainer": {"model": state, "step": 3}} if wrap == "trainer" else {wrap: state, "epoch": 3} if wrap \
        else state
    path = tmp_path / "w.pt"
    torch.save(held, path)
    weights = read_weights(path)
    assert weights.path == path and list(weights.state) == list(state)
    assert all(torch.equal(weights.state[k], v) for k, v in state.items())
    assert weights.describe() == str(path)


def test_a_checkpoint_and_its_run_directory_give_the_same_weights(tmp_path: Path) -> None:
    state = _net().state_dict()
    save_checkpoint(tmp_path / "run" / "checkpoints", "epoch0002.pt", {"model": state}, meta={"epoch": 2})
    file = tmp_path / "run" / "checkpoints" / "epoch0002.pt"
    for given in (file, tmp_path / "run"):
        weights = read_weights(given)
        assert weights.path == file and weights.describe() == f"{file} (epoch 2)"
        assert weights.held["meta"]["epoch"] == 2 and list(weights.state) == list(state)


def test_a_file_without_a_state_dict_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.pt"
    torch.save({"epoch": 3, "model": "resnet"}, path)
    with pytest.raises(CheckpointError, match=r"notes\.pt holds no model weights: it is neither a state dict nor a "
                                              r"checkpoint with one under 'model' or 'state_dict'"):
        read_weights(path)
    with pytest.raises(CheckpointError, match="holds no model weights"):
        state_dict_of({}, "empty.pt")


class _RunsCode:
    def __reduce__(self):
        return os.system, ("true",)


def test_a_file_that_would_run_code_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"model": _net().state_dict(), "extra": _RunsCode()}, path, pickle_protocol=pickle.DEFAULT_PROTOCOL)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(UnsafeCheckpointError):
        read_weights(path)


# -- every command uses it -------------------------------------------------------------------


@pytest.fixture()
def other_weights(tmp_path: Path) -> Path:
    """Weights of a model with 6 channels, where the spec has 4."""
    path = tmp_path / "other.pt"
    torch.save(build_model(load_spec(SPEC.replace("out_channels: 4", "out_channels: 6"))).state_dict(), path)
    return path


def _first_lines(error: BaseException) -> list[str]:
    return str(error).splitlines()[:2]


def test_evaluate_export_and_explain_refuse_with_the_one_message(other_weights: Path) -> None:
    from cnnspec.build.export import load_weights as export_load_weights
    from cnnspec.engine import evaluate
    from cnnspec.explain import explain, load_weights

    expected = [f"the weights in {other_weights} do not fit the spec's model: 3 shape mismatches",
                "  shape mismatch: conv1.weight is [6, 1, 3, 3] in the file, [4, 1, 3, 3] in the model"]
    spec = load_spec(SPEC)
    with pytest.raises(WeightsMismatchError) as info:
        evaluate(spec, other_weights, device="cpu")
    assert _first_lines(info.value) == expected
    with pytest.raises(WeightsMismatchError) as info:
        export_load_weights(build_model(spec), other_weights)
    assert _first_lines(info.value) == expected
    state, _, file = load_weights(other_weights)
    with pytest.raises(WeightsMismatchError) as info:
        explain(spec, state, torch.zeros(1, 1, 8, 8), output=other_weights.parent / "out", source=file)
    assert _first_lines(info.value) == expected
    assert not (other_weights.parent / "out").exists()
