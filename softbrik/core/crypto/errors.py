"""Errors of the crypto layer. They are not domain errors: a caller maps them if it must."""

from __future__ import annotations


class CryptoError(Exception):
    """Base of the crypto layer's errors."""


class DecryptionError(CryptoError):
    """A sealed blob failed authentication: wrong team, wrong purpose, tampered or truncated."""


class KeyDestroyed(CryptoError):
    """The team's data key was destroyed (crypto-shredding); its data can never be read again."""


class KeyFileError(CryptoError):
    """The local master key file is missing, malformed or readable by others."""
