"""Password hashing as FusionAuth does by default."""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class FusionAuthPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """PBKDF2-HMAC-SHA256 with FusionAuth's default factor, so a signed-in burst stays fast."""

    algorithm = "pbkdf2_sha256_fa"
    iterations = 24000
