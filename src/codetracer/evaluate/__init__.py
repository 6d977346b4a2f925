"""Evaluation of failure localizers against gold labels (``codetracer eval``).

:mod:`~codetracer.evaluate.metrics` holds the pure metric functions, :mod:`~codetracer.evaluate.gold` reads gold
sets (Who&When folders, CodeTraceBench manifests, a simple JSONL format, solved runs for false alarms) and
:mod:`~codetracer.evaluate.harness` runs a localizer next to the constant-rule baselines and tabulates the results
per agent framework.
"""
