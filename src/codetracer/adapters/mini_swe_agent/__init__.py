"""mini-swe-agent support: reads its `*.traj.json` trajectories (and its console output) into trace trees."""
