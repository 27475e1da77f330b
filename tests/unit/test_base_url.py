"""The API's base URL taken from a request (``chalicelib/edge/lambda_start.base_url``): the REST API's stage
is in the path, an HTTP API's ``$default`` stage is not (infrastructure/abaco_infra/api.py)."""
from __future__ import annotations

from chalicelib.edge.lambda_start import base_url

DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"


def test_the_rest_stage_is_in_the_base_url_and_the_http_apis_default_stage_is_not() -> None:
    assert base_url({"domainName": DOMAIN, "stage": "api"}) == f"https://{DOMAIN}/api"
    assert base_url({"domainName": DOMAIN, "stage": "$default"}) == f"https://{DOMAIN}"
    assert base_url({"domainName": "abaco.example.org", "stage": "api"}) == "https://abaco.example.org"
    assert base_url({"domainName": "127.0.0.1", "stage": "$default"}) is None
