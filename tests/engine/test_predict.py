"""``cnnspec predict`` / ``cnnspec.predict``: checked against the model's own forward on the decoded files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import cnnspec
from cnnspec.build import build_model
from cnnspec.checkpoint import load_checkpoint, read_manifest
from cnnspec.cli import main
from cnnspec.engine import train
from cnnspec.engine.predict import iter_predictions
from cnnspec.spec import load_spec

from .standin import random_bundle

SPEC = """
name: pred
input: [1, 8, 8]
seed: 3
model:
  - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
  - relu
  - flatten
  - linear: {out_features: 3}
train: {epochs: 3, optimizer: {sgd: {lr: 0.3, momentum: 0.9}}, progress: false}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("predict") / "run"
    train(SPEC, run_dir=run, data=random_bundle(sizes=(40, 20, 20)), device="cpu")
    return run


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    (folder / "more").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(9):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(folder / f"img{i}.png")
    Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(folder / "more" / "photo.png")
    (folder / "broken.png").write_bytes(b"\x89PNG but not really")
    return folder


def _expected(run: Path, files: list[Path], which: str = "best") -> torch.Tensor:
    """Softmax of the spec's model with the chosen weights on the files read with PIL, resized with torch."""
    spec = load_spec(SPEC)
    model = build_model(spec).eval()
    name = read_manifest(run / "checkpoints")["aliases"][which]
    model.load_state_dict(load_checkpoint(run / "checkpoints" / name)["model"])
    batch = []
    for file in files:
        x = torch.from_numpy(np.asarray(Image.open(file).convert("L"), dtype=np.float32) / 255.0)[None]
        if x.shape[1:] != (8, 8):
            x = torch.nn.functional.interpolate(x[None], size=(8, 8), mode="bilinear", align_corners=False,
                                                antialias=True)[0].clamp(0, 1)
        batch.append(x)
    with torch.no_grad():
        return torch.softmax(model(torch.stack(batch)), dim=1)


def test_predictions_are_the_models_own(run: Path, images: Path):
    rows = cnnspec.predict(run, images, top_k=2, batch_size=4)
    readable = sorted(images.rglob("*.png"))
    readable.remove(images / "broken.png")
    assert [r.image for r in rows] == [str(p) for p in sorted(images.rglob("*.png"))]
    got = {r.image: r for r in rows}
    expected = _expected(run, readable)
    for file, probs in zip(readable, expected):
        row = got[str(file)]
        top = torch.topk(probs, 2)
        assert [i for _, i, _ in row.top] == top.indices.tolist()
        assert [p for _, _, p in row.top] == pytest.approx(top.values.tolist(), abs=1e-6)
    broken = got[str(images / "broken.png")]
    assert broken.top == [] and "cannot read it as an image" in broken.error


def test_last_weights_on_request(run: Path, images: Path):
    files = [images / "img0.png", images / "img1.png"]
    rows = cnnspec.predict(run, files, which="last", top_k=3)
    assert [p for _, _, p in rows[0].top] == pytest.approx(sorted(_expected(run, files, "last")[0].tolist(),
                                                                  reverse=True), abs=1e-6)


def test_files_are_read_one_batch_at_a_time(run: Path, images: Path, monkeypatch):
    import cnnspec.explain.inputs as inputs

    read: list[Path] = []
    original = inputs.load_image
    monkeypatch.setattr(inputs, "load_image", lambda f, mode: (read.append(f), original(f, mode))[1])
    rows = iter_predictions(run, [images], batch_size=3)
    assert read == []
    next(rows)
    assert len(read) == 3  # only the first batch was decoded
    assert len(list(rows)) == 10 and len(read) == 11


def test_cli_csv_and_jsonl(run: Path, images: Path, tmp_path: Path, capsys):
    out = tmp_path / "preds.csv"
    assert main(["predict", str(run), "--images", str(images), "--top-k", "2", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "weights from" in err and "(best" in err
    assert "1 of 11 file(s) could not be read as images" in err and "broken.png" in err
    table = list(csv.DictReader(out.open()))
    assert [r["image"] for r in table] == [str(p) for p in sorted(images.rglob("*.png"))]
    readable = [Path(r["image"]) for r in table if not r["error"]]
    expected = _expected(run, readable)
    classes = json.loads((run / "final.json").read_text())["classes"]
    for row, probs in zip([r for r in table if not r["error"]], expected):
        assert row["pred"] == classes[int(probs.argmax())]  # the dataset's class names
        assert float(row["prob"]) == pytest.approx(float(probs.max()), abs=1e-5)
    assert main(["predict", str(run), "--images", str(images / "img0.png"), "--format", "jsonl"]) == 0
    line = json.loads(capsys.readouterr().out.strip())
    assert line["image"] == str(images / "img0.png") and len(line["top"]) == 3


def test_mistakes_exit_2_with_a_hint(run: Path, images: Path, tmp_path: Path, write_spec, capsys):
    spec = write_spec(SPEC)
    assert main(["predict", str(spec), "--images", str(images)]) == 2
    assert "a spec file needs the weights to use" in capsys.readouterr().err
    assert main(["predict", str(spec), "--checkpoint", str(tmp_path / "missing.pt"), "--images", str(images)]) == 2
    assert main(["predict", str(run), "--images", str(tmp_path / "nowhere")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["predict", str(tmp_path / "empty"), "--images", str(images)]) == 2
    assert main(["predict", str(run), "--images", str(images / "broken.png")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
