"""Field encryption (AES-256-GCM) and blind indexes (HMAC-SHA256) for sensitive values.

Both keys are derived with HKDF from the one secret `settings.KEHU_ENCRYPTION_KEY`,
with different labels, so knowing blind indexes never helps decrypt and vice versa.
Tokens carry a version prefix so the scheme or key can be rotated later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from functools import lru_cache

from django.conf import settings

TOKEN_VERSION = "v1"
NONCE_BYTES = 12  # 96-bit nonce, the size GCM is designed for


class DecryptionError(ValueError):
    """The token is malformed, from another key, or was tampered with."""


@lru_cache(maxsize=8)
def _derive(secret: str, label: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"kehu", info=label).derive(
        secret.encode("utf-8"))


def _secret() -> str:
    secret = getattr(settings, "KEHU_ENCRYPTION_KEY", "")
    if not secret:
        raise RuntimeError("settings.KEHU_ENCRYPTION_KEY is not set")
    return secret


def _encryption_key() -> bytes:
    return _derive(_secret(), b"kehu field encryption v1")


def _index_key() -> bytes:
    return _derive(_secret(), b"kehu blind index v1")


def encrypt(text: str) -> str:
    """Encrypt text to "v1.<urlsafe base64 of nonce|ciphertext|tag>"; each call uses a new nonce."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_encryption_key()).encrypt(nonce, text.encode("utf-8"),
                                               TOKEN_VERSION.encode())
    body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
    return f"{TOKEN_VERSION}.{body}"


def decrypt(token: str) -> str:
    """The clear text of a token made by `encrypt`; DecryptionError if it does not verify."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    version, dot, body = (token or "").partition(".")
    if version != TOKEN_VERSION or not dot:
        raise DecryptionError("unknown token version")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError) as exc:
        raise DecryptionError("token is not base64") from exc
    if len(raw) < NONCE_BYTES + 16:
        raise DecryptionError("token too short")
    try:
        clear = AESGCM(_encryption_key()).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                                  version.encode())
    except InvalidTag as exc:
        raise DecryptionError("token does not verify") from exc
    return clear.decode("utf-8")


def blind_index(kind: str, value: str) -> str:
    """A keyed hash for exact-match lookup of a value that is only stored encrypted.

    `kind` separates domains, so an ID number and a phone with the same digits differ.
    """
    message = kind.encode("utf-8") + b"\x00" + value.encode("utf-8")
    return hmac.new(_index_key(), message, hashlib.sha256).hexdigest()


FILE_MAGIC = b"KEHU1"


def encrypt_bytes(data: bytes, *, context: bytes = b"file") -> bytes:
    """Encrypt a file's bytes (attachments): magic | nonce | ciphertext+tag. `context` is
    bound as associated data, so a file encrypted for one record does not decrypt for another."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(NONCE_BYTES)
    return FILE_MAGIC + nonce + AESGCM(_encryption_key()).encrypt(nonce, data,
                                                                  FILE_MAGIC + context)


def decrypt_bytes(blob: bytes, *, context: bytes = b"file") -> bytes:
    """The clear bytes of `encrypt_bytes` output; DecryptionError if it does not verify."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not blob.startswith(FILE_MAGIC) or len(blob) < len(FILE_MAGIC) + NONCE_BYTES + 16:
        raise DecryptionError("not an encrypted file")
    body = blob[len(FILE_MAGIC):]
    try:
        return AESGCM(_encryption_key()).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:],
                                                 FILE_MAGIC + context)
    except InvalidTag as exc:
        raise DecryptionError("file does not verify") from exc
def file_encryption_key() -> bytes:
    """The AES-256 key for files kehu keeps (import uploads, generated archives), derived
    from the same secret with its own label."""
    return _derive(_secret(), b"kehu file encryption v1")
