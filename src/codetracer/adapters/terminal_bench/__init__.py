"""terminal-bench support: reads trial folders (Terminus episodes, casts, results.json) into trace trees."""
