"""``cnnspec export``: the written file, read back, computes the eager model's function.

Checked independently of cnnspec's own check: the .pt2 is loaded with
``torch.export.load`` and the .onnx with onnx's reference evaluator, on a
batch size other than the traced one, and compared with the model carrying
the checkpoint's weights.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cnnspec import build_model, load_spec
from cnnspec.build.export import ExportError, export_model
from cnnspec.checkpoint import save_checkpoint
from cnnspec.cli import main
from tests.conftest import SPECS

LENET = SPECS / "seed000_lenet_cifar10.yaml"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """LeNet with weights unlike its initialisation, saved as a bare state_dict."""
    torch.manual_seed(123)
    model = build_model(load_spec(LENET)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    path = tmp_path_factory.mktemp("ckpt") / "lenet.pth"
    torch.save(model.state_dict(), path)
    return model, path


def test_pt2_export_reproduces_the_checkpointed_model(trained, tmp_path, capsys):
    model, ckpt = trained
    out = tmp_path / "lenet.pt2"
    assert main(["export", str(LENET), "--checkpoint", str(ckpt), "--format", "pt2", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"exported to {out} (pt2, " in text
    assert "check: torch.export.load vs eager torch on batches of 1 and 3: max abs diff 0 " in text
    assert text.rstrip().endswith("— ok")
    program = torch.export.load(str(out))
    x = torch.randn(5, 3, 32, 32)  # traced with 2: the batch is dynamic
    with torch.no_grad():
        assert torch.equal(program.module()(x), model(x))


def test_onnx_export_checked_by_onnx_itself(trained, tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx.reference import ReferenceEvaluator

    model, ckpt = trained
    report = export_model(load_spec(LENET), fmt="onnx", checkpoint=ckpt, output=tmp_path / "m.onnx")
    assert report.ok and report.files == [tmp_path / "m.onnx"]
    assert 0 <= report.max_abs_diff < 1e-5
    proto = onnx.load(str(tmp_path / "m.onnx"))
    onnx.checker.check_model(proto, full_check=True)
    x = torch.randn(4, 3, 32, 32)
    (got,) = ReferenceEvaluator(proto).run(None, {"input": x.numpy()})
    with torch.no_grad():
        want = model(x).numpy()
    assert got.shape == (4, 10)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_checkpoint_files_and_run_directories(trained, tmp_path):
    """A cnnspec checkpoint ({"model": ...} with a manifest) or its run directory."""
    model, _ = trained
    spec = load_spec(LENET)
    run = tmp_path / "run"
    save_checkpoint(run / "checkpoints", "epoch3.pt", {"model": model.state_dict()}, meta={"epoch": 3}, spec=spec)
    from cnnspec.build.export import load_weights

    for source in (run / "checkpoints" / "epoch3.pt", run):
        fresh = build_model(spec)
        where = load_weights(fresh, source)
        assert where == f"{run / 'checkpoints' / 'epoch3.pt'} (epoch 3)"
        assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), model.state_dict().values()))


def test_a_checkpoint_of_another_spec_is_refused(trained, capsys):
    _, ckpt = trained
    rc = main(["export", str(SPECS / "seed004_simplecnn.yaml"), "--checkpoint", str(ckpt)])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"the weights in {ckpt} do not fit the spec's model: 2 missing keys, 7 shape mismatches\n" in err
    assert "  missing (in the model, not in the file): conv3.weight, conv3.bias\n" in err
    assert "  shape mismatch: conv1.weight is [20, 3, 5, 5] in the file, [32, 3, 3, 3] in the model\n" in err
    assert "  ... and 4 more shape mismatches\n  Hint: were these weights trained from this spec?" in err
    assert "Traceback" not in err


def test_missing_checkpoint_and_symbolic_input_are_user_errors(tmp_path, write_spec, capsys):
    assert main(["export", str(LENET), "--checkpoint", str(tmp_path / "nope.pt")]) == 2
    assert "nope.pt not found" in capsys.readouterr().err
    spec = write_spec("input: [3, H, W]\nmodel:\n  - conv2d: {out_channels: 4, kernel_size: 3}\n")
    assert main(["export", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "spec.yaml:1:8: input: export needs a fixed input size, but the spec's input is [3, H, W]" in err
    assert "Hint: choose one, e.g. --set 'input=[3, 224, 224]'" in err
    with pytest.raises(ExportError, match="unknown export format 'tflite'"):
        export_model(load_spec(LENET), fmt="tflite")


def test_a_disagreeing_export_exits_1(monkeypatch, tmp_path, capsys):
    """The check is real: an exported program that computes something else fails it."""
    import cnnspec.build.export as export

    monkeypatch.setattr(export, "_export_pt2", lambda model, example, path: path.write_bytes(b"x"))
    monkeypatch.setattr(export, "_run_pt2", lambda path: (lambda x: np.zeros((x.shape[0], 10), np.float32),
                                                          "stub"))
    rc = main(["export", str(LENET), "-o", str(tmp_path / "m.pt2"), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert result["ok"] is False and result["max_abs_diff"] > result["tolerance"]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["pt2", "onnx"])
@pytest.mark.parametrize("spec", ["resnet18.yaml", "transfer-resnet18.yaml"])
def test_bigger_models_export_within_tolerance(tmp_path, spec, fmt):
    overrides = ["model[0].backbone.weights=null"] if spec.startswith("transfer") else ["input=[3, 64, 64]"]
    report = export_model(load_spec(SPECS / spec, overrides=overrides), fmt=fmt, output=tmp_path / f"m.{fmt}")
    assert report.ok, report
    assert report.max_abs_diff < 1e-4


def test_an_onnx_model_the_reference_evaluator_cannot_run_is_reported(write_spec, tmp_path):
    """onnx's reference evaluator computes MaxPool(ceil_mode=1) sizes wrongly; without
    onnxruntime the check cannot be done, and the error says so instead of crashing."""
    pytest.importorskip("onnx")
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("onnxruntime runs the check")
    spec = write_spec("input: [1, 8, 8]\nmodel:\n  - concat:\n      branches:\n        - [identity]\n"
                      "        - [maxpool2d: {kernel_size: 3, stride: 1, padding: 1, ceil_mode: true}]\n")
    with pytest.raises(ExportError, match=r"was written, but onnx's reference evaluator cannot run it: .*"
                                          r"install onnxruntime for the numeric check"):
        export_model(load_spec(spec), fmt="onnx", output=tmp_path / "m.onnx")
    assert (tmp_path / "m.onnx").is_file()
