"""What the README and `.env.example` tell a user to set or to expect is what the code does."""

import re
from pathlib import Path

import pytest

from intact import config, security_headers

PROJECT_ROOT = Path(__file__).resolve().parent.parent
README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
ENV_EXAMPLE = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
COMPOSE = (PROJECT_ROOT / "compose.yml").read_text(encoding="utf-8")


def documented_in_env_example(name: str) -> bool:
    """`NAME=…` in .env.example, set or commented out."""
    return re.search(rf"^#?\s*{name}=", ENV_EXAMPLE, flags=re.MULTILINE) is not None


def test_every_variable_compose_reads_is_in_env_example():
    """`cp .env.example .env` then `docker compose up`: every ${VAR} compose reads is there."""
    variables = set(re.findall(r"\$\{([A-Z_]+)", COMPOSE))
    assert {"MONGO_ROOT_PASSWORD", "BACKUP_KEEP_DAYS"} <= variables
    missing = sorted(name for name in variables if not documented_in_env_example(name))
    assert missing == []


@pytest.mark.parametrize("name", sorted(config.SETTING_NAMES))
def test_every_setting_is_in_env_example_and_the_readme(name):
    assert documented_in_env_example(name), f"{name} is missing from .env.example"
    assert f"`{name}`" in README, f"{name} is missing from the README"


@pytest.mark.parametrize(
    ("label", "policy"),
    [("pages", security_headers.HTML_POLICY), ("others", security_headers.OTHER_POLICY)],
)
def test_the_readme_quotes_the_content_security_policy_the_app_sends(label, policy):
    assert f"{label + ':':<8}{policy}\n" in README
