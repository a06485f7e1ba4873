"""The registry's two back ends behind one interface: a local folder and S3 (moto's server, a real S3 API).

Publishing by manifest, CURRENT and the way back, unfinished uploads, the checked cache, the quality gate."""

import hashlib
import json
import uuid
from pathlib import Path

import boto3
import pytest

from captionbot.core.errors import InvalidVersion
from captionbot.core.registry import (
    MANIFEST_FILE,
    ModelCache,
    Registry,
    RegistryUnavailable,
    VersionCorrupt,
    gate_refusal,
    validate_version,
)
from captionbot.core.registry.local import LocalRegistry
from captionbot.core.registry.s3 import S3Registry
from captionbot.core.settings import Settings


def version_folder(root: Path, seed: int, cider: float | None = None) -> Path:
    root.mkdir(parents=True)
    (root / "config.json").write_text(json.dumps({"seed": seed}))
    (root / "model.safetensors").write_bytes(bytes(range(256)) * (seed + 3))
    (root / "tokenizer").mkdir()
    (root / "tokenizer" / "vocab.txt").write_text("a\nred\ncircle\n")
    (root / "trainer_state.pt").write_bytes(b"resumable state")
    metrics = {"split": "val", "CIDEr": 0.4} | ({"test": {"CIDEr": cider}} if cider is not None else {})
    (root / "metrics.json").write_text(json.dumps(metrics))
    return root


@pytest.fixture(params=["local", "s3"])
def registry(request, tmp_path) -> Registry:
    if request.param == "local":
        return Registry(tmp_path / "models")
    return Registry(request.getfixturevalue("s3_registry_url"))


def raw_objects(registry: Registry) -> dict[str, bytes]:
    """Every object under the registry, read past the interface (the bucket or the folder itself)."""
    if isinstance(registry, LocalRegistry):
        return {p.relative_to(registry.base).as_posix(): p.read_bytes() for p in registry.base.rglob("*") if p.is_file()}
    client = boto3.client("s3")
    listed = client.list_objects_v2(Bucket=registry.bucket, Prefix=registry.prefix).get("Contents", [])
    return {o["Key"][len(registry.prefix) + 1:]: client.get_object(Bucket=registry.bucket, Key=o["Key"])["Body"].read() for o in listed}


def put_raw(registry: Registry, key: str, data: bytes) -> None:
    if isinstance(registry, LocalRegistry):
        (registry.base / key).parent.mkdir(parents=True, exist_ok=True)
        (registry.base / key).write_bytes(data)
    else:
        boto3.client("s3").put_object(Bucket=registry.bucket, Key=registry.key(key), Body=data)


def test_location_picks_the_back_end_and_settings_keep_s3_urls(tmp_path, monkeypatch):
    assert isinstance(Registry(tmp_path), LocalRegistry)
    s3 = Registry("s3://bucket/some/prefix/")
    assert isinstance(s3, S3Registry) and (s3.bucket, s3.prefix) == ("bucket", "some/prefix")
    monkeypatch.setenv("MODEL_DIR", "s3://bucket/some/prefix")
    assert Settings(_env_file=None).model_dir == "s3://bucket/some/prefix"


def test_publish_writes_every_file_then_a_manifest_of_sizes_and_hashes(registry, tmp_path):
    source = version_folder(tmp_path / "v1", seed=1)
    registry.add_version(source, "v1", exclude=("trainer_state.pt",))
    objects = raw_objects(registry)
    manifest = json.loads(objects[f"finetuned/versions/v1/{MANIFEST_FILE}"])
    assert {f["path"] for f in manifest["files"]} == {"config.json", "model.safetensors", "tokenizer/vocab.txt", "metrics.json"}
    for entry in manifest["files"]:
        data = objects[f"finetuned/versions/v1/{entry['path']}"]
        assert entry["size"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert "finetuned/versions/v1/trainer_state.pt" not in objects
    assert registry.names() == ["v1"] and registry.metrics("v1")["CIDEr"] == 0.4
    with pytest.raises(InvalidVersion, match="already exists"):
        registry.add_version(source, "v1")
    with pytest.raises(InvalidVersion, match="reserved"):
        registry.add_version(source, "previous")


def test_the_first_publish_into_a_fresh_store_makes_the_bucket(s3_env, tmp_path):
    registry = Registry(f"s3://fresh-{uuid.uuid4().hex[:12]}/models")
    with pytest.raises(RegistryUnavailable, match="NoSuchBucket"):
        registry.names()
    registry.add_version(version_folder(tmp_path / "v1", 1), "v1")
    assert registry.names() == ["v1"]


def test_current_history_and_previous(registry, tmp_path):
    for seed, name in enumerate(("v1", "v2", "v3")):
        registry.add_version(version_folder(tmp_path / name, seed), name)
    assert registry.current() is None and registry.previous() is None
    registry.set_current("v1")
    registry.set_current("v2")
    registry.set_current("v2")  # a second worker writing the same CURRENT changes nothing
    assert registry.current() == "v2" and registry.previous() == "v1"
    assert registry.history() == ["v1", "v2"]
    registry.set_current("v1")  # a rollback
    assert registry.previous() == "v2"  # and a second one returns to where it started
    assert [v.name for v in registry.versions() if v.current] == ["v1"]
    with pytest.raises(InvalidVersion, match="no model version 'v9'"):
        registry.set_current("v9")


def test_a_version_without_its_manifest_does_not_exist_and_can_be_cleaned(registry, tmp_path):
    registry.add_version(version_folder(tmp_path / "v1", 1), "v1")
    # What an interrupted upload leaves: files without a manifest (in a folder, under the staging name).
    half = ".half.x1y2" if isinstance(registry, LocalRegistry) else "half"
    put_raw(registry, f"finetuned/versions/{half}/config.json", b"{}")
    put_raw(registry, f"finetuned/versions/{half}/model.safetensors", b"\0" * 100)
    assert registry.names() == ["v1"]
    (unfinished,) = registry.incomplete()
    assert unfinished.name == half and unfinished.files == 2
    with pytest.raises(InvalidVersion, match="no model version 'half'"):
        registry.set_current("half")
    with pytest.raises(InvalidVersion):
        registry.manifest("half")
    assert registry.clean(older_than_s=3600) == []  # it may still be uploading
    assert registry.clean(older_than_s=0) == [half]
    assert registry.incomplete() == [] and registry.names() == ["v1"]
    assert not any(key.startswith(f"finetuned/versions/{half}/") for key in raw_objects(registry))


def test_a_local_version_from_before_manifests_is_still_whole(tmp_path):
    legacy = tmp_path / "models" / "finetuned" / "versions" / "old"
    legacy.mkdir(parents=True)
    (legacy / "config.json").write_text("{}")
    registry = Registry(tmp_path / "models")
    assert registry.names() == ["old"] and registry.local_copy("old") == legacy


def test_the_cache_fetches_by_manifest_checks_every_hash_and_keeps_the_newest(s3_registry_url, tmp_path):
    registry = Registry(s3_registry_url)
    for seed, name in enumerate(("v1", "v2", "v3")):
        registry.add_version(version_folder(tmp_path / name, seed), name)
    cache_dir = tmp_path / "cache"
    path = registry.local_copy("v1", cache_dir, keep=2)
    assert path == cache_dir / "v1" and (path / "tokenizer" / "vocab.txt").read_text() == "a\nred\ncircle\n"
    assert (path / "model.safetensors").read_bytes() == (tmp_path / "v1" / "model.safetensors").read_bytes()
    registry.local_copy("v2", cache_dir, keep=2)
    registry.local_copy("v3", cache_dir, keep=2)
    assert ModelCache(cache_dir).names() == ["v3", "v2"]  # v1, least recently used, went
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".")]


def test_a_tampered_object_is_refused_with_the_reason_and_leaves_nothing(s3_registry_url, tmp_path):
    registry = Registry(s3_registry_url)
    registry.add_version(version_folder(tmp_path / "v1", 1), "v1")
    original = raw_objects(registry)["finetuned/versions/v1/model.safetensors"]
    put_raw(registry, "finetuned/versions/v1/model.safetensors", b"\1" + original[1:])
    cache_dir = tmp_path / "cache"
    with pytest.raises(VersionCorrupt, match=r"model.safetensors has sha256 \w+… but its manifest records"):
        registry.local_copy("v1", cache_dir)
    put_raw(registry, "finetuned/versions/v1/model.safetensors", original[:-1])
    with pytest.raises(VersionCorrupt, match=f"model.safetensors is {len(original) - 1} bytes but its manifest records {len(original)}"):
        registry.local_copy("v1", cache_dir)
    assert list(cache_dir.iterdir()) == []


def test_an_unreachable_store_says_so_without_its_credentials(monkeypatch, s3_env):
    from tests.fixtures.object_store import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(RegistryUnavailable) as caught:
        Registry("s3://nowhere/models").current()
    assert "s3://nowhere/models" in caught.value.message
    assert s3_env["AWS_SECRET_ACCESS_KEY"] not in caught.value.message


def test_the_quality_gate_names_both_figures_and_keeps_to_one_split():
    live = {"split": "val", "CIDEr": 0.61, "test": {"CIDEr": 0.552}}
    reason = gate_refusal("v2", {"split": "val", "CIDEr": 0.70, "test": {"CIDEr": 0.41}}, "v1", live, margin=0.02)
    assert "v2's test CIDEr 0.410" in reason and "v1's 0.552" in reason and "0.020" in reason and "--force" in reason
    assert gate_refusal("v2", {"test": {"CIDEr": 0.54}}, "v1", live, margin=0.02) is None  # within the margin
    assert gate_refusal("v2", {"split": "val", "CIDEr": 0.50}, "v1", live, margin=0.02) is not None  # val vs val
    assert gate_refusal("v2", {}, "v1", live, margin=0.02) is None  # nothing recorded to compare
    assert gate_refusal("v2", {"test": {"CIDEr": 0.1}}, None, {}, margin=0.02) is None  # nothing live


@pytest.mark.parametrize("name", ["v1\n", "v1\nv2", "../v1", "", "-v1", "v" * 65])
def test_a_version_name_is_a_whole_plain_folder_name(name):
    with pytest.raises(InvalidVersion, match="not a valid version name"):
        validate_version(name)
    assert validate_version("flickr8k-20261129-1403") == "flickr8k-20261129-1403"
