"""A plugin that cannot be imported (loaded with ``-p``): the server names it and goes on."""

raise ImportError("this plugin's dependency is missing")
