"""Field encryption round-trips, authenticates and uses fresh nonces; blind indexes are keyed."""

import base64

import pytest

from kehu.core.crypto import DecryptionError, blind_index, decrypt, encrypt


def test_round_trip_and_fresh_nonce():
    first, second = encrypt("11010519491231002X"), encrypt("11010519491231002X")
    assert first != second and first.startswith("v1.")
    assert decrypt(first) == decrypt(second) == "11010519491231002X"
    assert "11010519491231002X" not in first
    assert decrypt(encrypt("中文 ✓")) == "中文 ✓"


def test_nonce_is_96_bits_and_token_is_urlsafe():
    body = encrypt("x")[3:]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert len(raw) == 12 + 1 + 16  # nonce, one byte of ciphertext, GCM tag
    assert set(body) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_tampering_and_garbage_are_refused():
    token = encrypt("secret")
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for bad in [flipped, "v2." + token[3:], "v1.", "v1.@@@", "", "nonsense"]:
        with pytest.raises(DecryptionError):
            decrypt(bad)


def test_another_key_cannot_decrypt(settings):
    token = encrypt("secret")
    settings.KEHU_ENCRYPTION_KEY = "another-secret"
    with pytest.raises(DecryptionError):
        decrypt(token)


def test_blind_index_is_stable_keyed_and_domain_separated(settings):
    value = blind_index("id_number", "11010519491231002X")
    assert value == blind_index("id_number", "11010519491231002X")
    assert len(value) == 64 and int(value, 16) >= 0
    assert value != blind_index("phone", "11010519491231002X")
    settings.KEHU_ENCRYPTION_KEY = "another-secret"
    assert blind_index("id_number", "11010519491231002X") != value


def test_index_key_differs_from_encryption_key():
    import hashlib
    import hmac

    from kehu.core import crypto

    assert crypto._index_key() != crypto._encryption_key()
    assert blind_index("k", "v") != hmac.new(crypto._encryption_key(), b"k\x00v",
                                             hashlib.sha256).hexdigest()
