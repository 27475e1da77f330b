"""The per-message pipeline: claim, lease, container, deliver, collect, finalise."""
