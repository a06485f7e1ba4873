"""A start-up check every process makes of REDIS_URL: a Redis that answers but refuses the login (a wrong password
or ACL user) is named and fatal at once. Celery and redis-py take the refusal for a lost connection and retry it
for minutes, which says nothing to the operator. A Redis that does not answer yet is left to their retries."""

import redis

LOGIN_TIMEOUT_S = 5.0


def login_refused(url: str) -> str | None:
    """A sentence when Redis refuses REDIS_URL's login; None when it takes it or cannot be reached. Never the URL."""
    client = redis.Redis.from_url(url, socket_connect_timeout=LOGIN_TIMEOUT_S, socket_timeout=LOGIN_TIMEOUT_S)
    try:
        client.ping()
    except redis.AuthenticationError as err:
        return (f"Redis refused the login in REDIS_URL ({err}); set the password (and ACL user) this Redis expects: "
                "redis://USER:PASSWORD@host:6379/0.")
    except (redis.RedisError, OSError):
        return None
    finally:
        client.close()
    return None
