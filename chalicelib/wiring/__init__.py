"""Wiring: typed settings, resource definitions, the backend that holds the stores, logging set-up."""
