"""Failure localization: from a trace tree to the first decisive wrong step and the chain it caused.

The default localizer (:class:`~codetracer.localize.signal_localizer.SignalLocalizer`, name ``"signals"``) needs no
model and no API key and runs in milliseconds: small evidence extractors in :mod:`codetracer.localize.signals` read
the tree (exit codes, tracebacks, repeated actions, overwritten edits, failing tests after edits, unverified
submissions, ignored errors, executed code whose result the final answer builds on) and the combination step turns
that evidence into an onset step, a downstream chain, CodeTraceBench step labels, a confidence and an explanation.

Localizers are registered through :mod:`codetracer.localize.plugin` (``LOCALIZERS``); see ``docs/localization.md``
for how they are measured.
"""
