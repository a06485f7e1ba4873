"""Fine-tune, score, report and publish BLIP checkpoints. Never imports `captionbot.worker`."""
