"""LangChain / LangGraph adapter.

Live tracing lives in :mod:`codetracer.adapters.langchain.live`, which imports ``langchain_core``; this package
imports nothing so that ``import codetracer.adapters.langchain`` stays free of the framework. Register with
``codetracer.langchain()`` (every run in the process) or ``codetracer.trace(runnable)`` (one runnable).
"""
