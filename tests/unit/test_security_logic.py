"""Pure logic of identity and limits: token checks, roles, declarations, buckets, SSRF vetting, specs."""
from __future__ import annotations

import hmac
import json
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import RSAAlgorithm
from jwt.api_jws import PyJWS

from chalicelib.domain import redact
from chalicelib.domain.access import WORLD, Level, Scope, declared, required
from chalicelib.domain.errors import (
    BadRequest,
    HeadersTooLarge,
    NotAuthorized,
    PayloadTooLarge,
    TooManyRequests,
    Unauthenticated,
)
from chalicelib.domain.models import Actor, Execution
from chalicelib.edge import limits
from chalicelib.identity import auth, tokens
from chalicelib.services import nonces
from chalicelib.services.permissions import check_privileged_fields, effective
from chalicelib.wiring.settings import Settings
from runners.pipeline.hardening import DOCKER_SOCKET, container_spec, privilege_refusal
from tests import jwt_keys


def config(**kwargs: object) -> tokens.VerifierConfig:
    return tokens.VerifierConfig(key=tokens.load_public_key(jwt_keys.key_pair()[1]), **kwargs)  # type: ignore[arg-type]


def settings(**kwargs: object) -> Settings:
    return Settings(jwt_public_key=jwt_keys.key_pair()[1], **kwargs)  # type: ignore[arg-type]


# --- tokens ----------------------------------------------------------------------------------------

def test_a_valid_token_yields_its_claims() -> None:
    claims = jwt_keys.bearer_claims("alice", "T1")
    assert tokens.verify(jwt_keys.sign(claims), config())["sub"] == "alice"


def test_wso2_algorithm_name_is_rs256() -> None:
    jws = PyJWS()
    jws.register_algorithm("SHA256withRSA", RSAAlgorithm(RSAAlgorithm.SHA256))
    token = jws.encode(b'{"exp": 9999999999999}', jwt_keys.key_pair()[0], algorithm="SHA256withRSA")
    assert tokens.verify(token, config())["exp"] == 9999999999999


@pytest.mark.parametrize(("offset", "millis", "ok"), [
    (-30, False, True), (-30, True, True), (-61, False, False), (-61, True, False), (600, True, True),
])
def test_expiry_has_at_most_60_seconds_of_leeway_in_seconds_or_milliseconds(offset: int, millis: bool,
                                                                             ok: bool) -> None:
    exp = time.time() + offset
    token = jwt_keys.sign({"sub": "a", "exp": int(exp * 1000) if millis else int(exp)})
    if ok:
        tokens.verify(token, config(leeway=600))  # a larger configured leeway is still capped at 60 s
    else:
        with pytest.raises(tokens.InvalidToken):
            tokens.verify(token, config(leeway=600))


def _forgeries() -> dict[str, str]:
    good = jwt_keys.bearer_claims("mallory", "T1")
    _, public_pem = jwt_keys.key_pair()
    return {
        "alg none": jwt_keys.unsigned({"alg": "none", "typ": "JWT"}, good),
        "HS256 keyed with the public PEM": jwt_keys.unsigned(
            {"alg": "HS256", "typ": "JWT"}, good,
            hmac.new(public_pem.encode(), b"x", "sha256").digest()),
        "another key": jwt_keys.sign(good, key_name="other"),
        "RS384": jwt_keys.sign(good, algorithm="RS384"),
        "jku": jwt_keys.sign(good, headers={"jku": "https://evil.example/jwks"}),
        "x5u": jwt_keys.sign(good, headers={"x5u": "https://evil.example/cert"}),
        "jwk": jwt_keys.sign(good, headers={"jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}}),
        "no exp": jwt_keys.sign({k: v for k, v in good.items() if k != "exp"}),
        "nbf in the future": jwt_keys.sign({**good, "nbf": int(time.time()) + 120}),
        "oversized": jwt_keys.sign({**good, "pad": "x" * tokens.MAX_TOKEN_BYTES}),
        "garbage": "not.a.jwt",
        "broken base64": "eyJ!!!.eyJ???.abc",
        "two segments": "abc.def",
        "unsigned RS256": jwt_keys.unsigned({"alg": "RS256"}, good),
    }


@pytest.mark.parametrize("name", list(_forgeries()))
def test_forged_and_malformed_tokens_are_invalid(name: str) -> None:
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(_forgeries()[name], config())


def test_issuer_audience_and_kid_are_enforced_when_configured() -> None:
    good = jwt_keys.bearer_claims("a", "T1")
    tokens.verify(jwt_keys.sign({**good, "aud": "abaco"}, headers={"kid": "k1"}),
                  config(issuer=jwt_keys.ISSUER, audience="abaco", key_id="k1"))
    for claims, headers in [({**good, "iss": "evil"}, {"kid": "k1"}), (good, {"kid": "k1"}),
                            ({**good, "aud": "abaco"}, {"kid": "../../etc/passwd"})]:
        with pytest.raises(tokens.InvalidToken):
            tokens.verify(jwt_keys.sign(claims, headers=headers),
                          config(issuer=jwt_keys.ISSUER, audience="abaco", key_id="k1"))


def test_only_rsa_keys_of_2048_bits_or_more_are_accepted() -> None:
    ec_pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(ValueError, match="RSA"):
        tokens.load_public_key(ec_pem)
    with pytest.raises(ValueError):
        tokens.load_public_key("not a pem")


# --- identity ----------------------------------------------------------------------------------------

def test_v2_header_gives_tenant_from_suffix_and_strips_the_user_domain() -> None:
    headers = {"x-jwt-assertion-dev-develop": jwt_keys.sign(jwt_keys.v2_claims("alice", "privileged"))}
    caller = auth.identify(headers, settings(jwt_trust_header_tenant=True))  # Abaco v2: no tenant claim
    assert caller is not None
    assert (caller.username, caller.tenant) == ("alice", "DEV-DEVELOP")
    assert caller.roles == ("privileged", "user") and caller.is_privileged and not caller.is_admin
    assert caller.jwt_header_name == "X-Jwt-Assertion-Dev-Develop"


def test_bearer_token_uses_sub_tenant_and_plain_roles() -> None:
    caller = auth.identify(jwt_keys.bearer_headers("bob", "T2", "admin"), settings())
    assert caller is not None and (caller.username, caller.tenant, caller.is_admin) == ("bob", "T2", True)


def test_two_identity_headers_are_refused() -> None:
    headers = {**jwt_keys.bearer_headers("bob", "T2"), **jwt_keys.v2_headers("bob", "T2")}
    with pytest.raises(Unauthenticated):
        auth.identify(headers, settings())


def test_header_tenant_must_match_a_tenant_claim() -> None:
    token = jwt_keys.sign({**jwt_keys.v2_claims("alice"), "tenant": "T1"})
    assert auth.identify({"X-Jwt-Assertion-T1": token}, settings()) is not None
    with pytest.raises(Unauthenticated):
        auth.identify({"X-Jwt-Assertion-T2": token}, settings())


def test_a_token_without_an_abaco_role_is_not_authorized() -> None:
    token = jwt_keys.sign({**jwt_keys.v2_claims("alice"), jwt_keys.WSO2_ROLES: "Internal/other", "tenant": "T1"})
    with pytest.raises(NotAuthorized, match="missing required role"):
        auth.identify({"X-Jwt-Assertion-T1": token}, settings())


def test_no_credentials_is_none_and_none_mode_is_an_admin() -> None:
    assert auth.identify({}, settings()) is None
    caller = auth.identify({"tenant": "T9"}, settings(access_control="none"))
    assert caller is not None and caller.is_admin and caller.tenant == "T9"


def test_start_up_refuses_none_in_production_and_jwt_without_a_key() -> None:
    with pytest.raises(auth.ConfigurationError, match="PRODUCTION"):
        auth.check_configuration(Settings(access_control="none", production=True))
    with pytest.raises(auth.ConfigurationError, match="ABACO_JWT_PUBLIC_KEY"):
        auth.check_configuration(Settings(access_control="jwt"))
    with pytest.raises(auth.ConfigurationError):
        auth.check_configuration(Settings(access_control="jwt", jwt_public_key_file="/nonexistent/key.pem"))
    auth.check_configuration(settings())


def test_per_tenant_keys_bind_each_tenant_to_its_own_key(tmp_path: Path) -> None:
    keys = tmp_path / "tenant-keys.json"
    keys.write_text(json.dumps({"t1": jwt_keys.key_pair("tenant-one")[1]}))
    config = settings(jwt_tenant_keys_file=str(keys))
    own = jwt_keys.sign(jwt_keys.v2_claims("alice"), key_name="tenant-one")
    caller = auth.identify({"X-Jwt-Assertion-T1": own}, config)
    assert caller is not None and caller.tenant == "T1"
    for headers in ({"X-Jwt-Assertion-T2": own},  # T1's token presented as another tenant's
                    {"X-Jwt-Assertion-T1": jwt_keys.sign(jwt_keys.v2_claims("alice"))}):  # the global key
        with pytest.raises(Unauthenticated):
            auth.identify(headers, config)
    bearer = jwt_keys.sign(jwt_keys.bearer_claims("bob", "T1"), key_name="tenant-one")
    assert auth.identify({"Authorization": f"Bearer {bearer}"}, config).tenant == "T1"  # type: ignore[union-attr]
    only_map = Settings(jwt_tenant_keys_file=str(keys))
    auth.check_configuration(only_map)
    with pytest.raises(Unauthenticated):
        auth.identify({"X-Jwt-Assertion-T2": own}, only_map)
    keys.write_text("not json")
    auth._file_keys.cache_clear()
    with pytest.raises(auth.ConfigurationError):
        auth.check_configuration(Settings(jwt_tenant_keys_file=str(keys)))


def test_roles_from_every_naming_scheme() -> None:
    assert auth.canonical_roles("Internal/everyone,Internal/abaco-admin") == ("admin", "user")
    assert auth.canonical_roles(["abaco_privileged", "nonsense"]) == ("privileged",)
    assert auth.canonical_roles("Internal/custom-users", user_role="Internal/custom-users") == ("user",)
    assert auth.canonical_roles(42) == ()


# --- permissions -----------------------------------------------------------------------------------

def test_levels_parse_and_world_grants_apply_at_their_level() -> None:
    assert Level.parse("read") is Level.READ and Level.parse(3) is Level.UPDATE
    with pytest.raises(ValueError):
        Level.parse("WRITE")
    assert effective({WORLD: Level.READ, "u": Level.NONE}, "u") is Level.READ
    assert effective({WORLD: Level.READ, "u": Level.UPDATE}, "u") is Level.UPDATE
    assert effective({}, "u") is Level.NONE


@pytest.mark.parametrize("fields", [{"privileged": True}, {"max_workers": 3}, {"mem_limit": "1g"},
                                    {"max_cpus": 2}, {"queue": "special"}, {"use_container_uid": True}])
def test_privileged_fields_need_the_privileged_role(fields: dict[str, object]) -> None:
    with pytest.raises(NotAuthorized):
        check_privileged_fields(auth.Caller("u", "T", ("user",)), fields)
    check_privileged_fields(auth.Caller("p", "T", ("privileged",)), fields)
    check_privileged_fields(auth.Caller("a", "T", ("admin",)), fields)


def test_defaults_are_not_privileged_fields() -> None:
    check_privileged_fields(auth.Caller("u", "T", ("limited",)),
                            {"privileged": False, "queue": "default", "max_workers": None, "image": "x"})


def test_every_registered_view_declares_its_requirement() -> None:
    import app  # noqa: F401  (registers every blueprint)
    from chalicelib.edge import http

    assert http.REGISTERED, "no routes registered"
    undeclared = [f"{verb} {path}" for path, verb, view in http.REGISTERED if not declared(view)]
    assert undeclared == [], f"views without @needs (served to admins only): {undeclared}"


def test_an_undeclared_view_is_admin_only() -> None:
    assert required(lambda request: None) == (Scope.ADMIN, Level.UPDATE)


# --- nonces ----------------------------------------------------------------------------------------

def test_nonce_secrets_name_their_tenant_and_hash_to_a_handle() -> None:
    secret = "DEV-DEVELOP_" + "ab" * 32
    assert nonces.tenant_of(secret) == "DEV-DEVELOP"
    assert len(nonces.handle_of(secret)) == 32 and nonces.handle_of(secret) in nonces.hash_secret(secret)
    for bad in ["", "DEV_short", "no-underscore" + "a" * 64, "T#X_" + "a" * 64]:
        with pytest.raises(Unauthenticated):
            nonces.tenant_of(bad)


@pytest.mark.parametrize("body", [{"max_uses": 0}, {"max_uses": -2}, {"level": "WRITE"}, {"max_uses": "x"}])
def test_invalid_nonce_bodies(body: dict[str, object]) -> None:
    with pytest.raises(BadRequest):
        nonces.parse(body, nonces.Kind.ACTOR)


def test_alias_nonces_cannot_carry_update() -> None:
    with pytest.raises(BadRequest):
        nonces.parse({"level": "UPDATE"}, nonces.Kind.ALIAS)
    assert nonces.parse({}, nonces.Kind.ACTOR) == (Level.EXECUTE, -1, "")


# --- limits ----------------------------------------------------------------------------------------

def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    buckets = limits.TokenBuckets(rate=10, burst=20, clock=lambda: now[0])
    for _ in range(20):
        buckets.take("p")
    with pytest.raises(TooManyRequests) as refused:
        buckets.take("p")
    assert refused.value.retry_after >= 1
    buckets.take("q")  # another principal has its own bucket
    now[0] += 0.5
    for _ in range(5):
        buckets.take("p")
    with pytest.raises(TooManyRequests):
        buckets.take("p")


def test_limit_is_clamped_and_validated() -> None:
    assert limits.clamp_limit(None) == 100
    assert limits.clamp_limit("100000") == limits.MAX_PAGE_LIMIT
    assert limits.clamp_limit("0") == 1
    for bad in ["-1", "ten"]:
        with pytest.raises(BadRequest):
            limits.clamp_limit(bad)


def test_body_and_header_sizes() -> None:
    limits.check_body("application/octet-stream", 5_000_000, 1_048_576, 10_000_000)
    with pytest.raises(PayloadTooLarge):
        limits.check_body("application/json", 1_048_577, 1_048_576, 10_000_000)
    with pytest.raises(HeadersTooLarge):
        limits.check_headers({"x-big": "x" * 20_000}, 16_384)


# --- containers ------------------------------------------------------------------------------------

def _spec(**actor_fields: object):
    actor = Actor(tenant="T", id="a1", image="abacosamples/test", owner="o", **actor_fields)  # type: ignore[arg-type]
    execution = Execution(tenant="T", actor_id="a1", id="e1", executor="o")
    return container_spec(actor, execution, {}, Settings(), "runner-1")


def test_non_privileged_containers_run_as_the_configured_non_root_user_without_the_socket() -> None:
    spec = _spec()
    assert spec.user == "10000:10000" and not spec.privileged and spec.binds == {}
    assert spec.pids_limit == 256 and spec.mem_limit == "512m"
    assert _spec(uid="2000", gid="3000").user == "2000:3000"
    assert _spec(use_container_uid=True).user is None


def test_privileged_actors_get_the_socket_only_on_a_privileged_runner() -> None:
    spec = _spec(privileged=True)
    assert spec.privileged and spec.binds[DOCKER_SOCKET]["bind"] == DOCKER_SOCKET
    assert privilege_refusal(Actor(tenant="T", id="a", image="i", owner="o", privileged=True), False)
    assert privilege_refusal(Actor(tenant="T", id="a", image="i", owner="o", privileged=True), True) is None


# --- log redaction ---------------------------------------------------------------------------------

def test_credentials_in_log_lines_are_masked() -> None:
    token = jwt_keys.sign(jwt_keys.bearer_claims("a", "T"))
    nonce = "TENANT-A_" + "ab" * 32
    for line in [f"header Authorization: Bearer {token}", f"GET /actors/x?x-nonce={nonce}&a=1",
                 f"X-Jwt-Assertion-DEV: {token}", f"nonce {nonce} used", f"'x-jwt-assertion-t1': '{token}'"]:
        cleaned = redact.redact(line)
        assert token not in cleaned and nonce not in cleaned and redact.MASK in cleaned, cleaned
    assert redact.redact("actor abc started") == "actor abc started"


def test_the_log_handler_masks_messages_and_exceptions() -> None:
    import io
    import logging

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(redact.RedactingFilter())
    logger = logging.getLogger("abaco.test.redact")
    logger.addHandler(handler)
    logger.propagate = False
    secret = "T_" + "cd" * 32
    try:
        raise ValueError(f"bad nonce {secret}")
    except ValueError:
        logger.exception("failed for %s", secret)
    logger.removeHandler(handler)
    assert secret not in stream.getvalue() and redact.MASK in stream.getvalue()
