"""Exporters: send finished trace trees to other tools.

Each exporter lives in its own module and imports its third-party dependencies only when used, so
``import codetracer`` stays light (:mod:`codetracer.export.otel` needs ``codetracer[otel]`` only once it exports).
"""
