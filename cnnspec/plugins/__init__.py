"""Stage 2, plugins: finding, loading and checking plugins; the registries they fill.

Built-in and third-party plugins go through the same hooks
(:mod:`cnnspec.hookspec`); a broken plugin is recorded, never fatal.
"""

from cnnspec.plugins.manager import (
    AUTOLOAD_ENV,
    BUILTIN_PLUGINS,
    ENTRY_POINT_GROUP,
    KINDS,
    PluginInfo,
    PluginSet,
    configure,
    get_plugins,
    hook_names,
    reset_plugins,
)
from cnnspec.plugins.registry import BrokenPlugin, Entry, Provider, Registry

__all__ = [
    "AUTOLOAD_ENV",
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "KINDS",
    "BrokenPlugin",
    "Entry",
    "PluginInfo",
    "PluginSet",
    "Provider",
    "Registry",
    "configure",
    "get_plugins",
    "hook_names",
    "reset_plugins",
]
