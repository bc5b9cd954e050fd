"""Sealing a secret document with a passphrase: scrypt derives the key, AES-GCM encrypts and
authenticates, so a wrong passphrase and an altered bundle fail alike (and never decrypt)."""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from functions.models.exceptions import InvalidRequest, WrongPassphrase

ALGORITHM = "scrypt+aes-256-gcm"
# scrypt's interactive cost (RFC 7914 section 2 suggests N = 2^14 or more): 32 MiB, well under a
# Lambda's memory, and about 0.1 s a guess. Stored with the seal, so it can rise later.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
# What the ciphertext is bound to, besides the key: a seal of something else never opens as this.
CONTEXT = b"provisioner-backup/1 state"


def _key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def seal(plaintext: bytes, passphrase: str) -> dict[str, Any]:
    salt, nonce = os.urandom(16), os.urandom(12)
    key = _key(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return {
        "algorithm": ALGORITHM,
        "scrypt": {"n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P},
        "salt": _b64(salt),
        "nonce": _b64(nonce),
        "ciphertext": _b64(AESGCM(key).encrypt(nonce, plaintext, CONTEXT)),
    }


def unseal(sealed: object, passphrase: str) -> bytes:
    """The plaintext; WrongPassphrase (400) if it does not open, InvalidRequest if malformed."""
    if not isinstance(sealed, dict) or sealed.get("algorithm") != ALGORITHM:
        raise InvalidRequest(f"the bundle's state is not sealed with {ALGORITHM}", "bundle")
    malformed = InvalidRequest("the bundle's sealed state is malformed", "bundle")
    params = sealed.get("scrypt")
    try:
        n, r, p = (int(params[k]) for k in ("n", "r", "p")) if isinstance(params, dict) else (0, 0, 0)
        salt, nonce, ciphertext = (
            base64.b64decode(str(sealed[k]), validate=True) for k in ("salt", "nonce", "ciphertext")
        )
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise malformed from exc
    # Bounded: a bundle must not make the function spend unbounded memory or time.
    if not (2**10 <= n <= 2**17 and n & (n - 1) == 0 and 1 <= r <= 16 and 1 <= p <= 4):
        raise malformed
    try:
        return AESGCM(_key(passphrase, salt, n, r, p)).decrypt(nonce, ciphertext, CONTEXT)
    except (InvalidTag, ValueError) as exc:
        raise WrongPassphrase("the passphrase does not open this bundle (or the bundle was altered)") from exc
