"""The HTTP edge: routing glue, the guard, the envelope, request limits, staged uploads, OpenAPI."""
