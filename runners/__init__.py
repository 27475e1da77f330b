"""Runner hosts: one daemon per host that starts workers and runs each message in a fresh container."""
