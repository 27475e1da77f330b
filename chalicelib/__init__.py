"""Abaco on AWS: the API's domain, services and storage (deployed to Lambda with the Chalice app)."""
