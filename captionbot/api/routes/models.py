"""GET /v1/models: the registry's versions and what each worker on this queue serves."""

from fastapi import APIRouter, Request

from captionbot.api import messages
from captionbot.api.auth import Caller
from captionbot.api.problems import ApiError, problem_responses
from captionbot.api.schemas import ModelsResponse, RegistryVersion, WorkerModels
from captionbot.core.registry import RegistryError

router = APIRouter()


@router.get("/v1/models", summary="Model versions", response_model=ModelsResponse,
            responses=problem_responses(401, 429, 503))
async def list_models(request: Request, caller: Caller) -> ModelsResponse:
    """Versions in the registry (MODEL_DIR) with their recorded scores (read at most every few seconds), and the
    versions each worker serves (checked every API_WORKER_PROBE_S seconds)."""
    state = request.app.state
    await state.service.queue.check_user(f"{caller}:models")  # a bucket of its own, beside the caption requests'
    try:
        listing = await state.model_listing.listing()
    except RegistryError as err:
        raise ApiError("registry_unavailable", messages.REGISTRY_UNREACHABLE) from err
    snapshot = state.workers.snapshot
    return ModelsResponse(
        current=listing.current,
        versions=[RegistryVersion(name=v.name, current=v.current, metrics=v.metrics) for v in listing.versions],
        workers=[WorkerModels(worker=w.worker, finetuned=w.version, pretrained=w.pretrained) for w in snapshot.workers],
        workers_checked_at=snapshot.checked_at,
    )
