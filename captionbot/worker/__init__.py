"""The GPU worker: a Celery app serving caption jobs with both BLIP models resident."""
