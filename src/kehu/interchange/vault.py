"""Uploads encrypted at rest: an import's file is written under KEHU_HOME/uploads/imports/
as AES-256-GCM ciphertext (the field-encryption secret, its own derived key), never in clear.

Format: b"KEHUENC1", an 8-byte random prefix, then segments of up to 1 MiB, each a 4-byte
big-endian length and the sealed segment (nonce = prefix + 4-byte counter; the associated
data marks the last segment, so a truncated file does not verify).

Readers need a seekable plain file (xlsx is a zip; CSV encodings are sniffed), so
`plain_copy` decrypts into a private temporary file outside KEHU_HOME (mode 600, deleted as
soon as the reader is done). A file without the header (written before encryption existed)
is read as it is.
"""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

MAGIC = b"KEHUENC1"
SEGMENT = 1 << 20
_LAST, _MORE = b"kehu-upload last", b"kehu-upload more"


def _cipher():
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from kehu.core.crypto import file_encryption_key

    return AESGCM(file_encryption_key())


class VaultError(ValueError):
    """The stored file does not decrypt (another key, tampered or truncated)."""


def write_encrypted(source: IO[bytes], target: IO[bytes]) -> None:
    """Encrypt `source` (read to its end) into `target`."""
    cipher = _cipher()
    prefix = os.urandom(8)
    target.write(MAGIC + prefix)
    counter = 0
    block = source.read(SEGMENT)
    while True:
        following = source.read(SEGMENT) if block else b""
        last = not following
        sealed = cipher.encrypt(prefix + struct.pack(">I", counter), block,
                                _LAST if last else _MORE)
        target.write(struct.pack(">I", len(sealed)) + sealed)
        if last:
            return
        counter += 1
        block = following


def is_encrypted(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(len(MAGIC)) == MAGIC


def read_plain(path: Path) -> Iterator[bytes]:
    """The clear content of a stored upload, a segment at a time."""
    from cryptography.exceptions import InvalidTag

    with open(path, "rb") as handle:
        if handle.read(len(MAGIC)) != MAGIC:
            handle.seek(0)
            while chunk := handle.read(SEGMENT):
                yield chunk
            return
        cipher = _cipher()
        prefix = handle.read(8)
        counter = 0
        size = handle.read(4)
        while True:
            if len(size) != 4:
                raise VaultError("truncated upload")
            sealed = handle.read(struct.unpack(">I", size)[0])
            size = handle.read(4)
            last = not size
            try:
                yield cipher.decrypt(prefix + struct.pack(">I", counter), sealed,
                                     _LAST if last else _MORE)
            except InvalidTag:
                raise VaultError("the upload does not decrypt") from None
            if last:
                return
            counter += 1


@contextlib.contextmanager
def plain_copy(path: str | os.PathLike) -> Iterator[Path]:
    """A path to the clear content of a stored upload for as long as the block runs."""
    path = Path(path)
    if not is_encrypted(path):
        yield path
        return
    descriptor, name = tempfile.mkstemp(prefix="kehu-upload-", suffix=path.suffix)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            for chunk in read_plain(path):
                handle.write(chunk)
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def contains_any(path: Path, needles: list[bytes]) -> bool:
    """Whether the clear content holds one of `needles` (searched across segment edges)."""
    if not needles:
        return False
    overlap = max(len(n) for n in needles)
    tail = b""
    for chunk in read_plain(path):
        window = tail + chunk
        if any(n in window for n in needles):
            return True
        tail = window[-overlap:]
    return False


def store_encrypted(source: IO[bytes], target: Path) -> None:
    """Write `source` encrypted to a new file `target`, readable by kehu's user only."""
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        write_encrypted(source, handle)


