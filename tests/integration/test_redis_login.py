"""A wrong Redis password is named at start and fatal, in every long-running process, instead of being retried
as a lost connection; the password itself is never printed."""

import subprocess
import sys

import pytest

from tests.fixtures.services import service_env
from tests.integration.test_reliability import own_redis  # noqa: F401 - a fixture

STARTS = {
    "worker": (["worker"], {}, 1),
    "api": (["api", "--port", "0"], {}, 2),
    "discord": (["discord"], {"DISCORD_TOKEN": "MTA5.GkT3st.x9Yp2bQ7vR4sW1zA8cE5fH0jL3nM6oK9uI2tY7"}, 2),
    "slack": (["slack"], {"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_APP_TOKEN": "xapp-1-A1-2-def"}, 2),
}


@pytest.mark.parametrize("process", list(STARTS))
def test_a_wrong_redis_password_stops_the_start_with_a_sentence(process, own_redis, service_values):  # noqa: F811
    args, extra, status = STARTS[process]
    wrong = own_redis.url.replace(own_redis.password, "not-the-password")
    env = {**service_env({**service_values, "REDIS_URL": wrong}), **extra}
    done = subprocess.run([sys.executable, "-m", "captionbot", *args], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == status
    assert "Redis refused the login in REDIS_URL (invalid username-password pair" in done.stderr
    assert "not-the-password" not in done.stdout + done.stderr
