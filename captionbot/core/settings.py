"""Settings from the environment or `.env` (see `.env.example` for every one, with a comment)."""

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from platformdirs import user_cache_dir, user_data_dir
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

IdList = Annotated[list[str], NoDecode]

# BLIP's captioner was fine-tuned after this prompt (salesforce/BLIP configs/caption_coco.yaml): what a model
# that records no prompt of its own decodes from (CAPTION_PROMPT). The recipe itself is `blip/recipe.py`.
BLIP_PROMPT = "a picture of "
MAX_PROMPT_CHARS = 200


def _split_ids(value: object) -> object:
    """Accept `1,2,3` (or whitespace-separated) as well as a list."""
    if isinstance(value, str):
        return [part for part in value.replace(",", " ").split() if part]
    if isinstance(value, int):
        return [str(value)]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", env_ignore_empty=True, extra="ignore")

    # Queue
    redis_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    queue_name: str = "captions"
    job_timeout_s: float = Field(60.0, gt=0)
    result_expires_s: int = Field(3600, gt=0)
    visibility_timeout_s: int = Field(600, gt=0)
    queue_max_depth: int = Field(100, ge=1)
    user_rate_per_minute: int = Field(10, ge=1)

    # Models
    pretrained_model: str = "Salesforce/blip-image-captioning-base"
    finetuned_model: str | None = None
    model_dir: str = "models"  # a folder, or s3://bucket/prefix on S3-compatible storage
    device: str = "auto"
    cpu_int8: bool = False
    serving_decoder: bool = True  # false: decode with transformers' generate
    compile_vision: bool = False  # GPU workers: the vision encoder under torch.compile
    worker_concurrency: int = Field(16, ge=1)
    batch_max_size: int = Field(16, ge=1)
    batch_max_wait_ms: float = Field(10.0, ge=0)
    reload_on_publish: bool = False
    caption_prompt: str = Field(BLIP_PROMPT, max_length=MAX_PROMPT_CHARS)  # for models that record none
    model_cache_dir: Path = Field(default_factory=lambda: Path(user_cache_dir("captionbot")) / "model-cache")
    model_cache_keep: int = Field(3, ge=1)
    quality_gate_margin: float = Field(0.02, ge=0)

    # Images
    max_image_bytes: int = Field(25 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(50_000_000, ge=10_000)
    job_image_side: int = Field(768, ge=64)
    image_decodes_at_once: int = Field(1, ge=1)
    image_decode_processes: int | None = Field(None, ge=0)  # worker: None = 8 at most on a GPU, 0 on the CPU
    max_images_per_message: int = Field(4, ge=1)

    # Discord
    discord_token: SecretStr | None = None
    discord_admin_user_ids: IdList = []
    discord_admin_role_ids: IdList = []
    discord_guild_ids: IdList = []
    discord_auto_caption_channels: IdList = []
    discord_alt_text: bool = False
    discord_sync_global: bool = False
    discord_cdn_hosts: IdList = ["cdn.discordapp.com", "media.discordapp.net"]
    discord_api_url: str | None = None  # None: discord.py's default (Discord's API); tests point it elsewhere

    # Slack
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_admin_user_ids: IdList = []
    slack_auto_caption_channels: IdList = []
    slack_api_url: str = "https://slack.com/api/"
    slack_file_hosts: IdList = ["files.slack.com"]

    # Both bots
    command_cooldown_s: float = Field(5.0, ge=0)
    fetch_loopback_for_tests: bool = False  # test suites only: downloads may use plain http to loopback servers

    # Metrics
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"

    # Feedback (votes and better captions on the bots' replies): off unless a server or channel is listed
    # The platform's data folder (~/.local/share/captionbot on Linux), never the folder a command runs in.
    data_dir: Path = Field(default_factory=lambda: Path(user_data_dir("captionbot")))
    feedback_db_url: SecretStr | None = None  # None: SQLite in DATA_DIR; postgresql+psycopg://… for several hosts
    feedback_user_key: SecretStr | None = None  # the key of the users' hashes; required where feedback is on
    feedback_discord_servers: IdList = []
    feedback_discord_channels: IdList = []
    feedback_slack_workspaces: IdList = []
    feedback_slack_channels: IdList = []
    feedback_vote_window_h: int = Field(24, ge=1)
    feedback_retention_days: int = Field(365, ge=1)

    # HTTP API (`captionbot api`)
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    api_keys_file: Path | None = None  # None: DATA_DIR/api_keys.json
    api_rate_per_minute: int = Field(60, ge=1)
    api_worker_probe_s: float = Field(5.0, gt=0)
    # Only for a network where everyone may caption: the API and its web page then take requests without a key.
    api_open_on_trusted_network: bool = False
    api_allowed_hosts: IdList = ["localhost", "127.0.0.1"]  # Host headers an open API answers (DNS rebinding)
    api_request_timeout_s: float = Field(60.0, gt=0)  # for a request's headers and body to arrive
    api_max_connections: int = Field(1000, ge=1)  # open connections and requests at once; beyond, 503
    api_uploads_per_key: int = Field(4, ge=1)  # caption requests one key may have in flight at once
    forwarded_allow_ips: IdList = []  # proxies whose X-Forwarded-For is believed; empty: none

    @model_validator(mode="after")
    def _state_in_data_dir(self) -> "Settings":
        if self.api_keys_file is None:
            self.api_keys_file = self.data_dir / "api_keys.json"
        return self

    @field_validator("caption_prompt", mode="before")
    @classmethod
    def _no_prompt(cls, value: object) -> object:
        """`none`: no prompt (an empty value would mean the default, as for every setting)."""
        return "" if isinstance(value, str) and value.strip().lower() == "none" else value

    @field_validator(
        "discord_admin_user_ids",
        "discord_admin_role_ids",
        "discord_guild_ids",
        "discord_auto_caption_channels",
        "slack_admin_user_ids",
        "slack_auto_caption_channels",
        "discord_cdn_hosts",
        "slack_file_hosts",
        "feedback_discord_servers",
        "feedback_discord_channels",
        "feedback_slack_workspaces",
        "feedback_slack_channels",
        "api_allowed_hosts",
        "forwarded_allow_ips",
        mode="before",
    )
    @classmethod
    def _ids(cls, value: object) -> object:
        return _split_ids(value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
