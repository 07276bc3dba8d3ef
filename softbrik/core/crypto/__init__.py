"""Encryption at rest (R-SEC-1, R-SEC-2) and crypto-shredding at closure (R-CLOSE-3, R-CLOSE-4).

Envelope encryption: each team has one data key, wrapped by a master key that a `KeyProvider`
holds (a local key file, or AWS KMS in production). Blobs and fields are sealed with the team's
data key; destroying the wrapped data key makes every copy of the team's data unreadable,
backups included.
"""

from softbrik.core.crypto.errors import CryptoError, DecryptionError, KeyDestroyed, KeyFileError
from softbrik.core.crypto.providers import (
    KeyProvider,
    KmsKeyProvider,
    LocalKeyProvider,
    provider_from_settings,
)
from softbrik.core.crypto.vault import SEGMENT_SIZE, Vault

__all__ = [
    "SEGMENT_SIZE",
    "CryptoError",
    "DecryptionError",
    "KeyDestroyed",
    "KeyFileError",
    "KeyProvider",
    "KmsKeyProvider",
    "LocalKeyProvider",
    "Vault",
    "provider_from_settings",
]
