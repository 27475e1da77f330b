"""Secrets at rest: MultiFernet with rotation, tenant binding, and the development-key fallback."""
from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from chalicelib.adapters import crypto
from chalicelib.wiring.settings import Settings


def test_round_trip_and_the_ciphertext_hides_the_plaintext() -> None:
    cipher = crypto.FernetCipher([Fernet.generate_key().decode()])
    token = cipher.encrypt("TACC", "hunter2")
    assert token.startswith("fernet:") and "hunter2" not in token
    assert cipher.decrypt("TACC", token) == "hunter2"
    assert cipher.encrypt("TACC", "hunter2") != token  # fresh IV every time


def test_a_token_is_bound_to_its_tenant() -> None:
    cipher = crypto.FernetCipher([Fernet.generate_key().decode()])
    token = cipher.encrypt("TACC", "hunter2")
    with pytest.raises(crypto.DecryptionError, match="another tenant"):
        cipher.decrypt("OTHER", token)


def test_rotation_first_key_encrypts_every_key_decrypts() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = crypto.FernetCipher([old]).encrypt("T", "value\x00with nul")
    rotated_cipher = crypto.FernetCipher([new, old])
    assert rotated_cipher.decrypt("T", token) == "value\x00with nul"
    rotated = rotated_cipher.rotate(token)
    assert crypto.FernetCipher([new]).decrypt("T", rotated) == "value\x00with nul"
    with pytest.raises(crypto.DecryptionError):
        crypto.FernetCipher([new]).decrypt("T", token)


def test_unknown_scheme_and_garbage_are_refused() -> None:
    cipher = crypto.FernetCipher([Fernet.generate_key().decode()])
    with pytest.raises(crypto.DecryptionError, match="unknown scheme"):
        cipher.decrypt("T", "kms:abc")
    with pytest.raises(crypto.DecryptionError):
        cipher.decrypt("T", "fernet:not-a-token")


def test_keys_setting_is_validated_without_echoing_the_key() -> None:
    assert crypto.parse_keys(None) == []
    good = Fernet.generate_key().decode()
    assert crypto.parse_keys(f" {good} ,") == [good]
    with pytest.raises(ValueError) as err:
        Settings(encryption_keys=f"{good},not-a-key-but-secret-looking")
    assert "key 2" in str(err.value) and "secret-looking" not in str(err.value)


def test_development_key_is_stable_and_used_when_unset() -> None:
    assert crypto.development_key() == crypto.development_key()
    Fernet(crypto.development_key().encode())  # a valid key
    dev = crypto.cipher(Settings(encryption_keys=None))
    token = dev.encrypt("T", "x")
    assert crypto.FernetCipher([crypto.development_key()]).decrypt("T", token) == "x"
    configured = crypto.cipher(Settings(encryption_keys=Fernet.generate_key().decode()))
    with pytest.raises(crypto.DecryptionError):
        configured.decrypt("T", token)
