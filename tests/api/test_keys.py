"""API keys: `captionbot api-key create|list|revoke`, stored only as salted hashes; the API checks them on
every request, re-reading the file when it changes, and never logs them."""

import json
import os
import stat
import threading

import requests

from captionbot.api.keys import KeyStore
from tests.api.conftest import api_key_command, png
from tests.api.servers import bearer, post_image


def test_create_prints_the_key_once_and_stores_only_a_salted_hash(api_env, tmp_path):
    env = {**api_env, "API_KEYS_FILE": str(tmp_path / "keys.json")}
    made = api_key_command(env, "create", "cms")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("cbk_") and len(key) > 40 and "\n" not in key
    assert "not shown again" in made.stderr and key not in made.stderr
    stored = (tmp_path / "keys.json").read_text()
    assert key not in stored and key[4:] not in stored
    entry = json.loads(stored)["cms"]
    assert set(entry) == {"salt", "hash", "created"}
    assert stat.S_IMODE(os.stat(tmp_path / "keys.json").st_mode) == 0o600
    listed = api_key_command(env, "list")
    assert listed.returncode == 0 and listed.stdout.startswith("cms\tcreated ")
    assert key not in listed.stdout and entry["hash"] not in listed.stdout


def test_two_keys_with_one_salt_each_and_refusals_in_one_sentence(api_env, tmp_path):
    env = {**api_env, "API_KEYS_FILE": str(tmp_path / "keys.json")}
    assert api_key_command(env, "create", "alice").returncode == 0
    assert api_key_command(env, "create", "bob").returncode == 0
    again = api_key_command(env, "create", "alice")
    assert again.returncode == 2 and "A key named 'alice' already exists" in again.stderr
    bad = api_key_command(env, "create", "../etc")
    assert bad.returncode == 2 and "not a valid key name" in bad.stderr
    entries = json.loads((tmp_path / "keys.json").read_text())
    assert entries["alice"]["salt"] != entries["bob"]["salt"]
    assert api_key_command(env, "revoke", "alice").returncode == 0
    assert api_key_command(env, "list").stdout.split("\t")[0] == "bob"
    gone = api_key_command(env, "revoke", "alice")
    assert gone.returncode == 2 and "There is no key named 'alice'" in gone.stderr


def test_concurrent_creates_keep_every_key(tmp_path):
    store = KeyStore(tmp_path / "keys.json")
    keys: dict[str, str] = {}

    def create(name: str) -> None:
        keys[name] = KeyStore(store.path).create(name)

    threads = [threading.Thread(target=create, args=(f"k{i}",)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [entry.name for entry in store.entries()] == sorted(keys)
    assert all(store.name_for(key) == name for name, key in keys.items())


def test_an_unreadable_key_file_stops_the_start_with_one_line(api_env, tmp_path):
    broken = tmp_path / "keys.json"
    broken.write_text("{not json")
    env = {**api_env, "API_KEYS_FILE": str(broken)}
    listed = api_key_command(env, "list")
    assert listed.returncode == 2 and "cannot be read as a key file" in listed.stderr
    import subprocess
    import sys

    started = subprocess.run(
        [sys.executable, "-m", "captionbot", "api", "--port", "1"], env=env, capture_output=True, text=True, timeout=60
    )
    assert started.returncode == 2 and "cannot be read as a key file" in started.stderr


def test_no_key_is_401_with_a_bearer_challenge(api):
    response = post_image(api.url, png(), key=None)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == 'Bearer realm="captionbot"'
    assert response.json()["code"] == "api_key_missing"
    assert "Authorization: Bearer KEY" in response.json()["detail"]


def test_a_wrong_key_is_401_invalid_token(api, api_key):
    for wrong in (api_key[:-2] + "xx", "not-even-a-key"):
        response = requests.get(f"{api.url}/v1/models", headers=bearer(wrong), timeout=10)
        assert response.status_code == 401
        assert response.json()["code"] == "api_key_invalid"
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_revoked_key_stops_working_at_once(api, api_env):
    key = api_key_command(api_env, "create", "short-lived").stdout.strip()
    assert requests.get(f"{api.url}/v1/models", headers=bearer(key), timeout=10).status_code == 200
    assert api_key_command(api_env, "revoke", "short-lived").returncode == 0
    response = requests.get(f"{api.url}/v1/models", headers=bearer(key), timeout=10)
    assert response.status_code == 401 and response.json()["code"] == "api_key_invalid"


def test_keys_never_reach_the_log(api, api_key):
    assert post_image(api.url, png(), api_key).status_code == 200
    requests.get(f"{api.url}/v1/models", headers=bearer(api_key + "x"), timeout=10)
    log = api.log_text()
    assert '"POST /v1/captions HTTP/1.1" 200' in log
    assert api_key not in log and api_key[4:20] not in log
