"""``cnnspec lsp`` end to end: a real LSP client (pytest-lsp) drives the server over stdio.

One server for the module (it starts in about a second), with two plugins
that misbehave (``-p``). Every answer is checked against what the rest of
cnnspec says: diagnostics against ``validate``'s messages and locations,
hover shapes against the static trace, fix-its by applying them and
validating the result.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as T
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.conftest import ROOT

pytestmark = pytest.mark.asyncio(loop_scope="module")

PUBLISH = T.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS
SERVER = [sys.executable, "-m", "cnnspec", "-p", "tests.lsp.misbehaving_plugin", "-p", "tests.lsp.unimportable_plugin",
          "lsp"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

LENET = (ROOT / "specs" / "seed000_lenet_cifar10.yaml").read_text()
BROKEN = (ROOT / "tests" / "golden" / "errors" / "kernel_larger_than_input.yaml").read_text()


#: uri -> (version, diagnostics) of the latest publication (pytest-lsp keeps only the diagnostics)
PUBLISHED: dict[str, tuple[int | None, list[T.Diagnostic]]] = {}


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER, server_env=ENV), scope="module")
async def client(lsp_client: LanguageClient):
    default = lsp_client.protocol.fm.features[PUBLISH]

    def record(params: T.PublishDiagnosticsParams) -> None:
        default(params)
        PUBLISHED[params.uri] = (params.version, list(params.diagnostics))

    lsp_client.protocol.fm.features[PUBLISH] = record
    await lsp_client.initialize_session(T.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=ROOT.as_uri()))
    yield
    await lsp_client.shutdown_session()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lsp")


class Doc:
    """An open document and its version, driven through the client."""

    def __init__(self, client: LanguageClient, path: Path) -> None:
        self.client, self.path, self.uri, self.version = client, path, path.as_uri(), 0
        self.text = ""

    def ident(self) -> T.TextDocumentIdentifier:
        return T.TextDocumentIdentifier(uri=self.uri)

    async def _published(self, send) -> list[T.Diagnostic]:
        """Do ``send`` and wait for the diagnostics of this document's (new) version."""
        PUBLISHED.pop(self.uri, None)
        send()
        for _ in range(6000):
            found = PUBLISHED.get(self.uri)
            if found is not None and found[0] in (None, self.version):
                return found[1]
            await asyncio.sleep(0.01)
        raise TimeoutError(f"no diagnostics for {self.uri} version {self.version}")

    async def open(self, text: str) -> list[T.Diagnostic]:
        self.path.write_text(text, encoding="utf-8")
        self.text, self.version = text, 1
        item = T.TextDocumentItem(uri=self.uri, language_id="yaml", version=1, text=text)
        return await self._published(lambda: self.client.text_document_did_open(T.DidOpenTextDocumentParams(item)))

    def change(self, text: str) -> None:
        self.text = text
        self.version += 1
        self.client.text_document_did_change(T.DidChangeTextDocumentParams(
            text_document=T.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
            content_changes=[T.TextDocumentContentChangeWholeDocument(text=text)]))

    async def edit(self, text: str) -> list[T.Diagnostic]:
        return await self._published(lambda: self.change(text))

    def close(self) -> None:
        self.client.text_document_did_close(T.DidCloseTextDocumentParams(self.ident()))

    async def hover(self, line: int, col: int) -> str | None:
        found = await self.client.text_document_hover_async(T.HoverParams(self.ident(), T.Position(line, col)))
        return found.contents.value if found else None


async def status(client: LanguageClient) -> dict:
    return await client.workspace_execute_command_async(T.ExecuteCommandParams(command="cnnspec.status"))


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.split("\n")) if needle in line)


def apply(text: str, edits) -> str:
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        start = offsets[e.range.start.line] + e.range.start.character
        end = offsets[e.range.end.line] + e.range.end.character
        text = text[:start] + e.new_text + text[end:]
    return text


# -- diagnostics ------------------------------------------------------------------------------

async def test_a_valid_spec_has_no_diagnostics_and_hints_every_layer(client: LanguageClient, folder: Path):
    doc = Doc(client, folder / "lenet.yaml")
    assert await doc.open(LENET) == []
    hints = await client.text_document_inlay_hint_async(T.InlayHintParams(
        doc.ident(), T.Range(T.Position(0, 0), T.Position(len(LENET.split("\n")), 0))))
    from cnnspec.shapes.walker import infer_shapes
    from cnnspec.spec import load_spec

    trace = infer_shapes(load_spec(ROOT / "specs" / "seed000_lenet_cifar10.yaml"))
    assert [h.label for h in hints] == [f"→ [{', '.join(map(str, i.output_shape))}]" for i in trace.layers]
    for hint, info in zip(hints, trace.layers):
        assert hint.position.line == info.location.line - 1
    doc.close()


async def test_diagnostics_are_validates_messages_at_the_arguments_token(client: LanguageClient, folder: Path):
    from cnnspec.exceptions import SpecError
    from cnnspec.shapes.walker import infer_shapes
    from cnnspec.spec import load_spec

    path = folder / "broken.yaml"
    doc = Doc(client, path)
    (diag,) = await doc.open(BROKEN)
    with pytest.raises(SpecError) as raised:
        infer_shapes(load_spec(path))
    error = raised.value
    assert diag.message == f"{error.message}\n  Hint: {error.hint}"
    assert (diag.range.start.line, diag.range.start.character) == (error.line - 1, error.column - 1)
    line = BROKEN.split("\n")[diag.range.start.line]
    assert line[diag.range.start.character:diag.range.end.character] == "kernel_size: 5"
    assert diag.source == "cnnspec" and diag.code == "ShapeError"


async def test_fix_its_are_code_actions_whose_edits_validate(client: LanguageClient, folder: Path):
    doc = Doc(client, folder / "fixme.yaml")
    diagnostics = await doc.open(BROKEN)
    actions = await client.text_document_code_action_async(T.CodeActionParams(
        doc.ident(), diagnostics[0].range, T.CodeActionContext(diagnostics=diagnostics)))
    assert len(actions) >= 3 and actions[0].is_preferred
    assert actions[0].title.startswith("Fix: model[4].conv2d.")
    for action in actions:
        (edits,) = action.edit.changes.values()
        assert await doc.edit(apply(BROKEN, edits)) == [], action.title
    assert await doc.edit(BROKEN) != []


async def test_a_base_specs_problem_shows_on_extends_with_its_place(client: LanguageClient, folder: Path):
    (folder / "base.yaml").write_text(BROKEN)
    child = Doc(client, folder / "child.yaml")
    (diag,) = await child.open("extends: base.yaml\nname: child\n")
    assert (diag.range.start.line, diag.range.start.character, diag.range.end.character) == (0, 9, 18)
    from cnnspec.exceptions import SpecError
    from cnnspec.shapes.walker import infer_shapes
    from cnnspec.spec import load_spec

    with pytest.raises(SpecError) as raised:  # validate's own words, the base's place included
        infer_shapes(load_spec(folder / "child.yaml"))
    assert raised.value.line == 8 and diag.message == raised.value.format_one()
    (related,) = diag.related_information
    assert related.location.uri == (folder / "base.yaml").as_uri()
    assert (related.location.range.start.line, related.location.range.start.character) == (7, 31)
    definition = await client.text_document_definition_async(T.DefinitionParams(child.ident(), T.Position(0, 12)))
    assert definition.uri == (folder / "base.yaml").as_uri()


async def test_the_last_good_diagnostics_stay_while_the_text_does_not_parse(client: LanguageClient, folder: Path):
    doc = Doc(client, folder / "typing.yaml")
    (shape,) = await doc.open(BROKEN)
    half = BROKEN.replace("{out_channels: 50, kernel_size: 5, name: conv3}", "{out_channels: 50, kernel_")
    kept, syntax = await doc.edit(half)
    assert kept.message == shape.message and "YAML syntax error" in syntax.message
    # questions are still answered from the last parse
    assert "output `[20, 12, 12]`" in await doc.hover(line_of(BROKEN, "maxpool2d"), 8)
    assert await doc.edit(LENET) == []


# -- hover, completion, navigation ---------------------------------------------------------------

async def test_hover_shows_the_shapes_and_the_arithmetic_of_torch(client: LanguageClient, folder: Path):
    doc = Doc(client, folder / "hover.yaml")
    await doc.open(LENET)
    line = line_of(LENET, "out_channels: 50")
    text = await doc.hover(line, LENET.split("\n")[line].index("kernel_size"))
    assert text.startswith("**kernel_size** (")
    assert "output `[50, 10, 10]` from input `[20, 14, 14]`" in text
    assert "for any input size: `[50, floor(H/2) - 6, floor(W/2) - 6]`" in text  # (H-4)//2 - 4
    assert "height: `floor((14 + 2*0 - 1*(5-1) - 1) / 1) + 1 = 10`" in text
    assert "params: `50·(20/1)·5·5 + 50 = 25,050`" in text


async def test_hover_on_variables_and_extends_tells_where_values_come_from(client: LanguageClient):
    base = ROOT / "docs" / "composition" / "base.yaml"
    wide = ROOT / "docs" / "composition" / "wide.yaml"
    doc = Doc(client, wide)
    doc.path = Path(os.devnull)  # the file stays as it is: open() writes doc.path
    doc.uri = wide.as_uri()
    await doc.open(wide.read_text())
    text = await doc.hover(1, 12)
    assert "`docs/composition/base.yaml`" in text or "base.yaml" in text
    assert "- `model`:" in text and "this file" in text
    doc.close()
    doc = Doc(client, base)
    doc.path, doc.uri = Path(os.devnull), base.as_uri()
    await doc.open(base.read_text())
    line = line_of(base.read_text(), "out_channels: \"${vars.width}\"")
    col = base.read_text().split("\n")[line].index("${vars.width}") + 3
    assert (await doc.hover(line, col)).startswith("**vars.width** = `20`")
    found = await client.text_document_definition_async(T.DefinitionParams(doc.ident(), T.Position(line, col)))
    assert found.uri == base.as_uri() and found.range.start.line == line_of(base.read_text(), "width: 20")
    doc.close()


async def test_completion_offers_layers_arguments_and_registry_names(client: LanguageClient, folder: Path):
    doc = Doc(client, folder / "complete.yaml")
    text = LENET.replace("  - relu\n", "  - wid\n", 1).replace("out_channels: 20, kernel_size: 5}",
                                                                "out_channels: 20, kernel_size: 5, }")
    await doc.open(text)
    line = line_of(text, "- wid")

    async def labels(line: int, col: int) -> dict[str, T.CompletionItem]:
        found = await client.text_document_completion_async(T.CompletionParams(doc.ident(), T.Position(line, col)))
        return {i.label: i for i in found.items}

    layers = await labels(line, 7)
    assert {"conv2d", "batchnorm2d", "widget", "residual", "concat"} <= set(layers)
    assert layers["widget"].detail == "Widget (plugin misbehaving_plugin)" or "plugin" in layers["widget"].detail
    assert layers["conv2d"].text_edit.new_text == "conv2d: {out_channels: ${1}, kernel_size: ${2}}"
    conv = line_of(text, "out_channels: 20")
    args = await labels(conv, text.split("\n")[conv].index("}"))
    assert {"stride", "padding", "dilation", "groups", "bias", "padding_mode"} <= set(args)
    assert "kernel_size" not in args and "out_channels" not in args  # already written
    assert args["padding"].detail.endswith("default 0")
    opt = line_of(text, "optimizer:")
    names = await labels(opt, text.split("\n")[opt].index("sgd"))
    assert {"sgd", "adam", "adamw"} <= set(names)
    assert "`momentum`: float, default 0" in names["sgd"].documentation.value


async def test_outline_is_the_layer_tree_with_names(client: LanguageClient, folder: Path):
    spec = ROOT / "specs" / "resnet18.yaml"
    doc = Doc(client, folder / "resnet18.yaml")
    await doc.open(spec.read_text())
    found = await client.text_document_document_symbol_async(T.DocumentSymbolParams(doc.ident()))
    model = next(s for s in found if s.name == "model")
    from cnnspec.spec import load_spec

    spec_layers = load_spec(spec).layers
    assert [s.name for s in model.children] == [n.name for n in spec_layers]
    stage = next(s for s in model.children if s.children)
    assert stage.detail.startswith("repeat →") and stage.children[0].children  # layer1: repeat of residuals


# -- plugins that misbehave, input that is not a spec, bursts -------------------------------------

async def test_broken_plugins_never_stop_the_server(client: LanguageClient, folder: Path):
    doc = Doc(client, folder / "plugins.yaml")
    diags = await doc.open("input: [3, 8, 8]\nmodel:\n  - crasher\n")
    assert any("the shape rule of Crasher" in d.message and "ZeroDivisionError" in d.message for d in diags)
    diags = await doc.edit("input: [3, 8, 8]\nmodel:\n  - exploder: {size: 2}\n")
    assert any(d.code == "InternalError" and "TypeError" in d.message for d in diags)
    diags = await doc.edit("input: [3, 8, 8]\nmodel:\n  - widget\n  - flatten\n")
    assert diags == []
    state = await status(client)
    assert len(state["broken_plugins"]) == 1 and "unimportable" in state["broken_plugins"][0]
    assert any("unimportable" in m.message for m in client.messages)


async def test_bad_input_never_stops_the_server(client: LanguageClient, folder: Path):
    doc = Doc(client, folder / "bad.yaml")
    await doc.open(LENET)
    resnet = (ROOT / "specs" / "resnet50.yaml").read_text()
    for cut in range(0, len(resnet), max(1, len(resnet) // 25)):  # truncated anywhere
        await doc.edit(resnet[:cut])
    (nul,) = [d for d in await doc.edit("input: [3, 8, 8]\nmodel: [relu\x00]\n") if "NUL" in d.message]
    assert nul.range.start.line == 1
    garbage = bytes(range(256)).decode("latin-1") * 8
    await doc.edit(garbage)
    huge = "input: [3, 8, 8]\nmodel:\n" + "  - relu\n" * 240_000
    diags = await doc.edit(huge)
    assert any("at most 2097152 are read" in d.message for d in diags)
    bomb = (ROOT / "tests" / "golden" / "errors" / "alias_bomb.yaml").read_text()
    assert any("expands to more than" in d.message for d in await doc.edit(bomb))
    assert await doc.edit(LENET) == []
    assert (await status(client))["torch_imported"] is False


async def test_a_hundred_changes_a_second_are_throttled_and_memory_stays_bounded(client: LanguageClient,
                                                                                 folder: Path):
    resnet = (ROOT / "specs" / "resnet50.yaml").read_text()
    doc = Doc(client, folder / "burst.yaml")
    await doc.open(resnet)
    before = await status(client)
    for n in range(300):  # three seconds of a change every 10 ms
        doc.change(resnet.replace("out_features: 1000", f"out_features: {1000 + n % 7}"))
        await asyncio.sleep(0.01)
    text = await doc.hover(line_of(resnet, "out_features"), 10)
    assert f"output `[{1000 + 299 % 7}]`" in text  # the answer is about the latest text
    after = await status(client)
    assert after["analyses"] - before["analyses"] < 150  # not one analysis per change
    assert after["rss_kb"] - before["rss_kb"] < 200_000
    assert after["torch_imported"] is False
