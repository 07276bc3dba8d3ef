"""Fixtures of the crypto and blob tests: the session's database, key providers and blob stores
(the moto server standing in for AWS KMS and S3 is `softbrik.testing`'s `aws` fixture)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from softbrik.core.blobs import BlobStore, LocalBlobStore, S3BlobStore
from softbrik.core.crypto import KeyProvider, KmsKeyProvider, LocalKeyProvider
from softbrik.core.db import DbApp
from softbrik.testing import REGION, Aws, TestDatabase

CRYPTO_APP = DbApp("crypto", "softbrik.core.crypto.models", "softbrik.core.crypto.migrations")


@pytest.fixture
async def db(softbrik_db: TestDatabase, softbrik_reset: None) -> AsyncIterator[TestDatabase]:
    """The test session's database (SQLite or PostgreSQL), emptied for this test."""
    yield softbrik_db


@pytest.fixture(params=["local", "kms"])
def provider(request: pytest.FixtureRequest, tmp_path: Path) -> KeyProvider:
    if request.param == "local":
        return LocalKeyProvider(tmp_path / "keys" / "master.json")
    aws: Aws = request.getfixturevalue("aws")
    return KmsKeyProvider(aws.kms_key_id, aws.endpoint_url, REGION)


@pytest.fixture(params=["local", "s3"])
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    aws: Aws = request.getfixturevalue("aws")
    return S3BlobStore(aws.new_bucket(), aws.endpoint_url, REGION)
