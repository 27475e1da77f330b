"""The JWT matrix over HTTP (plan T17): only well-signed, unexpired RS256 tokens pass; every other token
gets the same 401 body, never a 5xx. Also the two header forms and what they mean."""
from __future__ import annotations

import hmac
import time
from typing import Any

import jwt as pyjwt
import requests
from packaging.version import Version

from local.launcher import Stack
from tests import jwt_keys
from tests.integration.security.conftest import TENANT_A, TENANT_B

KID = {"kid": "abaco-test-key"}
PYJWT_FLOOR = Version("2.15.1")  # reliability plan §4.1: the newest release with the known fixes


def _bearer(claims: dict[str, Any], **sign_kwargs: Any) -> dict[str, str]:
    sign_kwargs.setdefault("headers", KID)
    return {"Authorization": "Bearer " + jwt_keys.sign(claims, **sign_kwargs)}


def _v2(tenant: str, claims: dict[str, Any]) -> dict[str, str]:
    return {f"X-Jwt-Assertion-{tenant}": jwt_keys.sign(claims, headers=KID)}


def _valid() -> dict[str, dict[str, str]]:
    now = int(time.time())
    return {
        "bearer": _bearer(jwt_keys.bearer_claims("alice", TENANT_A)),
        "v2 with exp in ms": _v2(TENANT_A, jwt_keys.v2_claims("alice", tenant=TENANT_A)),
        "expired 30 s ago (leeway)": _bearer({**jwt_keys.bearer_claims("alice", TENANT_A), "exp": now - 30}),
    }


def _invalid() -> dict[str, dict[str, str]]:
    now = int(time.time())
    good = jwt_keys.bearer_claims("mallory", TENANT_A)
    _, pem = jwt_keys.key_pair()
    hs_forgery = jwt_keys.unsigned({"alg": "HS256", "kid": "abaco-test-key"}, good)
    head, body, _ = hs_forgery.split(".")
    hs_forgery = f"{head}.{body}.{jwt_keys.b64(hmac.new(pem.encode(), f'{head}.{body}'.encode(), 'sha256').digest())}"
    return {
        "no credentials": {},
        "alg none": {"Authorization": "Bearer " + jwt_keys.unsigned({"alg": "none", **KID}, good)},
        "HS256 keyed with the public key": {"Authorization": "Bearer " + hs_forgery},
        "another key": _bearer(good, key_name="intruder"),
        "unknown kid": _bearer(good, headers={"kid": "other-key"}),
        "kid path traversal": _bearer(good, headers={"kid": "../../../dev/null"}),
        "kid with quotes": _bearer(good, headers={"kid": "x' OR '1'='1"}),
        "jku header": _bearer(good, headers={**KID, "jku": "http://127.0.0.1:1/jwks.json"}),
        "x5u header": _bearer(good, headers={**KID, "x5u": "http://127.0.0.1:1/cert.pem"}),
        "embedded jwk": _bearer(good, headers={**KID, "jwk": {"kty": "RSA", "e": "AQAB", "n": "xyz"}}),
        "expired 61 s ago": _bearer({**good, "exp": now - 61}),
        "v2 expired in ms": _v2(TENANT_A, {**jwt_keys.v2_claims("mallory", tenant=TENANT_A),
                                           "exp": (now - 120) * 1000}),
        # one global key: a v2 token bound to no tenant may not take the one its header names (issue 14)
        "global-key v2 token without a tenant claim": _v2(TENANT_B, jwt_keys.v2_claims("mallory", "admin")),
        "not before +120 s": _bearer({**good, "nbf": now + 120}),
        "no exp": _bearer({k: v for k, v in good.items() if k != "exp"}),
        "wrong issuer": _bearer({**good, "iss": "https://evil.example"}),
        "header tenant differs from claim": _v2(TENANT_B, {**jwt_keys.v2_claims("mallory"), "tenant": TENANT_A}),
        "two identity headers": {**_bearer(good), **_v2(TENANT_B, jwt_keys.v2_claims("mallory"))},
        "10 KB token": _bearer({**good, "pad": "x" * 7_000}),
        "broken base64": {"Authorization": "Bearer eyJ!!!.eyJ???.sig"},
        "not a jwt": {"Authorization": "Bearer hello"},
        "basic scheme": {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
        "v2 without enduser": _v2(TENANT_A, {"iss": jwt_keys.ISSUER, "exp": now + 600}),
        "bearer without tenant": _bearer({k: v for k, v in good.items() if k != "tenant"}),
    }


def test_only_valid_tokens_pass_and_every_failure_is_the_same_401(jwt_stack: Stack) -> None:
    url = jwt_stack.api_url + "/actors"
    for name, headers in _valid().items():
        response = requests.get(url, headers=headers, timeout=10)
        assert response.status_code == 200, f"{name}: {response.status_code} {response.text}"
    bodies = set()
    for name, headers in _invalid().items():
        response = requests.get(url, headers=headers, timeout=10)
        assert response.status_code == 401, f"{name}: {response.status_code} {response.text}"
        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")
        bodies.add(response.text)
    assert len(bodies) == 1, bodies
    body = requests.get(url, timeout=10).json()
    assert body["status"] == "error" and body["result"] is None


def test_invalid_tokens_never_cause_a_server_error_on_any_verb(jwt_stack: Stack) -> None:
    for method, path in [("POST", "/actors"), ("PUT", "/actors/x"), ("DELETE", "/actors/x"),
                         ("POST", "/actors/x/messages"), ("GET", "/actors/x/nonces")]:
        for name, headers in _invalid().items():
            response = requests.request(method, jwt_stack.api_url + path, headers=headers, json={"image": "x"},
                                        timeout=10)
            assert response.status_code == 401, f"{name} on {method} {path}: {response.status_code}"


def test_the_v2_header_names_the_tenant_and_the_user_domain_is_stripped(client: Any) -> None:
    alice_v2 = client("alice", TENANT_A, form="v2")
    actor = alice_v2.ok("POST", "/actors", json={"image": "abacosamples/test"})
    assert actor["owner"] == "alice"
    # the same user through a Bearer token of the same tenant sees it; the other tenant does not
    assert client("alice", TENANT_A).ok("GET", f"/actors/{actor['id']}")["id"] == actor["id"]
    assert client("alice", TENANT_B).call("GET", f"/actors/{actor['id']}").status_code == 404


def test_a_token_without_an_abaco_role_is_a_400(jwt_stack: Stack) -> None:
    claims = {**jwt_keys.v2_claims("carol", tenant=TENANT_A), jwt_keys.WSO2_ROLES: "Internal/unrelated"}
    response = requests.get(jwt_stack.api_url + "/actors", headers=_v2(TENANT_A, claims), timeout=10)
    assert response.status_code == 400 and "missing required role" in response.json()["message"]


def test_pyjwt_is_at_least_the_pinned_floor() -> None:
    assert Version(pyjwt.__version__) >= PYJWT_FLOOR
