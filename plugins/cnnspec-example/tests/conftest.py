# the author kit's fixtures: cnnspec_plugins, cnnspec_cli
pytest_plugins = ["cnnspec.testing.pytest_plugin"]
