"""The plugin manager: loads plugins and keeps a faulty one from ever breaking the observed agent.

pluggy stops a hook call at the first exception. For tracing that is the wrong default -- a broken exporter must not
crash the agent nor starve the tree builder -- so every hook implementation is registered behind a guard that logs
the first failure of each (plugin, hook) pair and then swallows it. ``SystemExit`` counts as a failure too: a plugin
calling ``sys.exit()`` must not end the agent's run. Hook wrappers (``wrapper=True`` / ``hookwrapper=True``) get a
guard that is itself a generator, so pluggy accepts them, and a wrapper failing before or after its ``yield`` is
isolated the same way. A plugin pluggy rejects at registration (a hook argument not in the spec, a wrapper that is not
a generator) is logged once and skipped when it comes from an entry point.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
from collections.abc import Callable, Generator
from typing import Any

import pluggy

from codetracer.hooks import specs

log = logging.getLogger("codetracer.plugins")

ENTRY_POINT_GROUP = "codetracer"

ISOLATED: tuple[type[BaseException], ...] = (Exception, SystemExit)
"""What a plugin may raise without reaching the agent. ``KeyboardInterrupt`` is not in it: a person pressing Ctrl-C
means it, whichever frame it lands in."""


class PluginFailures:
    """Counts failures per (plugin, hook) and remembers which were already logged."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[tuple[str, str], int] = {}

    def record(self, plugin: str, hook: str, exc: BaseException) -> None:
        key = (plugin, hook)
        with self._lock:
            first = key not in self.counts
            self.counts[key] = self.counts.get(key, 0) + 1
        if first:
            log.warning(
                "codetracer plugin %r failed in %s (%s: %s); it is isolated and further failures are counted silently",
                plugin,
                hook,
                type(exc).__name__,
                " ".join(str(exc).split()),  # one line: pluggy's validation messages span several
            )


def _guard(func: Callable[..., Any], plugin: str, hook: str, failures: PluginFailures) -> Callable[..., Any]:
    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ISOLATED as exc:  # isolation is the point
            failures.record(plugin, hook, exc)
            return None

    guarded._codetracer_unguarded = func  # type: ignore[attr-defined]  # what HookRelay calls, isolating it itself
    return guarded


def _guard_wrapper(
    func: Callable[..., Any], plugin: str, hook: str, failures: PluginFailures, *, old_style: bool
) -> Callable[..., Any]:
    """A guard for a hook wrapper that is a generator function itself (pluggy accepts nothing else).

    The plugin's generator runs to its ``yield`` (its set-up), then the inner implementations run, then it resumes
    (its tear-down). A failure in set-up or tear-down is recorded and the hook's own result stands; a wrapper that
    never yields, or yields twice, is a failure too. An exception of the inner implementations goes into the wrapper
    as pluggy would throw it, and on to the caller unless the wrapper handles it.
    """

    def fail(exc: BaseException) -> None:
        failures.record(plugin, hook, exc)

    if old_style:

        @functools.wraps(func)
        def guarded_old(*args: Any, **kwargs: Any) -> Generator[None, Any, None]:
            try:
                gen = func(*args, **kwargs)
                next(gen)
            except StopIteration:
                fail(RuntimeError("the hookwrapper did not yield"))
                yield
                return
            except ISOLATED as exc:
                fail(exc)
                yield
                return
            outcome = yield
            try:
                gen.send(outcome)
            except StopIteration:
                return
            except ISOLATED as exc:
                fail(exc)
                return
            gen.close()
            fail(RuntimeError("the hookwrapper yielded more than once"))

        return guarded_old

    @functools.wraps(func)
    def guarded_new(*args: Any, **kwargs: Any) -> Generator[None, Any, Any]:
        try:
            gen = func(*args, **kwargs)
            next(gen)
        except StopIteration:
            fail(RuntimeError("the wrapper did not yield"))
            return (yield)
        except ISOLATED as exc:
            fail(exc)
            return (yield)
        try:
            result = yield
        except BaseException as inner:  # the inner implementations raised: the wrapper sees it, as with pluggy
            try:
                gen.throw(inner)
            except StopIteration as stop:
                return stop.value  # the wrapper handled it and returned a result
            except ISOLATED as exc:
                if exc is not inner:  # the wrapper failed handling it: recorded, and the original error goes on
                    fail(exc)
                raise inner  # noqa: B904 - the inner implementations' error, not the wrapper's
            gen.close()
            fail(RuntimeError("the wrapper yielded more than once"))
            raise
        try:
            gen.send(result)
        except StopIteration as stop:
            return stop.value
        except ISOLATED as exc:
            fail(exc)
            return result
        gen.close()
        fail(RuntimeError("the wrapper yielded more than once"))
        return result

    return guarded_new


class _GuardedPlugin:
    """A stand-in that exposes a plugin's hook implementations wrapped in guards."""

    def __init__(self, plugin: object, name: str, failures: PluginFailures) -> None:
        self.__wrapped_plugin__ = plugin
        for attr in dir(plugin):
            if not attr.startswith("codetracer_"):
                continue
            func = getattr(plugin, attr, None)
            if not callable(func):
                continue
            opts = getattr(func, f"{specs.PROJECT}_impl", None)
            wraps = opts is not None and (opts.get("wrapper") or opts.get("hookwrapper"))
            if wraps and inspect.isgeneratorfunction(func):
                guarded = _guard_wrapper(func, name, attr, failures, old_style=bool(opts and opts.get("hookwrapper")))
            else:  # a wrapper that is not a generator stays plain: pluggy rejects it at registration, as it should
                guarded = _guard(func, name, attr, failures)
            if opts is not None:
                setattr(guarded, f"{specs.PROJECT}_impl", opts)
            setattr(self, attr, guarded)


class HookRelay:
    """Calls trace-event hook implementations directly, in pluggy's order, each isolated.

    A trace event must cost microseconds on the agent's thread; pluggy's general dispatch (argument checks, result
    collection, wrapper protocol) is a third of that. Trace events return nothing and take no wrappers, so the relay
    resolves each hook's implementations once, calls them in a plain loop, and re-resolves when plugins change.
    Hooks with wrappers go through pluggy as usual.

    Its hooks take the arguments positionally, in the order of the hook spec (what :class:`~codetracer.core.events.
    Events` passes): keyword calls would build a dict per call and per plugin. The relay calls each plugin's own
    method and isolates it itself (a ``try`` per call, free until something raises) rather than through its guard,
    which saves a call frame per plugin per event; a failure is recorded exactly as the guard records it.
    """

    positional = True
    """Tells :class:`~codetracer.core.events.Events` to pass arguments positionally."""

    def __init__(self, pm: PluginManager) -> None:
        self._pm = pm
        self._current = [True]
        """Shared with the direct recorders handed out (:meth:`recorder`); set false when plugins change."""

    def recorder(self, run_id: str, mapper: str) -> Callable[[Any, float | None], None] | None:
        """A direct ``codetracer_record`` for one run and mapper, or ``None``.

        When the only implementation of ``codetracer_record`` is codetracer's run log (no third-party plugin wants
        records), an adapter's records go straight into the run's event list and journal: no dispatch, no lookup of
        the run, a few microseconds less per record inside a running agent. Should a plugin that implements it be
        registered later, the recorder hands every later record to the hook (:meth:`reset`), so the plugin misses
        nothing from then on.
        """
        impls = self._pm.hook.codetracer_record.get_hookimpls()
        if len(impls) != 1 or impls[0].hookwrapper or impls[0].wrapper:
            return None
        make = getattr(self._pm.original(impls[0].plugin_name), "direct_recorder", None)
        if make is None:
            return None

        def fallback(payload: Any, timestamp: float | None) -> None:
            self.codetracer_record(run_id, mapper, payload, timestamp)

        failures, plugin = self._pm.failures, impls[0].plugin_name

        def on_error(exc: Exception) -> None:
            failures.record(plugin, "codetracer_record", exc)

        direct: Callable[[Any, float | None], None] | None = make(
            run_id, mapper, valid=self._current, fallback=fallback, on_error=on_error
        )
        return direct

    def __getattr__(self, name: str) -> Callable[..., None]:
        caller = getattr(self._pm.hook, name)
        if caller.spec is None:  # not a codetracer hook: nothing to speed up
            self.__dict__[name] = caller
            return caller
        spec_args = tuple(caller.spec.argnames)
        impls = list(reversed(caller.get_hookimpls()))  # pluggy calls the last registered first
        if any(impl.hookwrapper or impl.wrapper for impl in impls):

            def through_pluggy(*args: Any) -> Any:
                return caller(**dict(zip(spec_args, args, strict=True)))

            self.__dict__[name] = through_pluggy
            return through_pluggy
        record = self._pm.failures.record
        plan = [
            (
                getattr(impl.function, "_codetracer_unguarded", impl.function),
                impl.plugin_name,
                tuple(spec_args.index(a) for a in impl.argnames),
            )
            for impl in impls
        ]
        everything = tuple(range(len(spec_args)))
        if all(picks == everything for _, _, picks in plan):
            functions = [(function, plugin) for function, plugin, _ in plan]
            if len(functions) == 1:  # the usual case (only the run log traces events): no loop per event
                only, only_plugin = functions[0]

                def relay(*args: Any) -> None:
                    try:
                        only(*args)
                    except ISOLATED as exc:  # isolation is the point
                        record(only_plugin, name, exc)

            else:

                def relay(*args: Any) -> None:
                    for function, plugin in functions:
                        try:
                            function(*args)
                        except ISOLATED as exc:  # isolation is the point
                            record(plugin, name, exc)

        else:

            def relay(*args: Any) -> None:
                for function, plugin, picks in plan:
                    try:
                        function(*[args[i] for i in picks])
                    except ISOLATED as exc:  # isolation is the point
                        record(plugin, name, exc)

        self.__dict__[name] = relay
        return relay

    def reset(self) -> None:
        self._current[0] = False  # direct recorders handed out go through the hook from now on
        self.__dict__ = {"_pm": self._pm, "_current": [True]}


class PluginManager(pluggy.PluginManager):
    """pluggy's manager with codetracer's specs loaded and every plugin isolated."""

    def __init__(self) -> None:
        super().__init__(specs.PROJECT)
        self.add_hookspecs(specs)
        self.failures = PluginFailures()
        self._originals: dict[str, object] = {}
        self.relay = HookRelay(self)
        """Fast direct calls of the trace-event hooks (see :class:`HookRelay`); use it like ``pm.hook``."""

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register ``plugin`` behind failure guards. Returns its name (as pluggy does).

        If pluggy rejects the plugin (``PluginValidationError``: an argument not in the spec, a wrapper that is not a
        generator), whatever pluggy had registered of it before noticing is taken off again, so the manager is as
        before the call, and the error is raised.
        """
        name = name or self.get_canonical_name(plugin)
        guarded = _GuardedPlugin(plugin, name, self.failures)
        try:
            registered = super().register(guarded, name)
        except pluggy.PluginValidationError:
            if self.get_plugin(name) is guarded:  # pluggy registers hook by hook and stops at the bad one
                super().unregister(name=name)
            self.relay.reset()
            raise
        if registered is not None:
            self._originals[registered] = plugin
        self.relay.reset()
        return registered

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        if name is None and plugin is not None:
            name = next((n for n, p in self._originals.items() if p is plugin), None)
            plugin = None
        if name is not None:
            self._originals.pop(name, None)
        removed = super().unregister(plugin=plugin, name=name)
        self.relay.reset()
        return removed

    def original(self, name: str) -> object | None:
        """The plugin object registered under ``name`` (not its guard)."""
        return self._originals.get(name)

    def load_entrypoint_plugins(self) -> None:
        """Load the plugins of the ``codetracer`` entry-point group; a broken one is logged and skipped.

        codetracer's own plugins (its built-in formats, localizers and mappers, :mod:`codetracer.plugins`) come this
        way too, registered before the others: pluggy calls the plugin registered last first, so a third-party
        plugin's contributions come before the built-in ones, as they always have.
        """
        from importlib.metadata import entry_points

        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: not _ours(ep)):
            if self.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
            except ISOLATED as exc:  # a broken plugin must not stop codetracer
                self.failures.record(ep.name, "load", exc)
                continue
            try:
                self.register(plugin, name=ep.name)
            except (pluggy.PluginValidationError, ValueError) as exc:  # rejected by pluggy, or a name taken twice
                self.failures.record(ep.name, "register", exc)


_default: PluginManager | None = None
_default_lock = threading.Lock()


def _ours(ep: Any) -> bool:
    """Whether entry point ``ep`` is advertised by codetracer's own distribution."""
    dist = getattr(ep, "dist", None)
    return dist is not None and (dist.name or "").lower() == specs.PROJECT


def get_plugin_manager() -> PluginManager:
    """The process-wide manager: the plugins of entry-point group ``codetracer``, codetracer's own first.

    Trace-event sinks (tree builder, journal) are not registered here: each :class:`~codetracer.core.tracer.Tracer`
    owns a manager of its own so tracers stay independent. This one serves the registries (artifact formats,
    localizers, record mappers).
    """
    global _default
    with _default_lock:
        if _default is None:
            pm = PluginManager()
            pm.load_entrypoint_plugins()
            _default = pm
        return _default
