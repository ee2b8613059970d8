"""The encryption helpers: MultiFernet under SEGADMIN_ENCRYPTION_KEYS, first key encrypts."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.test import override_settings

from segadmin.credentials import crypto

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
SECRET = "wk_0j4zjt3VGSKQ1rNDXXaEPM7Tnbg0V55K"


def test_a_secret_comes_back_after_a_round_trip() -> None:
    token = crypto.encrypt(SECRET)
    assert SECRET not in token
    assert crypto.decrypt(token, what="the write key of a test") == SECRET


def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    with override_settings(SEGADMIN_ENCRYPTION_KEYS=[OLD_KEY]):
        old_token = crypto.encrypt(SECRET)
    with override_settings(SEGADMIN_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        assert crypto.decrypt(old_token, what="x") == SECRET
        new_token = crypto.encrypt(SECRET)
    assert Fernet(NEW_KEY.encode()).decrypt(new_token.encode()).decode() == SECRET


def test_reencrypt_moves_a_secret_under_the_first_key() -> None:
    with override_settings(SEGADMIN_ENCRYPTION_KEYS=[OLD_KEY]):
        old_token = crypto.encrypt(SECRET)
    with override_settings(SEGADMIN_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        rotated = crypto.reencrypt(old_token, what="x")
        again = crypto.reencrypt(rotated, what="x")
    with override_settings(SEGADMIN_ENCRYPTION_KEYS=[NEW_KEY]):
        assert crypto.decrypt(rotated, what="x") == SECRET
        assert crypto.decrypt(again, what="x") == SECRET


def test_a_removed_key_gives_an_error_naming_the_secret_and_the_variable() -> None:
    with override_settings(SEGADMIN_ENCRYPTION_KEYS=[OLD_KEY]):
        token = crypto.encrypt(SECRET)
    with (
        override_settings(SEGADMIN_ENCRYPTION_KEYS=[NEW_KEY]),
        pytest.raises(crypto.SecretUnreadable) as caught,
    ):
        crypto.decrypt(token, what='the write key of source "Web" (id 3)')
    message = str(caught.value)
    assert message.startswith('The write key of source "Web" (id 3) cannot be decrypted')
    assert "SEGADMIN_ENCRYPTION_KEYS" in message
    assert SECRET not in message and token not in message


def test_a_value_that_is_not_a_fernet_token_is_unreadable_not_blank() -> None:
    with pytest.raises(crypto.SecretUnreadable):
        crypto.decrypt("not-a-token", what="x")


@override_settings(SEGADMIN_ENCRYPTION_KEYS=[])
def test_no_configured_key_is_a_clear_error_naming_the_variable() -> None:
    with pytest.raises(crypto.EncryptionNotConfigured, match="SEGADMIN_ENCRYPTION_KEYS is not set"):
        crypto.encrypt(SECRET)
    with pytest.raises(crypto.EncryptionNotConfigured):
        crypto.decrypt("anything", what="x")


def test_the_mask_shows_only_the_last_four_characters() -> None:
    assert crypto.mask(crypto.hint_of(SECRET)) == "••••V55K"


def test_a_short_secret_gets_no_hint_so_the_mask_gives_nothing_away() -> None:
    assert crypto.hint_of("abc123") == ""
    assert crypto.mask("") == "••••"
