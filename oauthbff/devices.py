"""Names a session's device and browser from its User-Agent, for people ("Firefox 133 on Windows").

The parsing is ua-parser's (the uap-core rules, kept up to date upstream); this module only words
the result. Results are cached: a user's few sessions share one string, and the rules are regexes.
"""

from dataclasses import dataclass
from functools import lru_cache

from ua_parser import parse

PHONE_OS = {"iOS", "Android", "Windows Phone", "KaiOS", "BlackBerry OS"}
TABLETS = {"iPad", "Kindle", "Generic Tablet"}


@dataclass(frozen=True)
class Device:
    browser: str
    os: str
    device: str
    kind: str  # "phone", "tablet", "computer" or "unknown"

    @property
    def label(self):
        """One line: "Firefox 133 on Windows 10", "Mobile Safari 17 on iPhone (iOS 17.4)"."""
        if not (self.browser or self.os or self.device):
            return "Unknown browser"
        browser = self.browser or "Unknown browser"
        if self.device and self.os:
            return f"{browser} on {self.device} ({self.os})"
        where = self.device or self.os
        return f"{browser} on {where}" if where else browser


def _version(part, *, depth):
    numbers = [getattr(part, name) for name in ("major", "minor", "patch")[:depth]]
    numbers = [n for n in numbers if n]
    return " ".join([part.family, ".".join(numbers)]).strip() if numbers else part.family


@lru_cache(maxsize=1024)
def describe(user_agent):
    """The Device of a User-Agent header; empty fields when the parser does not know it."""
    result = parse(user_agent or "")
    browser = os_name = device = ""
    if result.user_agent and result.user_agent.family != "Other":
        browser = _version(result.user_agent, depth=1)
    if result.os and result.os.family != "Other":
        os_name = _version(result.os, depth=2)
    family = result.device.family if result.device else ""
    if family and family not in ("Other", "Generic Smartphone", "Generic Feature Phone"):
        brand = result.device.brand or ""
        model = result.device.model or ""
        device = family if not model or model == family or brand == "Generic" else model
    if family in TABLETS or (result.device and result.device.model == "iPad"):
        kind = "tablet"
    elif (result.os and result.os.family in PHONE_OS) or family.startswith("Generic Smartphone"):
        kind = "phone"
    elif os_name:
        kind = "computer"
    else:
        kind = "unknown"
    return Device(browser=browser, os=os_name, device=device, kind=kind)
