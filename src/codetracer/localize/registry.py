"""The localizer registry: failure localizers contributed through the ``codetracer_register_localizers`` hook."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from codetracer.core.model import Diagnosis, Run


@runtime_checkable
class Localizer(Protocol):
    name: str

    def localize(self, run: Run) -> Diagnosis:
        """Where ``run`` went wrong: onset step, downstream chain, incorrect/unuseful step labels."""
        ...


class LocalizerRegistry:
    def __init__(self, localizers: list[Localizer]) -> None:
        self.localizers = localizers

    @classmethod
    def from_plugins(cls, pm: Any = None) -> LocalizerRegistry:
        if pm is None:
            from codetracer.hooks.manager import get_plugin_manager

            pm = get_plugin_manager()
        found: list[Localizer] = []
        pm.hook.codetracer_register_localizers(register=found.append)
        return cls(found)

    def names(self) -> list[str]:
        return [loc.name for loc in self.localizers]

    def get(self, name: str | None = None) -> Localizer | None:
        """The localizer called ``name``; without a name the first registered (the default), or None if none."""
        if name is None:
            return self.localizers[0] if self.localizers else None
        for loc in self.localizers:
            if loc.name == name:
                return loc
        raise KeyError(f"no localizer named {name!r} (known: {', '.join(self.names()) or 'none'})")
