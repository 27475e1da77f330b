"""Local mode: the embedded AWS emulator (moto server), the resource bootstrap and the launcher."""
