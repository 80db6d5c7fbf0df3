"""A development identity provider that speaks FusionAuth's dialect, for the demo and the tests.

It is built on django-oauth-toolkit and runs as its own Django project (``python -m devidp``).
It is never a production IdP: it refuses to start when a production flag is set.
"""
