"""The plugin-author kit: check a plugin's layers and components against torch.

    from cnnspec.testing import check_layer, check_components

    def test_shape_rule():
        check_layer("ConvBNReLU")          # 200 random draws vs the real forward

    def test_everything_builds():
        check_components("example")        # every name the plugin registers

Importing this module does not import torch; the checks do. For pytest
fixtures add ``pytest_plugins = ["cnnspec.testing.pytest_plugin"]`` to a
``conftest.py``.
"""

from cnnspec.testing.components import ComponentCheckError, ComponentReport, check_components
from cnnspec.testing.draw import CannotDraw, ParamDrawer
from cnnspec.testing.layers import LayerCheckError, LayerCheckReport, check_layer, fill_inferred

__all__ = [
    "CannotDraw",
    "ComponentCheckError",
    "ComponentReport",
    "LayerCheckError",
    "LayerCheckReport",
    "ParamDrawer",
    "check_components",
    "check_layer",
    "fill_inferred",
]
