"""Abaco actor helper library.

Published under the package name ``agavepy`` so that actor code written for TACC's Abaco
(``from agavepy.actors import get_context, ...``) runs unchanged on this implementation.
Only the in-container ``actors`` module is provided, not the full Agave SDK.
"""

__version__ = "0.1.0"
