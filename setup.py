"""The example specs (``specs/*.yaml``) ship inside the wheel as ``cnnspec/examples/``.

Everything else is in ``pyproject.toml``; this only adds the copy, so the
specs stay where the repository keeps them.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithExamples(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "cnnspec" / "examples"
        target.mkdir(parents=True, exist_ok=True)
        for spec in sorted(Path(__file__).resolve().parent.joinpath("specs").glob("*.yaml")):
            shutil.copy2(spec, target / spec.name)


setup(cmdclass={"build_py": BuildWithExamples})
