"""Jobs through the real Redis and a real worker subprocess."""

import asyncio
import io

import pytest
from PIL import Image

from captionbot.core.errors import ModelUnavailable
from captionbot.core.jobs import Job, Mode, Options
from captionbot.core.queue import CaptionQueue


def png(color=(200, 30, 30), size=(96, 80)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def run(coro):
    return asyncio.run(coro)


async def _caption(settings, *jobs: Job):
    queue = CaptionQueue(settings)
    try:
        return await asyncio.gather(*(queue.caption(job, timeout=60) for job in jobs))
    finally:
        await queue.aclose()


def test_single_caption_through_the_queue(worker):
    (result,) = run(_caption(worker.settings, Job(image=png())))
    assert result.error is None
    finetuned = result.results["finetuned"]
    assert finetuned.version == "v1"
    assert len(finetuned.captions) == 1 and finetuned.captions[0]
    assert finetuned.ms > 0 and finetuned.queue_ms >= 0
    assert result.worker == worker.name


def test_compare_answers_both_models_with_their_versions(worker):
    (result,) = run(_caption(worker.settings, Job(image=png(), models=("finetuned", "pretrained"))))
    assert set(result.results) == {"finetuned", "pretrained"}
    assert result.results["finetuned"].version == "v1"
    assert result.results["pretrained"].version == "tiny-pretrained0"


def test_variations_give_three_captions(worker):
    job = Job(image=png(), mode=Mode.variations, options=Options(max_words=12))
    (result,) = run(_caption(worker.settings, job))
    captions = result.results["finetuned"].captions
    assert len(captions) == 3
    assert all(len(c.split()) <= 12 for c in captions)


def test_many_concurrent_jobs_each_get_their_own_answer(worker):
    jobs = [Job(image=png((i * 20, 0, 0)), options=Options(beams=i % 3 + 1)) for i in range(12)]
    results = run(_caption(worker.settings, *jobs))
    assert [r.job_id for r in results] == [j.job_id for j in jobs]
    assert all(r.error is None for r in results)


def test_bad_file_is_refused_and_the_worker_keeps_serving(worker):
    bad, good = run(_caption(worker.settings, Job(image=b"<html><body>hi</body></html>"), Job(image=png())))
    assert bad.error["code"] == "image_unsupported"
    assert "web page" in bad.error["message"]
    assert good.error is None


def test_result_error_raises_typed_error(worker):
    (result,) = run(_caption(worker.settings, Job(image=b"")))
    with pytest.raises(Exception) as info:
        result.raise_for_error()
    assert info.value.code == "image_empty"


def test_sync_client_for_the_command_line(worker):
    result = CaptionQueue(worker.settings).caption_sync(Job(image=png()), timeout=60)
    assert result.results["finetuned"].captions


def test_typed_error_class_round_trips():
    from captionbot.core.errors import error_from_dict

    error = error_from_dict(ModelUnavailable().to_dict())
    assert isinstance(error, ModelUnavailable)
