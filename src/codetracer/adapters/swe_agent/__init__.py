"""SWE-agent support: reads its ``.traj`` run artifacts (formats 0.7, 1.0, 1.1, RetryAgent files, demonstrations)."""
