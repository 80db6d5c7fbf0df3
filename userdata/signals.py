"""Signals userdata sends, so a project can count sync outcomes (metrics) or react to them.

Both are sent with ``sender=UserData`` and ``row`` (the mirror row), ``ok`` (bool) and ``error``
(a message safe for staff, "" when ok).
"""

from django.dispatch import Signal

data_pushed = Signal()
data_pulled = Signal()
