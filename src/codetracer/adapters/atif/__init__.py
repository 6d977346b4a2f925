"""ATIF (Agent Trajectory Interchange Format) trajectories: import and export."""
