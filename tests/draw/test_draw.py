"""Pictures of networks: what is drawn is the trace, laid out without overlaps, in files real readers accept.

The diagram's boxes are checked against the trace (every layer once, in
order; residuals as ``+`` joins, concats with their branches), the layout's
geometry for every shipped spec at several depths, the SVG with an XML
parser, the DOT with pydot's parser, the PNG with Pillow, and the text
measurement with the font file itself.
"""

from __future__ import annotations

import io
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cnnspec.cli import main
from cnnspec.draw import Box, Parallel, Series, diagram, elements, layout, render
from cnnspec.draw.layout import CHAR_W, FONT_PX, Scene
from cnnspec.shapes.walker import infer_shapes
from cnnspec.spec import load_spec
from tests.conftest import ROOT

SPECS = sorted((ROOT / "specs").glob("*.yaml"))
SVG = "{http://www.w3.org/2000/svg}"


def trace_of(name: str):
    return infer_shapes(load_spec(ROOT / "specs" / name))


@pytest.fixture(scope="module")
def traces() -> dict[str, object]:
    return {p.name: infer_shapes(load_spec(p)) for p in SPECS}


def boxes_of(root: Series) -> list[Box]:
    return [e for e in elements(root) if isinstance(e, Box)]


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_every_layer_is_one_box_in_order_with_its_shape(path: Path, traces):
    trace = traces[path.name]
    root = diagram(trace)
    boxes = boxes_of(root)
    assert [b.key for b in boxes] == ["input", *(i.qualname for i in trace.leaves()), "output"]
    shapes = {i.qualname: i.output_shape for i in trace.leaves()}
    for box in boxes[1:-1]:
        assert box.shape == "[" + ", ".join(map(str, shapes[box.key])) + "]"
    joins = [e for e in elements(root) if isinstance(e, Parallel)]
    containers = [i for i in trace.walk() if i.kind in ("residual", "concat")]
    assert [(j.key, j.merge) for j in joins] == [(c.qualname, "+" if c.kind == "residual" else "concat")
                                                for c in containers]
    for join, info in zip(joins, containers):
        if info.kind == "concat":
            assert len(join.branches) == len(info.children)
        else:
            has_shortcut = any(c.role == "shortcut" for c in info.children)
            assert bool(join.branches[1].items) == has_shortcut  # an empty branch is the identity


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("name", ["resnet50.yaml", "googlenet.yaml", "mobilenet_v2.yaml"])
def test_depth_draws_deep_blocks_as_one_box(name: str, depth: int, traces):
    trace = traces[name]
    keys = [b.key for b in boxes_of(diagram(trace, depth))][1:-1]
    expected = [i.qualname for i in trace.walk()
                if i.depth < depth and (i.is_leaf or i.depth == depth - 1)]
    assert keys == expected
    assert sum(trace.find(k).params for k in keys) == trace.params


def _overlap(a, b) -> bool:
    return a.x < b.x + b.w - 0.01 and b.x < a.x + a.w - 0.01 and a.y < b.y + b.h - 0.01 and b.y < a.y + a.h - 0.01


def check_geometry(scene: Scene) -> None:
    boxes = scene.boxes
    ordered = sorted(boxes, key=lambda b: b.x)
    for i, a in enumerate(ordered):  # no two boxes overlap (sweep over x)
        for b in ordered[i + 1:]:
            if b.x >= a.x + a.w:
                break
            assert not _overlap(a, b), (a.box.key, b.box.key)
        assert 0 <= a.x and a.x + a.w <= scene.width and 0 <= a.y and a.y + a.h <= scene.height
        for line in a.lines:  # the text fits its box
            assert len(line) * CHAR_W <= a.w - 2 * 8, (a.box.key, line)
    for m in scene.merges:
        for b in boxes:
            assert not (abs(m.cx - (b.x + b.w / 2)) < (m.w + b.w) / 2 and abs(m.cy - (b.y + b.h / 2)) < (m.h + b.h) / 2)
    tops = {(round(b.x + b.w / 2, 3), round(b.y, 3)) for b in boxes}
    tops |= {(round(m.cx, 3), round(m.cy - m.h / 2, 3)) for m in scene.merges}
    # or on the stem of a fork (a branching block's entry)
    tops |= {(round(e.points[0][0], 3), round(e.points[0][1], 3)) for e in scene.edges if not e.arrow}
    for edge in scene.edges:
        for x, y in edge.points:
            assert -0.01 <= x <= scene.width + 0.01 and -0.01 <= y <= scene.height + 0.01
        if edge.arrow:  # every arrow ends on the top of a box or a join
            tip = (round(edge.points[-1][0], 3), round(edge.points[-1][1], 3))
            assert tip in tops, tip


@pytest.mark.parametrize("depth", [None, 1, 3])
@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_layouts_have_no_overlaps_and_every_arrow_lands(path: Path, depth, traces):
    check_geometry(layout(diagram(traces[path.name], depth)))


def test_tall_networks_are_cut_into_columns(traces):
    scene = layout(diagram(traces["resnet50.yaml"]))
    assert scene.height < 5000 and scene.width > 1500  # ResNet-50 flat would be ~15,000 px tall
    small = layout(diagram(traces["seed000_lenet_cifar10.yaml"]))
    assert small.height > 3 * small.width


def test_svg_is_well_formed_and_names_every_module(traces):
    trace = traces["googlenet.yaml"]
    root = ET.fromstring(render(trace, "svg"))
    keys = [g.get("data-key") for g in root.iter(f"{SVG}g")]
    assert keys == ["input", *(i.qualname for i in trace.leaves()), "output"]
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "inception3a → [256, 28, 28]" in texts and "64 · 7x7 /2 p3 · bias=false" in texts
    assert root.get("width") == root.get("viewBox").split()[2]


def test_symbolic_dims_are_drawn_as_expressions(traces):
    text = render(traces["any_size_cnn.yaml"], "svg").decode()
    assert "[3, H, W]" in text and "floor((H - 1)/2) + 1" in text


def test_text_from_the_spec_is_escaped(tmp_path: Path):
    spec = tmp_path / "odd.yaml"
    spec.write_text('name: "<net> & \\x1b[2J"\ninput: [3, 8, 8]\nmodel: [relu, flatten]\n')
    data = render(infer_shapes(load_spec(spec)), "svg")
    root = ET.fromstring(data)  # well-formed despite < & and a control character
    assert root.find(f"{SVG}title").text == "<net> & \\x1b[2J"
    assert b"\x1b" not in render(infer_shapes(load_spec(spec)), "dot")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pydot's own use of pyparsing
def test_dot_parses_with_graphviz_grammar_and_connects_everything(traces):
    pydot = pytest.importorskip("pydot")
    trace = traces["resnet18.yaml"]
    (graph,) = pydot.graph_from_dot_data(render(trace, "dot").decode())
    nodes, edges = {}, []

    def collect(g):
        for n in g.get_nodes():
            if n.get_name() not in ("node", "edge", "graph"):
                nodes[n.get_name()] = n
        edges.extend((e.get_source(), e.get_destination()) for e in g.get_edges())
        for sub in g.get_subgraphs():
            collect(sub)

    collect(graph)
    labelled = [n for n in nodes.values() if n.get("tooltip")]
    assert len(labelled) == len(trace.leaves()) + 2
    joins = [n for n in nodes.values() if n.get("label") == '"+"']
    assert len(joins) == sum(1 for i in trace.walk() if i.kind == "residual")
    # every node but the input has an edge in, every node but the output an edge out
    into = {b for _, b in edges}
    out = {a for a, _ in edges}
    ends = {n.get_name() for n in labelled if n.get("tooltip") in ('"input"', '"output"')}
    assert set(nodes) - into == {min(ends, key=lambda n: int(n[1:]))}
    assert set(nodes) - out == {max(ends, key=lambda n: int(n[1:]))}


def test_png_is_a_picture_of_the_laid_out_size(traces):
    from PIL import Image

    trace = traces["seed003_cifar10cnn.yaml"]
    scene = layout(diagram(trace))
    with Image.open(io.BytesIO(render(trace, "png"))) as img:
        assert img.format == "PNG"
        assert abs(img.width - 1.5 * scene.width) <= 2 and abs(img.height - 1.5 * scene.height) <= 2
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
        assert len(colours) > 50  # boxes, text, lines: not a blank page


def test_the_layout_font_measure_holds_for_the_real_font():
    """Boxes are sized with CHAR_W per character: the bundled DejaVu Sans Mono's advances say so."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans Mono"))
    assert "DejaVuSansMono" in path
    font = FT2Font(path)
    font.set_size(FONT_PX, 72)  # FONT_PX pixels at 72 dpi
    for text in ("conv1 · Conv2d", "[1024, floor((H - 1)/8), 7]", "64 · 7x7 /2 p3 · bias=false", "→ x"):
        font.set_text(text)
        width = font.get_width_height()[0] / 64
        assert width <= len(text) * CHAR_W + 0.5, text


def test_draw_command_writes_each_format_without_torch(tmp_path: Path):
    code = (
        "import sys\n"
        "from cnnspec.cli import main\n"
        f"for ext in ('svg', 'png', 'dot'):\n"
        f"    out = {str(tmp_path)!r} + '/net.' + ext\n"
        "    assert main(['draw', 'specs/resnet18.yaml', '-o', out, '--depth', '2']) == 0\n"
        "assert 'torch' not in sys.modules, 'draw imported torch'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert {p.name for p in tmp_path.iterdir()} == {"net.svg", "net.png", "net.dot"}
    assert "net.svg: SVG of resnet18" in done.stdout


def test_draw_command_mistakes_exit_2(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["draw", "specs/resnet18.yaml", "-o", str(tmp_path / "net.pdf")]) == 2
    assert "cannot tell the picture format" in capsys.readouterr().err
    assert main(["draw", "specs/resnet18.yaml", "-o", "-", "--format", "png"]) == 2
    assert main(["draw", "specs/resnet18.yaml", "-o", str(tmp_path / "missing" / "net.svg")]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert main(["draw", "tests/golden/errors/kernel_larger_than_input.yaml", "-o", str(tmp_path / "x.svg")]) == 2
    assert "Fixes" in capsys.readouterr().err
    assert main(["draw", "specs/seed000_lenet_cifar10.yaml", "-o", "-"]) == 0
    assert capsys.readouterr().out.startswith("<?xml")


def test_a_run_picture_that_cannot_be_drawn_only_warns(tmp_path: Path, traces, monkeypatch):
    import cnnspec.draw as draw

    assert draw.write_run_picture(traces["digits.yaml"], tmp_path) == tmp_path / "architecture.svg"
    monkeypatch.setattr(draw, "render", lambda *a, **k: 1 / 0)
    with pytest.warns(RuntimeWarning, match="could not draw the architecture"):
        assert draw.write_run_picture(traces["digits.yaml"], tmp_path / "elsewhere") is None
