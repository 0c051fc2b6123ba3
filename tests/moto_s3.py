"""A local S3 (moto's threaded server) for the tests of the S3 document store."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from unittest import mock

import boto3
from moto.server import ThreadedMotoServer

from tests.support import free_port

REGION = "us-east-1"
# Credentials for the local server only: boto3 reads them from the standard chain.
AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@contextlib.contextmanager
def moto_s3() -> Iterator[str]:
    """moto's S3 on a free local port, the AWS_* variables pointing boto3's credential chain
    at test credentials (and away from any of this machine's); its endpoint URL."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    # No AWS profile or config of this machine may take part.
    unset = {
        "AWS_PROFILE": "",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    with mock.patch.dict(os.environ, {**AWS_ENVIRONMENT, **unset}):
        os.environ.pop("AWS_PROFILE")
        server.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.stop()


def make_bucket(endpoint_url: str, name: str) -> None:
    boto3.client("s3", endpoint_url=endpoint_url, region_name=REGION).create_bucket(Bucket=name)


def object_keys(endpoint_url: str, bucket: str) -> list[str]:
    client = boto3.client("s3", endpoint_url=endpoint_url, region_name=REGION)
    listed = client.list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listed.get("Contents", []))
