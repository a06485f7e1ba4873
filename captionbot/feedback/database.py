"""The feedback database: SQLite under DATA_DIR by default (one file, WAL, nothing to set up on one machine),
or the server FEEDBACK_DB_URL names (`postgresql+psycopg://user@host/db` for several bot hosts). Access is
async (aiosqlite, psycopg's async mode), so a bot's event loop never waits on a query. The SQLite file holds
people's images: only its owner may read it (0600, its folder 0700 when made here)."""

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from captionbot.core.settings import Settings

SQLITE_FILE = "feedback.sqlite3"
SQLITE_BUSY_MS = 5000  # a writer waits this long for another process's write to finish
CONNECT_TIMEOUT_S = 5  # a PostgreSQL host that does not answer is given up on after this long (libpq's minimum is 2)
PRIVATE_FILE = 0o600


def database_url(settings: Settings) -> URL:
    """FEEDBACK_DB_URL, else a SQLite file in DATA_DIR (made when missing)."""
    if settings.feedback_db_url is not None:
        return make_url(settings.feedback_db_url.get_secret_value())
    folder = Path(settings.data_dir)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / SQLITE_FILE
    path.touch(mode=PRIVATE_FILE, exist_ok=True)  # before SQLite makes it (0644 by the umask); its -wal and -shm
    if path.stat().st_mode & 0o077:  # files take its mode. A file from before this rule is closed to others now.
        path.chmod(PRIVATE_FILE)
    return URL.create("sqlite+aiosqlite", database=str(path))


def make_engine(url: URL) -> AsyncEngine:
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})


def _sqlite_pragmas(connection, _record) -> None:  # noqa: ANN001 (a DB-API connection)
    """WAL lets readers go on while one process writes; cascades need foreign keys on, which SQLite leaves off."""
    cursor = connection.cursor()
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", f"busy_timeout={SQLITE_BUSY_MS}", "synchronous=NORMAL"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()
