"""Through the real engine and CLI: ``cnnspec train`` leaves logs and pictures, ``cnnspec explain`` reads them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from cnnspec.build import build_model
from cnnspec.cli import main
from cnnspec.data import build_data
from cnnspec.explain import grad_cam, load_weights
from cnnspec.spec import load_spec

SPEC = """
name: digits-viz
input: [1, 8, 8]
model:
  - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
  - relu: {inplace: true}
  - conv2d: {out_channels: 16, kernel_size: 3, padding: 1}
  - relu: {inplace: true}
  - maxpool2d: {kernel_size: 2}
  - flatten
  - linear: {out_features: 10}
data: {dataset: digits, batch_size: 64, val_split: 0.2}
train: {epochs: 2, optimizer: {adam: {lr: 0.01}}, progress: false}
callbacks: [tensorboard, checkpoint, plots, {gradcam: {samples: 4}}]
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("e2e")
    spec = root / "digits.yaml"
    spec.write_text(SPEC)
    run_dir = root / "run"
    assert main(["train", str(spec), "--run-dir", str(run_dir), "--device", "cpu"]) == 0
    return spec, run_dir


def png(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        assert img.format == "PNG"
        pixels = np.asarray(img.convert("RGB"))
    assert pixels.std() > 10
    return pixels


def test_train_leaves_tensorboard_logs_checkpoints_curves_and_overlays(trained: tuple[Path, Path]) -> None:
    _, run_dir = trained
    history = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    for key in ("train_loss", "val_loss", "val_acc", "lr"):
        logged = {e.step: e.value for e in acc.Scalars(f"epoch/{key}")}
        assert logged == pytest.approx({h["step"]: h[key] for h in history}, rel=1e-6), key
    final = json.loads((run_dir / "final.json").read_text())
    assert acc.Scalars("hparam/test_acc")[-1].value == pytest.approx(final["test_acc"])
    assert {"inputs", "plots/curves", "plots/confusion", "gradcam"} <= set(acc.Tags()["images"])
    assert acc.Tags()["graph"]
    for name in ("curves", "confusion", "features_conv1"):
        png(run_dir / "plots" / f"{name}.png")
    assert [p.name for p in (run_dir / "gradcam").iterdir()] == ["epoch_002.png"]
    png(run_dir / "gradcam" / "epoch_002.png")
    assert (run_dir / "checkpoints" / "last.pt").exists()


def test_train_leaves_the_architecture_in_the_run_and_tensorboard(trained: tuple[Path, Path]) -> None:
    import xml.etree.ElementTree as ET

    _, run_dir = trained
    root = ET.parse(run_dir / "architecture.svg").getroot()
    keys = [g.get("data-key") for g in root.iter("{http://www.w3.org/2000/svg}g")]
    assert keys == ["input", "conv1", "relu1", "conv2", "relu2", "pool1", "flatten1", "fc1", "output"]
    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0})
    acc.Reload()
    (event,) = acc.Images("architecture")
    with Image.open(__import__("io").BytesIO(event.encoded_image_string)) as img:
        assert img.height > 2 * img.width > 200  # a column of boxes, input to output


def test_explain_dataset_samples_matches_the_model(trained: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    spec_file, run_dir = trained
    assert main(["explain", "--checkpoint", str(run_dir), "--samples", "5"]) == 0
    out = run_dir / "explain"
    assert sorted(p.name for p in out.iterdir()) == [
        "gradcam.json", "gradcam.png", *(f"test_{i:03d}.png" for i in range(5))]
    report = json.loads((out / "gradcam.json").read_text())
    assert report["layer"] == "relu2" and report["layer_shape"] == ["16", "8", "8"]
    # the same predictions and maps as the model and Grad-CAM computed here
    spec = load_spec(spec_file)
    state, _, _ = load_weights(run_dir)
    model = build_model(spec)
    model.load_state_dict(state)
    x, y = build_data(spec).sample_batch("test", 5)
    result = grad_cam(model.eval(), "relu2", x)
    assert [r["predicted"] for r in report["images"]] == [str(int(p)) for p in result.predicted]
    assert [r["true"] for r in report["images"]] == [str(int(t)) for t in y]
    assert [r["probability"] for r in report["images"]] == pytest.approx(
        [float(result.probabilities[i, p]) for i, p in enumerate(result.predicted)], rel=1e-5)
    assert [r["cam_zero"] for r in report["images"]] == [bool(m.max() == 0) for m in result.cams]
    text = capsys.readouterr().out
    assert "Grad-CAM at relu2 [16, 8, 8] (the last conv feature map; --layer NAME to change)" in text
    assert png(out / "test_000.png").shape == (350, 300, 3)


def test_explain_image_files_are_resized_to_the_spec_input(trained: tuple[Path, Path], tmp_path: Path) -> None:
    spec_file, run_dir = trained
    digit = np.zeros((40, 32), np.uint8)
    digit[4:36, 14:19] = 255  # a "1", 5x bigger than the dataset's 8x8 images
    Image.fromarray(digit).save(tmp_path / "one.png")
    Image.fromarray(np.fliplr(digit)).convert("RGB").save(tmp_path / "mirror.jpg")
    out = tmp_path / "out"
    code = main(["explain", str(spec_file), "--checkpoint", str(run_dir / "checkpoints" / "last.pt"),
                 "--images", str(tmp_path / "one.png"), str(tmp_path / "mirror.jpg"), "--layer", "conv2",
                 "--output", str(out)])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["gradcam.json", "gradcam.png", "mirror.png", "one.png"]
    report = json.loads((out / "gradcam.json").read_text())
    assert report["layer"] == "conv2" and [r["true"] for r in report["images"]] == [None, None]
    spec = load_spec(spec_file)
    state, _, _ = load_weights(run_dir / "checkpoints" / "last.pt")
    model = build_model(spec)
    model.load_state_dict(state)
    image = torch.nn.functional.interpolate(torch.tensor(digit / 255.0, dtype=torch.float32)[None, None],
                                            size=(8, 8), mode="bilinear", antialias=True)
    expected = int(model.eval()(image).argmax())
    assert report["images"][0]["predicted"] == str(expected)


@pytest.mark.parametrize(("args", "message"), [
    (["--layer", "conv_2"], "unknown layer 'conv_2'; did you mean 'conv2' or 'conv1'?"),
    (["--layer", "fc1"], "layer 'fc1' (linear) outputs [10], not a [C, H, W] feature map"),
    (["--images", "missing.png"], "missing.png: cannot read it as an image"),
    (["--samples", "0"], "--samples must be at least 1"),
])
def test_explain_user_mistakes_exit_2_without_a_traceback(trained: tuple[Path, Path], args: list[str],
                                                          message: str, capsys: pytest.CaptureFixture,
                                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    spec_file, run_dir = trained
    assert main(["explain", str(spec_file), "--checkpoint", str(run_dir), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_explain_refuses_weights_of_another_model(trained: tuple[Path, Path], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    _, run_dir = trained
    other = tmp_path / "other.yaml"
    other.write_text(SPEC.replace("out_channels: 16", "out_channels: 12"))
    assert main(["explain", str(other), "--checkpoint", str(run_dir), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "do not fit the spec's model: 3 shape mismatches\n" in err
    assert "  shape mismatch: conv2.weight is [16, 8, 3, 3] in the weights, [12, 8, 3, 3] in the model\n" in err
    assert "Traceback" not in err
