"""The registry on S3-compatible object storage (AWS S3, MinIO, Ceph, R2): `MODEL_DIR=s3://bucket/prefix`.

Credentials, region and endpoint come from boto3's standard chain: `AWS_ENDPOINT_URL` (or
`AWS_ENDPOINT_URL_S3`) for stores other than AWS, `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`,
instance and container roles. Object stores have no rename, so a version is published by uploading every file
and then its manifest; a listing that shows files without a manifest is an unfinished upload. Workers fetch a
version into their local cache (`cache.py`) and check every file against the manifest before loading it.
"""

from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

from captionbot.core.per_process import PerProcess
from captionbot.core.registry.base import S3_SCHEME, Registry, VersionState
from captionbot.core.registry.cache import ModelCache
from captionbot.core.registry.errors import RegistryUnavailable, VersionCorrupt
from captionbot.core.registry.layout import MANIFEST_FILE, VERSION_PATTERN, VERSIONS
from captionbot.core.registry.manifest import Manifest

MISSING = ("NoSuchKey", "404", "NotFound")
DELETE_BATCH = 1000


def split_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix")."""
    bucket, _, prefix = url.removeprefix(S3_SCHEME).partition("/")
    if not bucket:
        raise ValueError(f"MODEL_DIR={url} names no bucket; use s3://BUCKET/PREFIX")
    return bucket, prefix.strip("/")


class S3Registry(Registry):
    def __init__(self, location: str) -> None:
        self.location = str(location).rstrip("/")
        self.bucket, self.prefix = split_url(self.location)
        self._client = PerProcess(self._connect)

    @property
    def client(self):
        """One boto3 client per registry and process (clients are thread-safe; sessions and forks are not)."""
        return self._client.get()

    def _connect(self):
        import boto3
        from botocore.config import Config

        with self._errors("connect to"):
            config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=60)
            return boto3.session.Session().client("s3", config=config)

    def key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    @contextmanager
    def _errors(self, action: str):
        """botocore's failures as `RegistryUnavailable`; its messages name the error, never the credentials."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as err:
            message = err.response.get("Error", {}).get("Message", "")
            raise RegistryUnavailable(
                f"the model registry {self.location} refused to {action}: {_code(err)} {message}".rstrip()
            ) from err
        except BotoCoreError as err:
            raise RegistryUnavailable(f"the model registry {self.location} could not {action}: {err}") from err

    def read(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        with self._errors(f"read {key}"):
            try:
                return self.client.get_object(Bucket=self.bucket, Key=self.key(key))["Body"].read()
            except ClientError as err:
                if _code(err) in MISSING:
                    return None
                raise

    def write(self, key: str, data: bytes) -> None:
        with self._errors(f"write {key}"):
            self.client.put_object(Bucket=self.bucket, Key=self.key(key), Body=data)

    def scan(self) -> list[VersionState]:
        root = self.key(VERSIONS) + "/"
        files, newest, complete = defaultdict(int), defaultdict(float), set()
        with self._errors("list"):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=root):
                for item in page.get("Contents", []):
                    name, _, path = item["Key"][len(root):].partition("/")
                    files[name] += 1
                    newest[name] = max(newest[name], item["LastModified"].timestamp())
                    if path == MANIFEST_FILE:
                        complete.add(name)
        return [VersionState(n, n in complete and bool(VERSION_PATTERN.fullmatch(n)), files[n], newest[n]) for n in sorted(files)]

    def add_version(self, source: Path, name: str, exclude: tuple[str, ...] = ()) -> Manifest:
        self._ensure_bucket()
        return super().add_version(source, name, exclude)

    def store_version(self, source: Path, manifest: Manifest) -> None:
        for entry in manifest.files:
            with self._errors(f"upload {entry.path}"):
                self.client.upload_file(str(source / entry.path), self.bucket, self._file_key(manifest.version, entry.path))
        self.write(f"{VERSIONS}/{manifest.version}/{MANIFEST_FILE}", manifest.to_json())

    def remove_version(self, name: str) -> None:
        prefix = self.key(f"{VERSIONS}/{name}/")
        with self._errors(f"delete {name}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            keys = [{"Key": item["Key"]} for page in pages for item in page.get("Contents", [])]
            for start in range(0, len(keys), DELETE_BATCH):
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys[start:start + DELETE_BATCH]})

    def download(self, version: str, path: str, target: Path) -> None:
        """One file of a version into `target`; a file its manifest lists but the store lacks is corrupt."""
        from botocore.exceptions import ClientError

        with self._errors(f"download {path}"):
            try:
                self.client.download_file(self.bucket, self._file_key(version, path), str(target))
            except ClientError as err:
                if _code(err) in MISSING:
                    raise VersionCorrupt(
                        f"version '{version}' is refused: {path} is in its manifest but not in the store"
                    ) from err
                raise

    def local_copy(self, name: str, cache_dir: Path | None = None, keep: int = 3) -> Path:
        if cache_dir is None:
            raise ValueError("an s3:// registry needs a cache folder (MODEL_CACHE_DIR) to load from")
        return ModelCache(Path(cache_dir), keep).fetch(self, name)

    def _ensure_bucket(self) -> None:
        """The first publish into a fresh store (a new MinIO) makes the bucket."""
        from botocore.exceptions import ClientError

        with self._errors(f"create the bucket {self.bucket}"):
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as err:
                if _code(err) not in (*MISSING, "NoSuchBucket"):
                    raise
                region = self.client.meta.region_name
                where = {} if region in (None, "us-east-1") else {"CreateBucketConfiguration": {"LocationConstraint": region}}
                self.client.create_bucket(Bucket=self.bucket, **where)

    def _file_key(self, version: str, path: str) -> str:
        return self.key(f"{VERSIONS}/{version}/{path}")


def _code(err: Exception) -> str:
    return str(getattr(err, "response", {}).get("Error", {}).get("Code", ""))
