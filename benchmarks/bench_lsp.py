"""How fast ``cnnspec lsp`` answers on a ResNet-50 spec, against running ``cnnspec validate`` on save.

A real LSP client (pygls's) starts ``python -m cnnspec lsp`` and times each
request as the editor sees it, round trip over stdio:

* diagnostics after an edit (``didChange`` → ``publishDiagnostics``; each edit
  after a pause, as typing does), and a hover sent with an edit (it waits for
  the new text's analysis and the symbolic shapes);
* hover on a convolution's argument, inlay hints for the whole file,
  completion of a layer's arguments, the outline, go to definition.

Target: every median under 50 ms. Baseline, measured in the same run: a cold
``cnnspec validate -q`` of the same file (what an editor integration without
a server pays per check) and the same analysis in-process (the work itself).

    .venv/bin/python benchmarks/bench_lsp.py [--runs 30] [--spec specs/resnet50.yaml]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lsprotocol import types as T  # noqa: E402
from pygls.lsp.client import LanguageClient  # noqa: E402


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"median {statistics.median(values) * 1000:6.1f} ms   p95 {p95 * 1000:6.1f} ms"


async def measure(spec: Path, runs: int) -> dict[str, list[float]]:
    client = LanguageClient("bench", "0")
    published: dict[int, float] = {}

    @client.feature(T.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def _published(params: T.PublishDiagnosticsParams) -> None:
        if params.version is not None:
            published[params.version] = time.perf_counter()

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    await client.start_io(sys.executable, "-m", "cnnspec", "lsp", env=env)
    await client.initialize_async(T.InitializeParams(capabilities=T.ClientCapabilities(), root_uri=ROOT.as_uri()))
    client.initialized(T.InitializedParams())
    text = spec.read_text()
    uri = spec.resolve().as_uri()
    ident = T.TextDocumentIdentifier(uri=uri)
    client.text_document_did_open(T.DidOpenTextDocumentParams(
        T.TextDocumentItem(uri=uri, language_id="yaml", version=1, text=text)))
    while 1 not in published:
        await asyncio.sleep(0.001)
    lines = text.split("\n")
    conv = next(i for i, line in enumerate(lines) if "conv2d:" in line and "kernel_size: 3" in line)
    col = lines[conv].index("kernel_size")
    times: dict[str, list[float]] = {k: [] for k in ("diagnostics after an edit", "hover at once after an edit",
                                                     "hover", "inlay hints (whole file)",
                                                     "completion", "document symbols", "definition")}
    version = 1
    for n in range(runs):
        version += 1
        edited = text.replace("out_features: 1000", f"out_features: {1000 + n + 1}")
        start = time.perf_counter()
        client.text_document_did_change(T.DidChangeTextDocumentParams(
            T.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [T.TextDocumentContentChangeWholeDocument(text=edited)]))
        while version not in published:
            await asyncio.sleep(0.0005)
        times["diagnostics after an edit"].append(published[version] - start)
        version += 1  # an edit and a hover at once: the hover waits for the analysis of the new text
        edited = edited.replace("kernel_size: 7", f"kernel_size: {7 + 2 * (n % 2)}")
        start = time.perf_counter()
        client.text_document_did_change(T.DidChangeTextDocumentParams(
            T.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [T.TextDocumentContentChangeWholeDocument(text=edited)]))
        await client.text_document_hover_async(T.HoverParams(ident, T.Position(conv, col)))
        times["hover at once after an edit"].append(time.perf_counter() - start)
        await asyncio.sleep(0.12)  # a pause between edits, as a typist makes
        for name, request in (
            ("hover", lambda: client.text_document_hover_async(T.HoverParams(ident, T.Position(conv, col)))),
            ("inlay hints (whole file)", lambda: client.text_document_inlay_hint_async(T.InlayHintParams(
                ident, T.Range(T.Position(0, 0), T.Position(len(lines), 0))))),
            ("completion", lambda: client.text_document_completion_async(T.CompletionParams(
                ident, T.Position(conv, lines[conv].index("{") + 1)))),
            ("document symbols", lambda: client.text_document_document_symbol_async(T.DocumentSymbolParams(ident))),
            ("definition", lambda: client.text_document_definition_async(T.DefinitionParams(
                ident, T.Position(conv, col)))),
        ):
            start = time.perf_counter()
            await request()
            times[name].append(time.perf_counter() - start)
    status = await client.workspace_execute_command_async(T.ExecuteCommandParams(command="cnnspec.status"))
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    times["_status"] = [status]  # type: ignore[list-item]
    return times


def baselines(spec: Path, runs: int) -> tuple[list[float], list[float]]:
    from cnnspec.analysis.consistency import check_spec
    from cnnspec.shapes.walker import infer_shapes
    from cnnspec.spec import load_spec

    cold = []
    for _ in range(max(3, runs // 5)):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cnnspec", "validate", "-q", str(spec)], cwd=ROOT, check=True,
                       capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        cold.append(time.perf_counter() - start)
    warm = []
    for _ in range(runs):
        start = time.perf_counter()
        loaded = load_spec(spec)
        check_spec(loaded, infer_shapes(loaded))
        warm.append(time.perf_counter() - start)
    return cold, warm


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--spec", default="specs/resnet50.yaml")
    args = parser.parse_args()
    spec = (ROOT / args.spec).resolve()
    cold, warm = baselines(spec, args.runs)
    times = asyncio.run(measure(spec, args.runs))
    status = times.pop("_status")[0]
    print(f"cnnspec lsp on {args.spec}, {args.runs} runs each (round trips over stdio):")
    for name, values in times.items():
        print(f"  {name:28s} {_ms(values)}")
    worst = max(statistics.median(v) for v in times.values())
    print(f"baseline: cold `cnnspec validate -q`      {_ms(cold)}")
    print(f"baseline: the same analysis in-process   {_ms(warm)}")
    print(f"slowest median answer {worst * 1000:.1f} ms (target < 50 ms); "
          f"{statistics.median(cold) / worst:.0f}x faster than validate on save")
    print(f"server: torch imported: {status['torch_imported']}, resident memory {status['rss_kb'] / 1024:.0f} MiB, "
          f"{status['analyses']} analyses, slowest {status['slowest_analysis_ms']} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
