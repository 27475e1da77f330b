"""Services: one function per use case; the Chalice views call exactly one of these."""
