"""Benchmarks of the local system against the physical limit measured in the same run.

``python -m bench`` starts a private system on free ports (moto server, API, runners on the local
Docker engine), measures latency, throughput, scale from zero, scale out, idle cost and the API, each
against a baseline taken in the same run (bare Docker through the SDK with the same hardening flags),
and writes ``bench/results/latest.json``, PNG plots and the README's results table.
"""
