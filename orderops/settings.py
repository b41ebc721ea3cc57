"""orderops settings: one module, read through django-environ.

The defaults are the embedded setup (SQLite in the project directory, django-q2 on its ORM broker,
the local monday emulator) so a newcomer runs everything on one machine. Production sets
DJANGO_DEBUG=false and must then name SECRET_KEY, ALLOWED_HOSTS and DATABASE_URL explicitly.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A .env file is a convenience for a developer's machine; real deployments set the environment.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=True)


def _required_in_production(name: str, hint: str) -> str | None:
    if DEBUG or env.str(name, default=""):
        return env.str(name, default="") or None
    raise ImproperlyConfigured(
        f"{name} is not set. Production mode (DJANGO_DEBUG=false) needs it: {hint} See .env.example."
    )


SECRET_KEY = (
    _required_in_production(
        "SECRET_KEY",
        "set SECRET_KEY to a long random string (python -c 'import secrets; print(secrets.token_urlsafe(50))').",
    )
    or "orderops-embedded-development-key-not-for-production-use-0123456789"
)
_required_in_production("ALLOWED_HOSTS", "set ALLOWED_HOSTS to the console's host names, comma separated.")
_required_in_production(
    "DATABASE_URL", "set DATABASE_URL, e.g. mssql://user:pass@host:1433/ORDERS?python_driver=mssql_python."
)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_q",
    "rest_framework",
    "drf_spectacular",
    "syncapp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "orderops.urls"
WSGI_APPLICATION = "orderops.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "syncapp.context_processors.environment_banner",
            ],
            # The console's filters (`when` for every time, `ago`, `rate`) in every template without a load.
            "builtins": ["syncapp.templatetags.console"],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the console read while a sync writes; IMMEDIATE transactions plus a busy timeout
    # make concurrent writers wait instead of failing with "database is locked".
    _db.setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    )
    _db.setdefault("TEST", {})["NAME"] = env.str("ORDEROPS_TEST_SQLITE", default=str(BASE_DIR / ".test-db.sqlite3"))
elif _db["ENGINE"] == "mssql":
    _db.setdefault("OPTIONS", {}).setdefault("driver", "ODBC Driver 18 for SQL Server")

# FACT_ORDER_LIST, swp_ORDER_LIST_SYNC and ORDER_LIST_LINES belong to the production SQL Server:
# orderops must never create, alter or drop them there. Locally (SQLite, PostgreSQL) a migration
# creates them from configs/order_list_columns.tsv.
ORDEROPS_MANAGE_ORDER_TABLES = env.bool("ORDEROPS_MANAGE_ORDER_TABLES", default=_db["ENGINE"] != "mssql")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- monday.com -----------------------------------------------------------------------------
MONDAY_EMULATOR_URL = "http://127.0.0.1:8765/v2"
MONDAY_API_URL = env.str("MONDAY_API_URL", default=MONDAY_EMULATOR_URL)
# Against the local emulator each environment has a known token, so the embedded setup needs no secrets;
# against any other URL an unset token stays empty and the sync refuses to start.
_EMULATED = MONDAY_API_URL == MONDAY_EMULATOR_URL
MONDAY_API_TOKEN_DEVELOPMENT = env.str(
    "MONDAY_API_TOKEN_DEVELOPMENT", default="emulator-development-token" if _EMULATED else ""
)
MONDAY_API_TOKEN_PRODUCTION = env.str(
    "MONDAY_API_TOKEN_PRODUCTION", default="emulator-production-token" if _EMULATED else ""
)
ORDEROPS_SYNC_CONFIG = Path(env.str("ORDEROPS_SYNC_CONFIG", default=str(BASE_DIR / "configs" / "sync_order_list.toml")))

# --- Task queue (django-q2) -----------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
Q_CLUSTER = {
    "name": "orderops",
    "workers": env.int("ORDEROPS_Q_WORKERS", default=2),
    # A sync of a large scope runs for minutes; timeout must stay below retry so a task is never
    # handed to a second worker while the first still runs it.
    "timeout": 3600,
    "retry": 3900,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "poll": 0.5,
    "save_limit": 1000,
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    # Without an explicit broker django-q2 falls back to Redis; the embedded setup has none.
    Q_CLUSTER["orm"] = "default"

# --- Authentication and security -------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["syncapp.login_throttle.ThrottledModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
ORDEROPS_LOGIN_FAILURE_LIMIT = env.int("ORDEROPS_LOGIN_FAILURE_LIMIT", default=5)
ORDEROPS_LOGIN_LOCKOUT_SECONDS = env.int("ORDEROPS_LOGIN_LOCKOUT_SECONDS", default=900)

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    _https = env.bool("ORDEROPS_HTTPS", default=True)
    SESSION_COOKIE_SECURE = _https
    CSRF_COOKIE_SECURE = _https
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_https)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if _https else 0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "orderops_cache"}}

# --- i18n, static -----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
# Times are stored in UTC and shown in the company's zone (the ops team works Pacific time); every
# time the console shows carries its zone's abbreviation, so a reader abroad is never misled.
TIME_ZONE = env.str("TIME_ZONE", default="America/Los_Angeles")
USE_I18N = True
USE_TZ = True
# One date format everywhere, the Django admin included: orderops/formats/en/formats.py.
FORMAT_MODULE_PATH = ["orderops.formats"]
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_tokens": {"()": "syncapp.logging.RedactTokensFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_tokens"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Trigger API (/api/v1/, syncapp/api/) -----------------------------------------------------
# Django REST framework with drf-spectacular. Bearer tokens only (manage.py api_token), no sessions,
# so CSRF does not apply; JSON only. The OpenAPI description is public at /api/v1/openapi.json.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["syncapp.api.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "syncapp.api.views.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "orderops trigger API",
    "DESCRIPTION": (
        "Start syncs of the order book to monday.com, poll runs and read their results. "
        "Authenticate with Authorization: Bearer <token> (python manage.py api_token create). "
        "See docs/deployment.md, 'The trigger API'."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Health and metrics -----------------------------------------------------------------------
# Checked by syncapp/checks.py (check_health_settings); see docs/deployment.md, "Health and metrics".
# /health calls the worker silent (status "degraded") after this many minutes without a heartbeat.
ORDEROPS_HEALTH_WORKER_SILENCE_MINUTES = env.int("ORDEROPS_HEALTH_WORKER_SILENCE_MINUTES", default=10)
# /metrics answers a request with "Authorization: Bearer <token>", or one made directly (not through
# the proxy) from these networks. An empty token turns the token off.
ORDEROPS_METRICS_TOKEN = env.str("ORDEROPS_METRICS_TOKEN", default="")
ORDEROPS_METRICS_ALLOWED_NETWORKS = env.list("ORDEROPS_METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"])
# Load balancers and Prometheus on the host call gunicorn over plain HTTP; the HTTPS redirect would
# answer them with a 301 instead of the status.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^metrics$"]

# --- Alerts: email and webhooks ---------------------------------------------------------------
# Checked by syncapp/checks.py (check_alert_settings); see docs/deployment.md, "Alerts: email and
# Microsoft Teams".
# Where alerts link to. In production it defaults to the first named host in ALLOWED_HOSTS.
_console_hosts = [h for h in ALLOWED_HOSTS if h and h[0] not in ".*["]
_console_scheme = "https" if env.bool("ORDEROPS_HTTPS", default=True) else "http"
ORDEROPS_CONSOLE_URL = env.str(
    "ORDEROPS_CONSOLE_URL",
    default=f"{_console_scheme}://{_console_hosts[0]}" if not DEBUG and _console_hosts else "http://127.0.0.1:8000",
)
ORDEROPS_ALERT_EMAILS = env.list("ORDEROPS_ALERT_EMAILS", default=[])
# A JSON list of URLs or a comma list; parsed (and its secrets kept out of logs) by
# syncapp/services/alert_delivery.py.
ORDEROPS_ALERT_WEBHOOKS = env.str("ORDEROPS_ALERT_WEBHOOKS", default="")
ORDEROPS_ALERT_PENDING_MAX_AGE_MINUTES = env.int("ORDEROPS_ALERT_PENDING_MAX_AGE_MINUTES", default=180)
ORDEROPS_ALERT_WORKER_SILENCE_MINUTES = env.int("ORDEROPS_ALERT_WORKER_SILENCE_MINUTES", default=10)
# Minutes before each retry of a delivery that failed; after the last one it is marked failed.
ORDEROPS_ALERT_RETRY_MINUTES = env.list("ORDEROPS_ALERT_RETRY_MINUTES", cast=int, default=[1, 5, 15, 60])
ORDEROPS_ALERT_WEBHOOK_TIMEOUT_SECONDS = env.float("ORDEROPS_ALERT_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="orderops@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if env.str("EMAIL_URL", default=""):
    # e.g. smtp+tls://user:password@smtp.office365.com:587 (EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, ...).
    globals().update(env.email_url("EMAIL_URL"))
else:
    # The embedded setup prints mail to the worker's log instead of needing a mail server.
    EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
    EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
    EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
