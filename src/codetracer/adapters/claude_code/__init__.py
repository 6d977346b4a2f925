"""Claude Code (stream-json log) adapter."""
