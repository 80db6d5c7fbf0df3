"""FusionAuth's objects, as far as the BFF uses them: tenants, keys, applications, users,
registrations, API keys and webhooks. Configuration blobs keep FusionAuth's own JSON shape."""

import time
import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from oauth2_provider.models import AbstractApplication


def now_ms():
    """FusionAuth's instants are epoch milliseconds."""
    return int(time.time() * 1000)


class Tenant(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    name = models.CharField(max_length=191, unique=True)
    config = models.JSONField(default=dict, blank=True)
    insert_instant = models.BigIntegerField(default=now_ms)
    last_update_instant = models.BigIntegerField(default=now_ms)

    def __str__(self):
        return self.name


class Key(models.Model):
    """A signing key, as made by POST /api/key/generate or /api/key/import."""

    RS256 = "RS256"
    HS256 = "HS256"
    ALGORITHMS = [(RS256, "RS256"), (HS256, "HS256"), ("HS512", "HS512"), ("RS512", "RS512")]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    name = models.CharField(max_length=191)
    algorithm = models.CharField(max_length=10, choices=ALGORITHMS)
    length = models.PositiveIntegerField(default=0)
    secret = models.TextField(blank=True, help_text="HMAC secret or PEM private key.")
    public_key = models.TextField(blank=True)
    insert_instant = models.BigIntegerField(default=now_ms)

    def __str__(self):
        return f"{self.name} ({self.algorithm})"

    @property
    def is_hmac(self):
        return self.algorithm.startswith("HS")


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **extra):
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A FusionAuth user: a UUID (the ``sub``), an e-mail to sign in with, and free-form data."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE)
    email = models.EmailField(unique=True)
    username = models.CharField(max_length=191, blank=True)
    first_name = models.CharField(max_length=191, blank=True)
    last_name = models.CharField(max_length=191, blank=True)
    birth_date = models.CharField(max_length=10, blank=True)
    data = models.JSONField(default=dict, blank=True)
    verified = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    insert_instant = models.BigIntegerField(default=now_ms)
    last_update_instant = models.BigIntegerField(default=now_ms)

    objects = UserManager()
    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        ordering = ["email"]

    def __str__(self):
        return self.email

    def get_full_name(self):
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self):
        return self.first_name or self.email


class Application(AbstractApplication):
    """An OAuth client (django-oauth-toolkit's model) that is also a FusionAuth application.

    ``config`` keeps FusionAuth's JSON (oauthConfiguration, jwtConfiguration, ...); the toolkit's
    own fields (redirect URIs, client type, secret) are derived from it on save.
    """

    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE)
    roles = models.JSONField(default=list, blank=True)
    config = models.JSONField(default=dict, blank=True)
    insert_instant = models.BigIntegerField(default=now_ms)
    last_update_instant = models.BigIntegerField(default=now_ms)

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"

    def clean(self):
        """RS256 keys live in the Key table here, not in OIDC_RSA_PRIVATE_KEY."""

    @property
    def oauth_config(self):
        return self.config.get("oauthConfiguration", {})

    @property
    def jwk_key(self):
        """The application's RS256 signing key (jwtConfiguration.accessTokenKeyId or the first)."""
        from devidp.keys import jwk_for_key, signing_key_for

        key = signing_key_for(self)
        if key is None:
            raise ImproperlyConfigured("No RS256 key: run `python -m devidp kickstart`.")
        return jwk_for_key(key)


class Registration(models.Model):
    """A user's registration to an application: roles and the per-application ``data``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    user = models.ForeignKey(User, related_name="registrations", on_delete=models.CASCADE)
    application = models.ForeignKey(
        Application, related_name="registrations", on_delete=models.CASCADE
    )
    roles = models.JSONField(default=list, blank=True)
    data = models.JSONField(default=dict, blank=True)
    username = models.CharField(max_length=191, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    preferred_languages = models.JSONField(default=list, blank=True)
    verified = models.BooleanField(default=True)
    insert_instant = models.BigIntegerField(default=now_ms)
    last_update_instant = models.BigIntegerField(default=now_ms)
    last_login_instant = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "application"], name="one_registration_per_app")
        ]

    def __str__(self):
        return f"{self.user} @ {self.application}"

    def touch(self):
        """Bump lastUpdateInstant, strictly increasing even within one millisecond."""
        self.last_update_instant = max(now_ms(), (self.last_update_instant or 0) + 1)


class ApiKey(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    key = models.CharField(max_length=191, unique=True)
    description = models.CharField(max_length=191, blank=True)
    permissions = models.JSONField(default=dict, blank=True)
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE)
    insert_instant = models.BigIntegerField(default=now_ms)

    class Meta:
        verbose_name = "API key"

    def __str__(self):
        return self.description or str(self.id)


class Webhook(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=191, blank=True)
    config = models.JSONField(default=dict, blank=True)
    insert_instant = models.BigIntegerField(default=now_ms)
    last_update_instant = models.BigIntegerField(default=now_ms)

    def __str__(self):
        return self.description or self.url


class TokenCall(models.Model):
    """How many times /oauth2/token was called per grant type (served at /_dev/stats)."""

    grant_type = models.CharField(max_length=100, primary_key=True)
    count = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"{self.grant_type}: {self.count}"
