"""GET /healthz: 200 when this API can caption, 503 naming the failing check (the shape every process uses)."""

import redis.asyncio as aioredis
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from captionbot.api.schemas import Check, HealthResponse
from captionbot.api.workers import WorkerSnapshot
from captionbot.core.control import no_worker

router = APIRouter()


@router.get(
    "/healthz",
    summary="Health",
    response_model=HealthResponse,
    responses={503: {"description": "a check fails; it says why", "model": HealthResponse}},
)
async def health(request: Request) -> JSONResponse:
    """Redis answers a ping now, and at least one worker consumed this API's queue at the latest check."""
    state = request.app.state
    checks = {"redis": await _redis(state.health_redis), "workers": workers_check(state.workers.snapshot, state.settings.queue_name)}
    ok = all(check.ok for check in checks.values())
    body = HealthResponse(status="ok" if ok else "failing", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


async def _redis(client: aioredis.Redis) -> Check:
    try:
        await client.ping()
    except (aioredis.RedisError, OSError) as err:
        return Check(ok=False, error=f"Redis unreachable ({type(err).__name__})")
    return Check(ok=True)


def workers_check(snapshot: WorkerSnapshot, queue_name: str) -> Check:
    count = len(snapshot.workers)
    if snapshot.error:
        return Check(ok=False, queue=queue_name, count=0, error=snapshot.error, checked_at=snapshot.checked_at)
    error = {} if count else {"error": no_worker(queue_name)}
    return Check(ok=count > 0, queue=queue_name, count=count, checked_at=snapshot.checked_at, **error)
