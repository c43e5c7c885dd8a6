"""Configuration: defaults, then the environment, then a mapping given by tests.

Also the one home of the calibration gate's numbers: every form, rollout and session
takes its defaults from here (through the app's config, so the environment can change
them); the pure agreement engine keeps its own documented function defaults.
"""

import os
import secrets
from pathlib import Path

from flask import current_app

# Krippendorff's own guidance: alpha at or above 0.800 is reliable, 0.667 to 0.800
# tentative, below 0.667 misaligned. The threshold and the accuracy target are
# defaults a deployment may change (ROLLCAL_ALPHA_THRESHOLD, ROLLCAL_ACCURACY_TARGET).
ALPHA_RELIABLE = 0.800
DEFAULT_ALPHA_THRESHOLD = 0.667
DEFAULT_ACCURACY_TARGET = 0.90


class Config:
    """Defaults for every setting; ``from_environment`` overlays the environment."""

    SQLALCHEMY_DATABASE_URI: str | None = None
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SECRET_KEY: str | None = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = False
    ROLLCAL_LOGIN_LIMIT = "10 per minute"
    ROLLCAL_LOGIN_ACCOUNT_LIMIT = "20 per hour"
    # "Forgot your password?": every request counts, per address and per e-mail asked for.
    ROLLCAL_RESET_LIMIT = "5 per minute"
    ROLLCAL_RESET_ACCOUNT_LIMIT = "3 per hour"
    # How long the one-time links e-mailed to people work.
    ROLLCAL_INVITATION_HOURS = 72
    ROLLCAL_RESET_MINUTES = 60
    ROLLCAL_PAGE_SIZE = 50
    # What each process keeps of the main pages it drew, served again while nothing has
    # been written since (rollcal/pagecache.py); 0 draws every page on every request.
    ROLLCAL_PAGE_CACHE_BYTES = 32 * 1024 * 1024
    ROLLCAL_ALPHA_THRESHOLD = DEFAULT_ALPHA_THRESHOLD
    ROLLCAL_ACCURACY_TARGET = DEFAULT_ACCURACY_TARGET
    ROLLCAL_RUN_SCHEDULER = False
    ROLLCAL_SMTP_HOST: str | None = None
    ROLLCAL_SMTP_PORT = 25
    ROLLCAL_SMTP_USER: str | None = None
    ROLLCAL_SMTP_PASSWORD: str | None = None
    ROLLCAL_SMTP_STARTTLS = False
    ROLLCAL_MAIL_FROM = "rollcal@localhost"
    # Where people reach rollcal: the links in e-mails start with it.
    ROLLCAL_BASE_URL = "http://127.0.0.1:5000"
    MAX_CONTENT_LENGTH = 12 * 1024 * 1024
    # Rendered reports are a cache: older ones are pruned (never the ones people signed).
    ROLLCAL_REPORT_RETENTION_DAYS = 30
    # The domain packages create_app loads, in order: each one's init_app registers its
    # blueprints, jobs, notification kinds, commands and demo data (rollcal/registry.py).
    # Rollout's demo data comes first: calibration's demo sessions feed its rollouts.
    ROLLCAL_DOMAINS: tuple[str, ...] = ("rollout", "calibration")


# Connection pool of each process on PostgreSQL (SQLite keeps SQLAlchemy's own choice).
# A gunicorn sync worker serves one request at a time: a couple of connections each, the
# overflow for the scheduler's threads; renewed before a server or proxy drops them for
# being old. ``SQLALCHEMY_ENGINE_OPTIONS`` given in the configuration win.
POSTGRESQL_POOL = {"pool_size": 2, "max_overflow": 10, "pool_recycle": 1800}

_BOOLEAN_WORDS = {"1": True, "true": True, "yes": True, "on": True}


def _parse(raw: str, default: object) -> object:
    """Read an environment string as the type of the setting's default."""
    if isinstance(default, bool):
        return _BOOLEAN_WORDS.get(raw.strip().lower(), False)
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, tuple):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw


def from_environment(environ: os._Environ | dict) -> dict:
    """Settings present in the environment: ``DATABASE_URL``, ``SECRET_KEY``, ``ROLLCAL_*``."""
    settings: dict = {}
    if environ.get("DATABASE_URL"):
        settings["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(environ["DATABASE_URL"])
    if environ.get("SECRET_KEY"):
        settings["SECRET_KEY"] = environ["SECRET_KEY"]
    for name, raw in environ.items():
        if name.startswith("ROLLCAL_") and hasattr(Config, name):
            settings[name] = _parse(raw, getattr(Config, name))
    if environ.get("ROLLCAL_HTTPS"):
        https = _parse(environ["ROLLCAL_HTTPS"], False)
        settings["SESSION_COOKIE_SECURE"] = https
        settings["REMEMBER_COOKIE_SECURE"] = https
    return settings


def alpha_threshold() -> float:
    """The alpha threshold a new rollout or session gets unless given one."""
    return float(current_app.config["ROLLCAL_ALPHA_THRESHOLD"])


def accuracy_target() -> float:
    """The accuracy against golden answers a new rollout or session gets unless given one."""
    return float(current_app.config["ROLLCAL_ACCURACY_TARGET"])


def normalise_database_url(url: str) -> str:
    """Point plain PostgreSQL URLs at psycopg 3, the driver rollcal ships with."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def instance_secret_key(instance_path: str) -> str:
    """Read the secret key kept in the instance folder, creating it on first run."""
    key_file = Path(instance_path) / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_hex(32)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key
