"""Settings shared by every environment. Everything variable comes from the environment."""

from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("PROVENA_VAR_DIR", str(BASE_DIR / "var")))

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "")
# Key of the verification codes printed on unit labels (warehouse.codes). Changing it changes
# every code, so it is separate from SECRET_KEY and set once per installation.
UNIT_CODE_KEY = env_str("PROVENA_UNIT_CODE_KEY", "")
UNIT_CODE_KEY_FROM_SECRET = not UNIT_CODE_KEY
if UNIT_CODE_KEY_FROM_SECRET and SECRET_KEY:
    # Works, but rotating SECRET_KEY would then change every label's code: `check --deploy` warns.
    UNIT_CODE_KEY = "unit-codes:" + SECRET_KEY
# Key that encrypts sensitive personal data at rest (orderer ID numbers) and keys their blind
# index. Like the unit-code key it must never change once data exists; derived from SECRET_KEY
# when unset (`check --deploy` warns).
PII_KEY = env_str("PROVENA_PII_KEY", "")
if not PII_KEY and SECRET_KEY:
    PII_KEY = "pii:" + SECRET_KEY
# Where buyers reach the site: the QR code on every unit label links to <this>/verify/<item>/.
PUBLIC_BASE_URL = env_str("PROVENA_PUBLIC_BASE_URL", "http://127.0.0.1:8000")
# A TrueType font with Chinese glyphs to embed in unit labels. Unset, labels name the standard
# CID font STSong-Light, which the computer that prints them must have (Adobe's Asian fonts).
LABEL_CJK_FONT = env_str("PROVENA_LABEL_CJK_FONT", "")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "allauth",
    "allauth.account",
    "core",
    "accounts",
    "catalog",
    "orders",
    "warehouse",
    "authenticity",
    "aftersales",
    "logistics",
    "push",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.site",
            ],
        },
    },
]

# Database: DATABASE_URL (PostgreSQL in production and CI); SQLite in WAL mode otherwise.
SQLITE_PATH = VAR_DIR / "provena.sqlite3"
DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            "OPTIONS": {
                # WAL lets the web process read while the worker writes; IMMEDIATE takes the
                # write lock at BEGIN so concurrent writers queue instead of failing midway.
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
                ),
                "transaction_mode": "IMMEDIATE",
            },
        }
    }
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "provena"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "account_login"

# allauth: email is the login; verification is mandatory; attempts are rate limited.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_RATE_LIMITS = {
    "login_failed": "5/5m/ip,5/5m/key",
    "login": "30/m/ip",
    "signup": "20/h/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
}
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Provena <no-reply@provena.example>")

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Licence documents and evidence photos (core.storage.PrivateStorage): never served by a web
# server, streamed by views that check who asks. Keep it out of the public media volume.
PRIVATE_MEDIA_ROOT = Path(env_str("PRIVATE_MEDIA_ROOT", str(VAR_DIR / "private")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Uploads above this are refused before Pillow sees them (see core.images).
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024

# Celery: Redis in production; kombu's filesystem transport for `make run` (no server needed).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # A task a killed worker held (acks_late) comes back after this many seconds, not kombu's
    # default hour; every task is idempotent, and none should run longer than this.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300)
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "clear-expired-sessions": {"task": "core.tasks.clear_expired_sessions", "schedule": 6 * 3600},
    "expire-unpaid-orders": {"task": "orders.tasks.expire_unpaid_orders", "schedule": 60},
    "simulated-carrier": {"task": "logistics.tasks.simulated_carrier_tick", "schedule": 60},
    # Surveys: invite units shipped long ago without a delivery (and any missed), then send due
    # invitations and reminders.
    "survey-sweep": {"task": "aftersales.tasks.survey_sweep", "schedule": 300},
    "survey-send": {"task": "aftersales.tasks.survey_send_due", "schedule": 60},
    # Push: held (quiet hours) and retried messages, and leases of workers that died.
    "push-send": {"task": "push.tasks.messages_send", "schedule": 30},
}

# Catalog figures that shape pages and queries.
CATALOG_PAGE_SIZE = 24
CATALOG_MAX_PAGE_SIZE = 96
# Result counts are exact up to this, then shown as "N+"; pages beyond it are not served.
CATALOG_COUNT_CAP = 2400
PRODUCT_IMAGE_MAX_BYTES = 8 * 1024 * 1024
PRODUCT_IMAGE_MAX_PIXELS = 40_000_000
PRODUCT_IMAGE_MAX_COUNT = 10
MERCHANT_LICENCE_MAX_BYTES = 10 * 1024 * 1024

# Authenticity: hours an appraiser has to examine a received unit (older ones are overdue), and
# the public verify page's limit per client IP: (attempts, seconds).
APPRAISAL_SLA_HOURS = 48
VERIFY_RATE_LIMIT = (20, 600)

# Orders: minutes a buyer has to pay before the order expires and its stock is released; the
# payment gateways (code -> backend and its keys); the gateway checkout uses.
ORDER_PAYMENT_MINUTES = env_int("PROVENA_ORDER_PAYMENT_MINUTES", 30)
PAYMENT_GATEWAYS = {
    "sandbox": {
        "BACKEND": "orders.payments.sandbox.SandboxGateway",
        # Shared secret of the sandbox's signed notify callbacks (HMAC-SHA256).
        "KEY": env_str("PROVENA_SANDBOX_PAY_KEY", "sandbox:" + SECRET_KEY),
        # Where the sandbox sends its notify callbacks (the site itself unless told otherwise).
        "NOTIFY_BASE_URL": env_str("PROVENA_SANDBOX_NOTIFY_BASE_URL", ""),
    },
}
PAYMENT_GATEWAY = env_str("PROVENA_PAYMENT_GATEWAY", "sandbox")
# Carriers (code -> backend and its keys; the code is part of /webhooks/carriers/<code>/) and the
# one the pack station books. The simulated carrier's route takes one step per this many minutes.
CARRIERS = {
    "simulated": {
        "BACKEND": "logistics.carriers.simulated.SimulatedCarrier",
        "KEY": env_str("PROVENA_SIMULATED_CARRIER_KEY", "carrier:" + SECRET_KEY),
        "MINUTES_PER_STEP": env_str("PROVENA_SIMULATED_CARRIER_MINUTES", "2"),
    },
}
DEFAULT_CARRIER = env_str("PROVENA_CARRIER", "simulated")
# Customs: the authority adapter and, for the simulated one, minutes before it decides and the
# orderer ID numbers it rejects (a stand-in for "annual quota used up on other platforms").
CUSTOMS_AUTHORITY = env_str("PROVENA_CUSTOMS_AUTHORITY", "logistics.customs.SimulatedCustoms")
CUSTOMS_SIMULATED_DELAY_SECONDS = env_int("PROVENA_CUSTOMS_DELAY_SECONDS", 20)
CUSTOMS_SIMULATED_REJECT_IDS = env_list("PROVENA_CUSTOMS_REJECT_IDS")
# Surveys after delivery (aftersales): hours after the carrier's delivery before the invitation
# goes out; days after shipping when no delivery was reported; days the link stays valid; days
# before the one reminder; units per batch of the sweep and of the sender; language of messages.
SURVEY_DELAY_AFTER_DELIVERY_HOURS = env_int("PROVENA_SURVEY_DELAY_HOURS", 24)
SURVEY_FALLBACK_DAYS_AFTER_SHIPPING = env_int("PROVENA_SURVEY_FALLBACK_DAYS", 14)
SURVEY_EXPIRY_DAYS = env_int("PROVENA_SURVEY_EXPIRY_DAYS", 30)
SURVEY_REMINDER_AFTER_DAYS = env_int("PROVENA_SURVEY_REMINDER_DAYS", 5)
SURVEY_BATCH_SIZE = env_int("PROVENA_SURVEY_BATCH_SIZE", 1000)
SURVEY_MESSAGE_LANGUAGE = env_str("PROVENA_SURVEY_LANGUAGE", "zh-hans")
# Push (messages to buyers' phones). Channel code -> backend class and its options, like email
# backends. Without PROVENA_PUSH_PROVIDER_URL every channel logs to the console (make run); with it
# the HTTP backends talk to that provider (an SMS gateway; WeChat / QQ template messages), e.g.
# `manage.py fake_push_provider`. Receipts come signed to /webhooks/messages/<channel>/.
PUSH_PROVIDER_URL = env_str("PROVENA_PUSH_PROVIDER_URL", "")
_PUSH_HTTP = "push.backends.http."
PUSH_BACKENDS = {
    "sms": {
        "BACKEND": _PUSH_HTTP + "SmsHttpBackend"
        if PUSH_PROVIDER_URL
        else "push.backends.console.ConsoleBackend",
        "BASE_URL": env_str("PROVENA_SMS_BASE_URL", PUSH_PROVIDER_URL),
        "API_KEY": env_str("PROVENA_SMS_API_KEY", "provena-sms"),
        "API_SECRET": env_str("PROVENA_SMS_API_SECRET", "sms:" + SECRET_KEY),
        "WEBHOOK_KEY": env_str("PROVENA_SMS_WEBHOOK_KEY", "sms-receipts:" + SECRET_KEY),
        "SIGN_NAME": env_str("PROVENA_SMS_SIGN_NAME", "Provena"),
        "TEMPLATES": {"default": env_str("PROVENA_SMS_TEMPLATE", "SMS_PROVENA_NOTICE")},
    },
    "wechat": {
        "BACKEND": _PUSH_HTTP + "WeChatTemplateBackend"
        if PUSH_PROVIDER_URL
        else "push.backends.console.ConsoleBackend",
        "BASE_URL": env_str("PROVENA_WECHAT_BASE_URL", PUSH_PROVIDER_URL),
        "API_KEY": env_str("PROVENA_WECHAT_APP_ID", "provena-wechat"),
        "API_SECRET": env_str("PROVENA_WECHAT_APP_SECRET", "wechat:" + SECRET_KEY),
        "WEBHOOK_KEY": env_str("PROVENA_WECHAT_WEBHOOK_KEY", "wechat-receipts:" + SECRET_KEY),
        "TEMPLATES": {"default": env_str("PROVENA_WECHAT_TEMPLATE", "TPL_PROVENA_NOTICE")},
    },
    "qq": {
        "BACKEND": _PUSH_HTTP + "QQTemplateBackend"
        if PUSH_PROVIDER_URL
        else "push.backends.console.ConsoleBackend",
        "BASE_URL": env_str("PROVENA_QQ_BASE_URL", PUSH_PROVIDER_URL),
        "API_KEY": env_str("PROVENA_QQ_APP_ID", "provena-qq"),
        "API_SECRET": env_str("PROVENA_QQ_APP_SECRET", "qq:" + SECRET_KEY),
        "WEBHOOK_KEY": env_str("PROVENA_QQ_WEBHOOK_KEY", "qq-receipts:" + SECRET_KEY),
        "TEMPLATES": {"default": env_str("PROVENA_QQ_TEMPLATE", "TPL_PROVENA_NOTICE")},
    },
}
# Channels tried after the buyer's preferred one when it has no valid address.
PUSH_CHANNEL_FALLBACK = env_list("PROVENA_PUSH_CHANNEL_FALLBACK", "sms,wechat,qq")
# Quiet hours in the buyer's time zone ("" = none): messages wait until the window opens.
PUSH_QUIET_HOURS = env_str("PROVENA_PUSH_QUIET_HOURS", "21:00-08:00")
PUSH_QUIET_HOURS_EXEMPT = env_list("PROVENA_PUSH_QUIET_HOURS_EXEMPT")  # purposes
# The sender: rows per claimed batch, messages per provider request, seconds a claim is leased,
# attempts before a message fails for good, seconds between attempts, seconds one task drains.
PUSH_BATCH_SIZE = env_int("PROVENA_PUSH_BATCH_SIZE", 500)
PUSH_REQUEST_SIZE = env_int("PROVENA_PUSH_REQUEST_SIZE", 100)
PUSH_LEASE_SECONDS = env_int("PROVENA_PUSH_LEASE_SECONDS", 60)
PUSH_MAX_ATTEMPTS = env_int("PROVENA_PUSH_MAX_ATTEMPTS", 6)
PUSH_RETRY_BACKOFF = [30, 120, 600, 1800, 3600]
PUSH_HTTP_TIMEOUT = env_int("PROVENA_PUSH_HTTP_TIMEOUT", 10)
PUSH_DRAIN_SECONDS = env_int("PROVENA_PUSH_DRAIN_SECONDS", 50)
# Off: enqueueing does not wake a sender; only the beat (every 30 s) sends.
PUSH_KICK_AFTER_COMMIT = env_bool("PROVENA_PUSH_KICK_AFTER_COMMIT", True)
# Currencies a buyer may choose to see amounts in (orders are always charged in CNY).
DISPLAY_CURRENCIES = ["CNY", "USD", "EUR", "JPY", "KRW", "GBP", "AUD", "HKD"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
