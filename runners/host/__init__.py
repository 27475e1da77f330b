"""The runner host: the daemon, its per-actor workers, store contact, orphan reaping."""
