"""What a browser's user-agent string says, in the few words people need: browser and OS family.

The one wrapper around ua-parser (uap-core's rules, the registry that browsers' own projects and
Matomo, Sentry and others keep up to date), with its Rust accelerator ua-parser-rs: de-identified
exports reduce `device_info` to these families, and the sessions list names each device by them.
Pinned together in requirements.txt: ua-parser, ua-parser-builtins (the rules), ua-parser-rs.
"""

import functools
from dataclasses import dataclass

import ua_parser

# ua-parser's own answer for a string it does not recognise.
OTHER = "Other"
# Distinct user agents remembered: a study's devices repeat, so each is parsed about once.
CACHE_SIZE = 4096
# Real user agents are a few hundred characters; the parser's regular expressions read no more.
MAX_LENGTH = 1000


@dataclass(frozen=True)
class Device:
    """The browser family ("Chrome", "Mobile Safari") and OS family ("Windows", "iOS")."""

    browser: str
    os: str

    def __str__(self) -> str:
        return f"{self.browser} on {self.os}"


@functools.lru_cache(maxsize=CACHE_SIZE)
def device(user_agent) -> Device:
    """The browser and OS family of a user-agent string; "Other" for what is not recognised.

    Anything that is not text (a missing value, a number) is "Other" too: never an error.
    """
    if not isinstance(user_agent, str) or not user_agent.strip():
        return Device(OTHER, OTHER)
    text = user_agent[:MAX_LENGTH]
    browser = ua_parser.parse_user_agent(text)
    system = ua_parser.parse_os(text)
    return Device(browser.family if browser else OTHER, system.family if system else OTHER)
