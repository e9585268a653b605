"""Small plugin distributions for the tests, installed with pip as a user would.

Each :class:`Package` is written as a source tree with its own
``pyproject.toml`` and an entry point in group ``cnnspec``, and installed with
``pip install --target``. All are built in one pip run into a staging folder,
then each distribution (its package plus its ``.dist-info``, exactly as pip
wrote them) is moved to a folder of its own, so a test chooses which are
"installed" — and in which order — through ``sys.path``/``PYTHONPATH``.
Nothing is installed into the shared environment.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_SOURCE = ROOT / "plugins" / "cnnspec-example"


@dataclass
class Package:
    """A plugin distribution: name, version, entry points and module sources."""

    dist: str
    version: str
    entry_points: dict[str, str]
    modules: dict[str, str] = field(default_factory=dict)

    @property
    def folder(self) -> str:
        return self.dist.replace("-", "_")

    def write(self, root: Path) -> Path:
        src = root / self.dist
        eps = "\n".join(f'{name} = "{value}"' for name, value in self.entry_points.items())
        (src / "src").mkdir(parents=True)
        (src / "pyproject.toml").write_text(textwrap.dedent(f"""\
            [build-system]
            requires = ["setuptools>=68"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{self.dist}"
            version = "{self.version}"

            [project.entry-points.cnnspec]
            """) + eps + "\n")
        for module, text in self.modules.items():
            path = src / "src" / (module.replace(".", "/") + ".py")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        return src


_SHAPES = """\
    from cnnspec import hookimpl
    from cnnspec.component import Component


    @hookimpl
    def cnnspec_datasets():
        return [Component("shapes", "{module}.data:shapes", doc="the shapes of {module}")]
    """

_TWIN = """\
    from cnnspec import hookimpl
    from cnnspec.component import Component


    @hookimpl
    def cnnspec_losses():
        return [Component("{loss}", "torch.nn:L1Loss")]
    """

PACKAGES: dict[str, Package] = {
    # four broken plugins in one distribution, each in its own way
    "misc": Package("cnnspec-t-misc", "0.3", {
        "broken": "cnnspec_t_misc.broken",
        "raising": "cnnspec_t_misc.raising",
        "misspelled": "cnnspec_t_misc.misspelled",
        "wrongarg": "cnnspec_t_misc.wrongarg:Hooks",
    }, {
        "cnnspec_t_misc.__init__": "",
        # import fails: a dependency is missing
        "cnnspec_t_misc.broken": """\
            import cnnspec_t_missing_dependency  # noqa: F401
            """,
        # imports and registers a layer, but its dataset hook raises
        "cnnspec_t_misc.raising": """\
            from cnnspec import hookimpl
            from cnnspec.builtin.layers.activation import LAYERS


            @hookimpl
            def cnnspec_layers():
                relu = next(lt for lt in LAYERS if lt.name == "ReLU")
                return [type(relu)("Gizmo", relu.params, relu.infer, relu.build)]


            @hookimpl
            def cnnspec_datasets():
                raise RuntimeError("the gizmo catalogue is unreachable")
            """,
        # a misspelled hook name: pluggy alone would accept it silently
        "cnnspec_t_misc.misspelled": """\
            from cnnspec import hookimpl
            from cnnspec.component import Component


            @hookimpl
            def cnnspec_dataset():
                return [Component("typo", "cnnspec_t_misc.misspelled:nothing")]
            """,
        # a hookimpl (a method of a plugin object) asking for an argument its hook lacks
        "cnnspec_t_misc.wrongarg": """\
            from cnnspec import hookimpl


            class Hooks:
                @hookimpl
                def cnnspec_losses(self, config):
                    return []


            Hooks = Hooks()
            """,
    }),
    # alpha and beta both register the dataset "shapes", and both name a plugin "twin"
    "alpha": Package("cnnspec-t-alpha", "1.0", {"shapes_a": "cnnspec_t_alpha.shapes", "twin": "cnnspec_t_alpha.twin"}, {
        "cnnspec_t_alpha.__init__": "",
        "cnnspec_t_alpha.shapes": _SHAPES.format(module="cnnspec_t_alpha"),
        "cnnspec_t_alpha.data": "def shapes(root, download):\n    return 'alpha'\n",
        "cnnspec_t_alpha.twin": _TWIN.format(loss="twin_a_loss"),
    }),
    "beta": Package("cnnspec-t-beta", "2.0", {"shapes_b": "cnnspec_t_beta.shapes", "twin": "cnnspec_t_beta.twin"}, {
        "cnnspec_t_beta.__init__": "",
        "cnnspec_t_beta.shapes": _SHAPES.format(module="cnnspec_t_beta"),
        "cnnspec_t_beta.data": "def shapes(root, download):\n    return 'beta'\n",
        "cnnspec_t_beta.twin": _TWIN.format(loss="twin_b_loss"),
    }),
}

#: folder -> the distributions installed in it
FOLDERS = {"misc": ["misc"], "alpha": ["alpha"], "beta": ["beta"], "example": ["example"]}


def pip_install(sources: list[Path], target: Path) -> None:
    """``pip install --target`` without network, build isolation or dependencies."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--target", str(target), *map(str, sources)],
        check=True, capture_output=True, text=True,
    )


def install_all(root: Path) -> dict[str, Path]:
    """Install every package (and the example plugin) and sort them into folders."""
    sources = root / "src"
    staging = root / "staging"
    paths = [pkg.write(sources) for pkg in PACKAGES.values()]
    example = sources / "cnnspec-example"
    shutil.copytree(EXAMPLE_SOURCE, example, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    pip_install([*paths, example], staging)
    dists = {key: (pkg.folder, pkg.dist) for key, pkg in PACKAGES.items()}
    dists["example"] = ("cnnspec_example", "cnnspec-example")
    out = {}
    for folder, keys in FOLDERS.items():
        dest = root / folder
        dest.mkdir()
        for key in keys:
            module, dist = dists[key]
            for item in staging.iterdir():
                if item.name == module or item.name.startswith(f"{dist.replace('-', '_')}-"):
                    shutil.move(str(item), dest / item.name)
        out[folder] = dest
    return out
