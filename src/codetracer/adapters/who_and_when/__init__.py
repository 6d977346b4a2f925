"""Who&When / AG2 multi-agent failure logs."""
