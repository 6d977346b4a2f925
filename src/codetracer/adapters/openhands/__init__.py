"""OpenHands support: reads persisted SDK conversations and legacy v0 event streams, trajectories and outputs."""
