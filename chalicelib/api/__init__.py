"""The HTTP layer: one Chalice blueprint per area. Views only parse, call one service, and wrap."""
