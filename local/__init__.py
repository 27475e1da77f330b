"""Local mode: the embedded AWS emulator (moto server), its bootstrap, the WSGI edge and the launcher."""
