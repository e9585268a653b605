"""Grad-CAM: the layer choice, agreement with Captum and with the formula, and a sanity property."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from captum.attr import LayerAttribution, LayerGradCam

from cnnspec.build import build_from_trace
from cnnspec.exceptions import SpecError
from cnnspec.explain import (
    attribution_mode,
    capture_activation,
    default_cam_layer,
    default_feature_layer,
    grad_cam,
    resolve_layer,
)
from cnnspec.shapes.walker import infer_shapes
from cnnspec.spec import load_spec
from tests.conftest import SPECS
from tests.viz.fakes import BARS_SPEC, bars_data


def trace_of(text: str):
    return infer_shapes(load_spec(text))


def model_of(text: str, seed: int = 0):
    torch.manual_seed(seed)
    trace = trace_of(text)
    return trace, build_from_trace(trace).eval()


# -- choosing the layer --------------------------------------------------------------------


def test_default_layer_is_the_last_conv_feature_map_of_the_seed_models() -> None:
    trace = infer_shapes(load_spec(SPECS / "seed004_simplecnn.yaml"))
    assert default_cam_layer(trace).qualname == "relu3"  # conv3, after its activation
    assert default_feature_layer(trace).qualname == "conv1"
    trace = infer_shapes(load_spec(SPECS / "seed004_simplecnn_bn.yaml"))
    assert default_cam_layer(trace).qualname == "relu3"  # conv3 -> bn3 -> relu3


def test_default_layer_looks_inside_blocks() -> None:
    trace = trace_of("""
input: [3, 16, 16]
model:
  - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
  - sequential:
      name: features
      layers:
        - conv2d: {out_channels: 8, kernel_size: 3, padding: 1, name: inner}
        - batchnorm2d
        - relu
  - relu
  - adaptiveavgpool2d: {output_size: 1}
  - flatten
  - linear: {out_features: 4}
""")
    assert default_cam_layer(trace).qualname == "features.relu1"  # not the relu outside the block


def test_without_conv_layers_the_last_spatial_map_is_used() -> None:
    trace = trace_of("""
input: [1, 8, 8]
model: [{maxpool2d: {kernel_size: 2}}, relu, {adaptiveavgpool2d: {output_size: 1}}, flatten,
        {linear: {out_features: 2}}]
""")
    assert default_cam_layer(trace).qualname == "relu1"


def test_a_model_without_feature_maps_is_an_error() -> None:
    with pytest.raises(SpecError, match=r"no \[C, H, W\] feature map"):
        default_cam_layer(trace_of("input: [10]\nmodel: [{linear: {out_features: 2}}]"))


def test_unknown_layer_gets_did_you_mean() -> None:
    trace = trace_of(BARS_SPEC)
    with pytest.raises(SpecError, match=r"^unknown layer 'conv3'; did you mean 'conv2' or 'conv1'\?") as info:
        resolve_layer(trace, "conv3")
    assert info.value.hint == "layers with [C, H, W] outputs: conv1, relu1, pool1, conv2, relu2, dropout1"
    with pytest.raises(SpecError, match=r"^layer 'fc1' \(linear\) outputs \[3\], not a \[C, H, W\] feature map"):
        resolve_layer(trace, "fc1")
    assert resolve_layer(trace, "pool1").output_shape == (4, 6, 6)


# -- agreement with the real thing -----------------------------------------------------------


def test_grad_cam_is_captums_layer_grad_cam_upsampled() -> None:
    _, model = model_of(BARS_SPEC)
    x = bars_data().splits["val"][0][:6]
    result = grad_cam(model, "conv2", x)
    assert torch.equal(result.predicted, model(x).argmax(1))
    expected = LayerGradCam(model, model.conv2).attribute(x, target=result.predicted, relu_attributions=True)
    torch.testing.assert_close(result.raw, expected[:, 0].detach())
    upsampled = LayerAttribution.interpolate(expected, (12, 12), interpolate_mode="bilinear")[:, 0].detach()
    peak = upsampled.flatten(1).amax(1)
    assert (peak > 0).all()
    torch.testing.assert_close(result.cams, upsampled / peak[:, None, None])
    assert result.cams.shape == (6, 12, 12) and result.cams.amax() == 1.0 and result.cams.amin() >= 0.0


def test_grad_cam_matches_the_formula_computed_with_autograd() -> None:
    """alpha_k = mean of d y_c / d A_k over the map; CAM = ReLU(sum_k alpha_k A_k) (Selvaraju et al.)."""
    _, model = model_of(BARS_SPEC, seed=3)
    x = bars_data().splits["test"][0][:5]
    target = torch.tensor([0, 1, 2, 1, 0])
    saved = {}
    handle = model.pool1.register_forward_hook(lambda m, i, out: saved.setdefault("a", out))
    scores = model(x)
    handle.remove()
    grads = torch.autograd.grad(scores[torch.arange(5), target].sum(), saved["a"])[0]
    cam = F.relu((grads.mean(dim=(2, 3), keepdim=True) * saved["a"]).sum(dim=1, keepdim=True))
    up = F.interpolate(cam, size=(12, 12), mode="bilinear")[:, 0].detach()
    result = grad_cam(model, "pool1", x, target=target)
    torch.testing.assert_close(result.raw, cam[:, 0].detach())
    peak = up.flatten(1).amax(1)[:, None, None]
    torch.testing.assert_close(result.cams, torch.where(peak > 0, up / peak.clamp_min(1e-30), 0.0))


# -- a property that can fail --------------------------------------------------------------

SANITY_SPEC = """
input: [1, 16, 16]
model:
  - conv2d: {out_channels: 2, kernel_size: 3, padding: 1}
  - relu
  - adaptiveavgpool2d: {output_size: 1}
  - flatten
  - linear: {out_features: 2}
"""


def sanity_model():
    """Class 0 = "a bright patch" (channel 0); class 1 = "a checkerboard texture" (channel 1)."""
    _, model = model_of(SANITY_SPEC)
    with torch.no_grad():
        conv, fc = model.conv1, model.fc1
        conv.weight.zero_()
        conv.weight[0] = 1 / 9
        conv.bias[0] = -0.5
        checker = torch.tensor([[1.0, -1.0, 1.0], [-1.0, 1.0, -1.0], [1.0, -1.0, 1.0]]) / 9
        conv.weight[1, 0] = checker
        conv.bias[1] = -0.3
        fc.weight.copy_(torch.tensor([[4.0, 0.0], [-4.0, 4.0]]))
        fc.bias.zero_()
    return model


def scene(mirrored: bool = False) -> torch.Tensor:
    """A bright patch in the left half, a checkerboard in the right half (or mirrored)."""
    x = torch.zeros(1, 1, 16, 16)
    x[0, 0, 4:12, 1:7] = 1.0
    yy, xx = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    board = ((yy + xx) % 2 * 2 - 1).float()
    x[0, 0, 2:14, 9:15] = board[2:14, 9:15]
    return x.flip(-1) if mirrored else x


def left_share(cam: torch.Tensor) -> float:
    return float(cam[..., :8].sum() / cam.sum())


def test_cam_mass_sits_where_the_evidence_for_the_class_is() -> None:
    model = sanity_model()
    layer = default_cam_layer(trace_of(SANITY_SPEC)).qualname
    assert layer == "relu1"
    result = grad_cam(model, layer, scene(), target=0)
    assert left_share(result.cams) > 0.95
    assert left_share(grad_cam(model, layer, scene(mirrored=True), target=0).cams) < 0.05
    # the other class's evidence is the texture, on the other side
    assert left_share(grad_cam(model, layer, scene(), target=1).cams) < 0.05
    # the heat is on the patch itself, not spread over the half
    assert float(result.cams[0, 4:12, 1:7].sum() / result.cams.sum()) > 0.9


def test_before_the_activation_grad_cam_shows_heat_where_there_is_no_evidence() -> None:
    """Why the default target is the activated output: the same model at the raw conv output."""
    cams = grad_cam(sanity_model(), "conv1", scene(), target=1).cams
    assert not scene()[0, 0, :2, :8].any()  # an empty strip, far from the patch and the texture
    assert float(cams[0, :2, :8].min()) > 0.1


# -- in-place activations ------------------------------------------------------------------

INPLACE_SPEC = """
input: [3, 10, 10]
model:
  - conv2d: {out_channels: 6, kernel_size: 3, padding: 1}
  - relu: {inplace: %s}
  - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
  - relu: {inplace: %s}
  - leakyrelu: {negative_slope: 0.1, inplace: %s}
  - flatten
  - linear: {out_features: 4}
"""


def test_inplace_activations_are_handled_and_restored() -> None:
    _, plain = model_of(INPLACE_SPEC % ("false", "false", "false"))
    _, inplace = model_of(INPLACE_SPEC % ("true", "true", "true"))
    inplace.load_state_dict(plain.state_dict())
    inplace.train()
    x = torch.randn(4, 3, 10, 10, generator=torch.Generator().manual_seed(5))
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):  # why the handling exists
        LayerGradCam(inplace, inplace.conv2).attribute(x, target=1)
    expected = grad_cam(plain, "conv2", x, target=1)
    result = grad_cam(inplace, "conv2", x, target=1)
    torch.testing.assert_close(result.cams, expected.cams)
    assert inplace.relu2.inplace and inplace.leakyrelu1.inplace and inplace.relu1.inplace
    assert all(m.training for m in inplace.modules())


def test_attribution_mode_restores_per_module_modes() -> None:
    _, model = model_of(BARS_SPEC)
    model.train()
    model.dropout1.eval()  # deliberately frozen: must stay so
    with attribution_mode(model):
        assert not any(m.training for m in model.modules())
        assert not model.relu2.inplace
    assert model.training and model.conv1.training and not model.dropout1.training and model.relu2.inplace


def test_capture_activation_is_the_layers_real_output() -> None:
    _, model = model_of(BARS_SPEC)
    model.train()
    x = bars_data().splits["val"][0][:2]
    maps = capture_activation(model, "conv2", x)
    with torch.no_grad():
        expected = model.conv2(model.pool1(model.relu1(model.conv1(x))))
    torch.testing.assert_close(maps, expected)
    assert model.training
