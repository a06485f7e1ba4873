"""GET /v1/models: the registry's versions and what each worker on this queue serves."""

from fastapi import APIRouter, Request

from captionbot.api.auth import Caller
from captionbot.api.problems import problem_responses
from captionbot.api.schemas import ModelsResponse, RegistryVersion, WorkerModels
from captionbot.core.registry import Registry

router = APIRouter()


@router.get("/v1/models", summary="Model versions", response_model=ModelsResponse, responses=problem_responses(401))
async def list_models(request: Request, caller: Caller) -> ModelsResponse:
    """Versions in the registry (MODEL_DIR) with their recorded scores, and the versions each worker serves
    (checked every API_WORKER_PROBE_S seconds)."""
    state = request.app.state
    registry = Registry(state.settings.model_dir)
    snapshot = state.workers.snapshot
    return ModelsResponse(
        current=registry.current(),
        versions=[RegistryVersion(name=v.name, current=v.current, metrics=v.metrics) for v in registry.versions()],
        workers=[WorkerModels(worker=w.worker, finetuned=w.version, pretrained=w.pretrained) for w in snapshot.workers],
        workers_checked_at=snapshot.checked_at,
    )
