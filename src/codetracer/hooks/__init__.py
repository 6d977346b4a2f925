"""pluggy hook specifications and the plugin manager.

Write a plugin as a module or object with functions named like the specs in :mod:`codetracer.hooks.specs`,
decorated with :data:`hookimpl`, and expose it under the ``codetracer`` entry-point group.
"""

from codetracer.hooks.manager import PluginManager, get_plugin_manager
from codetracer.hooks.specs import hookimpl, hookspec

__all__ = ["PluginManager", "get_plugin_manager", "hookimpl", "hookspec"]
