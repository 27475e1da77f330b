"""Token rules of Tapis v3 identity, tenant binding and actor tokens (chalicelib.identity): pure logic, real
RSA keys and real JWTs, no stack."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pydantic
import pytest

from chalicelib.domain.errors import Unauthenticated
from chalicelib.identity import auth, platform_tokens, tokens
from chalicelib.wiring.settings import Settings
from tests import jwt_keys


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    """Per-tenant keys: tenant ``tacc`` has its own key, ``dev`` another."""
    path = tmp_path / "tenant-keys.json"
    path.write_text(json.dumps({"tacc": jwt_keys.key_pair("tacc")[1], "dev": jwt_keys.key_pair("dev")[1]}))
    return path


def settings(**kwargs: object) -> Settings:
    return Settings(jwt_public_key=jwt_keys.key_pair()[1], **kwargs)  # type: ignore[arg-type]


def test_a_tapis_v3_access_token_names_its_tenant_and_user(key_file: Path) -> None:
    config = settings(jwt_tenant_keys_file=str(key_file))
    caller = auth.identify(jwt_keys.v3_headers("alice", "tacc", key_name="tacc"), config)
    assert caller is not None and (caller.username, caller.tenant, caller.roles) == ("alice", "tacc", ("user",))
    by_sub = auth.identify(jwt_keys.v3_headers("bob", "dev", key_name="dev", use_sub=True), config)
    assert by_sub is not None and (by_sub.username, by_sub.tenant) == ("bob", "dev")


def test_a_v3_token_works_as_a_bearer_token_too(key_file: Path) -> None:
    token = jwt_keys.sign(jwt_keys.v3_claims("alice", "tacc"), key_name="tacc")
    caller = auth.identify({"Authorization": f"Bearer {token}"}, settings(jwt_tenant_keys_file=str(key_file)))
    assert caller is not None and caller.tenant == "tacc"


@pytest.mark.parametrize("kind", [{"token_type": "refresh"}, {"token_type": "service"},
                                  {"account_type": "service"}])
def test_refresh_and_service_tokens_get_the_generic_401(key_file: Path, kind: dict[str, str]) -> None:
    headers = jwt_keys.v3_headers("alice", "tacc", key_name="tacc", **kind)
    with pytest.raises(Unauthenticated) as refused:
        auth.identify(headers, settings(jwt_tenant_keys_file=str(key_file)))
    assert str(refused.value) == str(Unauthenticated("anything"))  # the same text as any bad token


def test_the_tenant_comes_from_the_token_and_only_its_key_verifies_it(key_file: Path) -> None:
    config = settings(jwt_tenant_keys_file=str(key_file))
    # a tacc token signed with dev's key, then the same claims under dev's name signed by tacc's key
    for headers in (jwt_keys.v3_headers("alice", "tacc", key_name="dev"),
                    jwt_keys.v3_headers("alice", "dev", key_name="tacc"),
                    jwt_keys.v3_headers("alice", "tacc", key_name="main")):  # the global key: tacc has its own
        with pytest.raises(Unauthenticated):
            auth.identify(headers, config)
    # a header naming another tenant changes nothing: X-Jwt-Assertion is another credential, refused beside it
    both = {**jwt_keys.v3_headers("alice", "tacc", key_name="tacc"), "X-Jwt-Assertion-DEV": "x"}
    with pytest.raises(Unauthenticated):
        auth.identify(both, config)


def test_a_global_key_v2_token_without_a_tenant_claim_cannot_switch_tenants() -> None:
    token = jwt_keys.sign(jwt_keys.v2_claims("alice", "admin"))
    for tenant in ("A", "B"):
        with pytest.raises(Unauthenticated):
            auth.identify({f"X-Jwt-Assertion-{tenant}": token}, settings())
    bound = jwt_keys.sign({**jwt_keys.v2_claims("alice", "admin"), "tenant": "A"})
    assert auth.identify({"X-Jwt-Assertion-A": bound}, settings()) is not None
    with pytest.raises(Unauthenticated):
        auth.identify({"X-Jwt-Assertion-B": bound}, settings())
    trusting = settings(jwt_trust_header_tenant=True)  # Abaco v2's behaviour, development only
    assert auth.identify({"X-Jwt-Assertion-B": token}, trusting).tenant == "B"  # type: ignore[union-attr]


def test_a_per_tenant_key_binds_v2_tokens_without_a_claim(key_file: Path) -> None:
    config = settings(jwt_tenant_keys_file=str(key_file))
    token = jwt_keys.sign(jwt_keys.v2_claims("alice"), key_name="tacc")
    assert auth.identify({"X-Jwt-Assertion-TACC": token}, config).tenant == "TACC"  # type: ignore[union-attr]
    with pytest.raises(Unauthenticated):
        auth.identify({"X-Jwt-Assertion-DEV": token}, config)


def test_production_refuses_an_unbound_global_key() -> None:
    with pytest.raises(pydantic.ValidationError, match="ABACO_JWT_TRUST_HEADER_TENANT"):
        Settings(production=True, access_control="jwt", jwt_trust_header_tenant=True)
    Settings(production=True, access_control="jwt")


def test_v3_roles_come_from_the_grants_read_per_request(key_file: Path) -> None:
    config = settings(jwt_tenant_keys_file=str(key_file), role_grants={"tacc": {"alice": ["abaco_admin"]}})
    headers = jwt_keys.v3_headers("alice", "tacc", key_name="tacc")
    assert auth.identify(headers, config).is_admin  # type: ignore[union-attr]
    store = {("tacc", "alice"): ("abaco_limited",)}
    limited = auth.identify(headers, config, lambda t, u: store.get((t, u), ()))
    assert limited is not None and limited.roles == ("limited",)
    store.clear()
    assert auth.identify(headers, config, lambda t, u: store.get((t, u), ())).roles == ("user",)  # type: ignore
    with pytest.raises(pydantic.ValidationError, match="unknown roles"):
        Settings(role_grants={"tacc": {"alice": ["root"]}})


def test_actor_tokens_verify_with_the_platform_key_only(tmp_path: Path) -> None:
    config = settings(access_control="jwt", platform_key_file=str(tmp_path / "platform.pem"))
    token = platform_tokens.for_execution(config, "tacc", "owner1", True, 30, "actor1", "exec1")
    caller = auth.identify({"X-Tapis-Token": token}, config)
    assert caller is not None and (caller.username, caller.tenant) == ("owner1", "tacc")
    claims = tokens.verify(token, platform_tokens.verifier(config))
    assert 29 <= claims["exp"] - time.time() <= 31 and claims["abaco/execution_id"] == "exec1"
    assert oct((tmp_path / "platform.pem").stat().st_mode & 0o777) == "0o600"
    forged = jwt_keys.sign(jwt_keys.v3_claims("owner1", "tacc"),
                           headers={"kid": tokens.unverified_header(token, "kid")})  # right kid, wrong key
    with pytest.raises(Unauthenticated):
        auth.identify({"X-Tapis-Token": forged}, config)
    assert platform_tokens.for_execution(config, "tacc", "owner1", False, 30, "a", "e") == ""
    assert platform_tokens.for_execution(settings(access_control="none"), "tacc", "owner1", True, 30, "a", "e") == ""


def test_actor_token_lifetime_follows_max_run_time_capped_at_four_hours() -> None:
    assert platform_tokens.lifetime(60, -1) == 60
    assert platform_tokens.lifetime(None, 120) == 120
    assert platform_tokens.lifetime(None, -1) == platform_tokens.MAX_LIFETIME_SECONDS == 4 * 3600
    assert platform_tokens.lifetime(10 * 3600, -1) == 4 * 3600


def test_token_defaults_per_tenant() -> None:
    config = Settings(default_token=False, tenant_default_token={"TACC": True})
    assert config.token_default("TACC") and config.token_default("tacc") and not config.token_default("DEV")


def test_the_actor_token_is_masked_in_its_logs_even_split_across_chunks() -> None:
    from runners.pipeline.collectors import LogCollector

    collector = LogCollector(iter([b"token=eyJhb", b"GciOi.xyz and more"]), 1_000, secrets=("eyJhbGciOi.xyz", ""))
    assert collector.finish() == "token=[REDACTED] and more"


def test_per_tenant_keys_inline_bind_like_the_file() -> None:
    config = settings(jwt_tenant_keys={"tacc": jwt_keys.key_pair("tacc")[1]})
    assert auth.identify(jwt_keys.v3_headers("alice", "tacc", key_name="tacc"), config) is not None
    with pytest.raises(Unauthenticated):
        auth.identify(jwt_keys.v3_headers("alice", "tacc"), config)  # the global key: tacc has its own
    with pytest.raises(auth.ConfigurationError, match="ABACO_JWT_TENANT_KEYS, tenant bad"):
        auth.check_configuration(settings(jwt_tenant_keys={"bad": "not a pem"}))
