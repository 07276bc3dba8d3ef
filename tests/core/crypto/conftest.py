"""Fixtures of the crypto and blob tests: a Tortoise database with only the crypto app, and
a moto server standing in for AWS KMS and S3."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from softbrik.core.blobs import BlobStore, LocalBlobStore, S3BlobStore
from softbrik.core.crypto import KeyProvider, KmsKeyProvider, LocalKeyProvider
from softbrik.core.db import DbApp
from softbrik.testing import TestDatabase

CRYPTO_APP = DbApp("crypto", "softbrik.core.crypto.models", "softbrik.core.crypto.migrations")
REGION = "eu-west-1"


@pytest.fixture
async def db(softbrik_db: TestDatabase, softbrik_reset: None) -> AsyncIterator[TestDatabase]:
    """The test session's database (SQLite or PostgreSQL), emptied for this test."""
    yield softbrik_db


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Aws:
    endpoint_url: str
    kms_key_id: str

    def client(self, service: str) -> Any:
        make_client: Any = boto3.client
        return make_client(service, endpoint_url=self.endpoint_url, region_name=REGION)

    def new_bucket(self) -> str:
        name = f"softbrik-test-{uuid.uuid4().hex[:12]}"
        self.client("s3").create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        return name


@pytest.fixture(scope="session")
def aws() -> Iterator[Aws]:
    """moto in server mode on a free local port, with dummy credentials and one KMS key."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            mp.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_CONFIG_FILE", os.devnull)
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        port = _free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            endpoint = f"http://127.0.0.1:{port}"
            kms = boto3.client("kms", endpoint_url=endpoint, region_name=REGION)
            key_id = kms.create_key(Description="softbrik test master key")["KeyMetadata"]["KeyId"]
            yield Aws(endpoint, key_id)
        finally:
            server.stop()


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
