"""CodeTraceBench pre-normalized runs (steps.json + stage_ranges.json + task.md)."""
