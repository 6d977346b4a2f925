"""The core: trace-tree model, tree builder, journal, store, stages, extraction. Never imports a framework."""
