"""The hook contract, checked plugin by plugin: what a registration hook may
return, and how each way of breaking it is reported.

These plugins are plain modules loaded with ``-p MODULE`` (pytest's way of
naming a plugin that is not installed); the entry-point path is covered in
``test_entry_points``.
"""

from __future__ import annotations

import itertools
import textwrap

import pytest

from cnnspec.plugins.manager import BUILTIN_PLUGINS, PluginSet, hook_names
from cnnspec.plugins.registry import BrokenPlugin, Provider, Registry, RegistryError

_counter = itertools.count()

HEAD = """\
from cnnspec import hookimpl
from cnnspec.component import Component
from cnnspec.builtin.layers.activation import LAYERS
RELU = next(lt for lt in LAYERS if lt.name == "ReLU")
"""


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    """Write a module and load it as the only non-built-in plugin; returns (PluginSet, name)."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(body: str) -> tuple[PluginSet, str]:
        name = f"cnnspec_t_reg{next(_counter)}"
        (tmp_path / f"{name}.py").write_text(HEAD + textwrap.dedent(body))
        plugins = PluginSet(autoload=False, enabled=[name])
        plugins.all_registries()
        return plugins, name

    return make


def _error(plugins: PluginSet, name: str) -> str:
    info = plugins.info[name]
    assert info.status == "broken", info
    assert not info.registers
    return info.error or ""


def test_a_good_plugin_registers_every_kind(plugin_module):
    plugins, name = plugin_module("""
        @hookimpl
        def cnnspec_layers():
            return (lt for lt in [type(RELU)("Zap", RELU.params, RELU.infer, RELU.build)])

        @hookimpl
        def cnnspec_losses():
            return [Component("zloss", "torch.nn:L1Loss")]

        @hookimpl
        def cnnspec_callbacks():
            return None
        """)
    info = plugins.info[name]
    assert info.status == "loaded" and not info.builtin and info.distribution is None
    assert info.registers == {"layer": ["Zap"], "loss": ["zloss"]}
    assert plugins.layers().entry("zap").provider == Provider(name)


@pytest.mark.parametrize(("body", "message"), [
    ("""
     @hookimpl
     def cnnspec_losses():
         return Component("one", "torch.nn:L1Loss")
     """, "hook cnnspec_losses returned a single Component; return a list of them"),
    ("""
     @hookimpl
     def cnnspec_losses():
         return "l1loss"
     """, "hook cnnspec_losses returned str 'l1loss', expected a list of Component objects"),
    ("""
     @hookimpl
     def cnnspec_layers():
         return [Component("relu2", "torch.nn:ReLU")]
     """, "hook cnnspec_layers returned a Component ('relu2') in its list, expected LayerType objects"),
    ("""
     @hookimpl
     def cnnspec_losses():
         return [Component("my:loss", "torch.nn:L1Loss")]
     """, "hook cnnspec_losses: loss 'my:loss': a name starts with a letter or _ and has only letters, digits, "
          "_ . - (':' is reserved for plugin:name)"),
    ("""
     @hookimpl
     def cnnspec_layers():
         return [type(RELU)("Residual", RELU.params, RELU.infer, RELU.build)]
     """, "hook cnnspec_layers: layer 'Residual': 'residual' is a container keyword of the spec language; "
          "choose another name"),
    ("""
     @hookimpl
     def cnnspec_losses():
         return [Component("a", "torch.nn:L1Loss"), Component("A", "torch.nn:MSELoss")]
     """, "hook cnnspec_losses returns the loss name 'A' twice (also as 'a'); names are case-insensitive"),
    ("""
     @hookimpl
     def cnnspec_losses():
         return [Component("nofactory", "torch.nn.L1Loss")]
     """, "hook cnnspec_losses: loss 'nofactory': a factory given by name is 'module:attribute', "
          "got 'torch.nn.L1Loss'"),
    ("""
     @hookimpl(hookwrapper=True)
     def cnnspec_losses():
         yield
     """, "hook cnnspec_losses cannot be a wrapper: registration hooks return definitions"),
])
def test_contract_violations_break_only_that_plugin(plugin_module, body, message):
    plugins, name = plugin_module(body)
    assert _error(plugins, name) == message
    assert plugins.info["layers"].status == "loaded"
    broken = next(b for b in plugins.broken if b.name == name)
    assert broken.describe() == f"plugin '{name}' failed to load: {message}"


def test_an_unknown_hook_with_no_close_name_lists_the_hooks(plugin_module):
    plugins, name = plugin_module("""
        @hookimpl
        def make_everything():
            return []
        """)
    assert _error(plugins, name).endswith(f"is not a cnnspec hook (hooks: {', '.join(hook_names())})")


def test_specname_and_optional_hooks_follow_pluggy(plugin_module):
    plugins, name = plugin_module("""
        @hookimpl(specname="cnnspec_losses")
        def my_losses():
            return [Component("spec_named", "torch.nn:L1Loss")]

        @hookimpl(optionalhook=True)
        def cnnspec_from_the_future():
            return []
        """)
    assert plugins.info[name].status == "loaded"
    assert plugins.info[name].registers == {"loss": ["spec_named"]}


def test_a_wrong_argument_gets_the_nearest_real_one(plugin_module, monkeypatch):
    from cnnspec import hookspec

    @hookspec.hookspec
    def cnnspec_configure(config, plugins):
        """A hook with arguments (for this test only)."""

    monkeypatch.setattr(hookspec, "cnnspec_configure", cnnspec_configure, raising=False)
    plugins, name = plugin_module("""
        @hookimpl
        def cnnspec_configure(confg):
            pass
        """)
    assert "asks for argument 'confg', but cnnspec_configure takes (config, plugins); did you mean 'config'?" \
        in _error(plugins, name)


def test_the_same_module_under_two_names_is_reported(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "cnnspec_t_twice.py").write_text("")
    plugins = PluginSet(autoload=False, enabled=["cnnspec_t_twice"])
    assert plugins.info["cnnspec_t_twice"].status == "loaded"
    from cnnspec.plugins.discovery import Candidate

    plugins._import(Candidate("again", "cnnspec_t_twice", False, "again", lambda: __import__("cnnspec_t_twice")))
    assert plugins.info["again"].error == "cnnspec_t_twice is already registered as plugin 'cnnspec_t_twice'"


def test_builtins_register_through_the_same_hooks_and_import_no_torch():
    import subprocess
    import sys

    code = ("import sys\nfrom cnnspec.plugins.manager import PluginSet\n"
            "ps = PluginSet(autoload=False)\nps.all_registries()\n"
            "print(sorted(n for n, i in ps.info.items() if i.builtin and i.status == 'loaded'))\n"
            "print('torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    loaded, torch_imported = done.stdout.strip().splitlines()
    assert loaded == str(sorted(BUILTIN_PLUGINS)), done.stderr
    assert torch_imported == "False"


def test_every_kind_has_builtins_listed_by_plugin():
    plugins = PluginSet(autoload=False)
    for kind, registry in plugins.all_registries().items():
        assert len(registry) > 0, kind
        assert all(e.provider.distribution == "cnnspec" for e in registry), kind
    assert not plugins.broken


# -- the registry on its own ---------------------------------------------------------------------
def _registry(order: list[str]) -> Registry[str]:
    registry: Registry[str] = Registry("dataset")
    providers = {"a": Provider("a", "dist-a", "1.0"), "b": Provider("b", "dist-b", "2.0")}
    for key in order:
        registry.add("Shapes", key, providers[key])
    return registry


def test_ambiguity_message_does_not_depend_on_order():
    messages = set()
    for order in (["a", "b"], ["b", "a"]):
        with pytest.raises(RegistryError) as caught:
            _registry(order).get("shapes")
        messages.add(str(caught.value))
    assert messages == {
        "the dataset name 'shapes' is registered by both plugin 'a' (distribution dist-a 1.0) and plugin 'b' "
        "(distribution dist-b 2.0)\n  Hint: write the qualified name to pick one: 'a:Shapes', 'b:Shapes'; "
        "or disable one plugin with -p no:NAME"}
    assert _registry(["b", "a"]).get("a:shapes") == "a"
    assert "shapes" not in _registry(["a", "b"]) and "b:SHAPES" in _registry(["a", "b"])


def test_qualified_lookups_explain_what_is_wrong():
    registry = _registry(["a"])
    registry.add("Dots", "d", Provider("a"))
    with pytest.raises(RegistryError, match=r"no plugin 'aa' provides datasets; did you mean 'a:shapes'\?"):
        registry.get("aa:shapes")
    with pytest.raises(RegistryError, match=r"plugin 'a' has no dataset 'shapez'; did you mean 'a:Shapes'\?"):
        registry.get("a:shapez")
    registry.inactive["off"] = "disabled with -p no:NAME"
    with pytest.raises(RegistryError, match=r"plugin 'off' is not loaded \(disabled with -p no:NAME\)"):
        registry.get("off:shapes")


def test_unknown_names_point_at_broken_plugins():
    registry = _registry(["a"])
    registry.broken.append(BrokenPlugin("lost", "ImportError: nope", "dist-lost", "0.1"))
    registry.broken.append(BrokenPlugin("known", "hook raised", None, None, {"dataset": ("Stripes",)}))
    with pytest.raises(RegistryError) as caught:
        registry.get("stripes")
    assert caught.value.message == ("unknown dataset 'stripes': it is provided by plugin 'known' failed to load: "
                                    "hook raised")
    with pytest.raises(RegistryError) as caught:
        registry.get("circles")
    assert caught.value.hint.startswith("installed but failed to load, and may provide it: 'lost' "
                                        "(see `cnnspec plugins`).")
    with pytest.raises(RegistryError, match=r"it would come from plugin 'lost' .* failed to load: ImportError"):
        registry.get("lost:circles")


def test_same_plugin_twice_is_an_error():
    registry = _registry(["a"])
    with pytest.raises(RegistryError, match=r"plugin 'a' .* registers the dataset 'shapes' twice"):
        registry.add("shapes", "again", Provider("a", "dist-a", "1.0"))
