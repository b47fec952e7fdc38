"""Who may do what: the roles, one table of permissions → roles, and the declaration on each view.

Every route declares what it needs with one decorator, and `allowed` is the only place that
decides (a later per-study scope changes that one function):

    @bp.get("/progress")
    @permissions.requires(Permission.VIEW_PROGRESS)
    def progress_grid(): ...

    @permissions.public            # participants' endpoints, the login page, /healthz
    def get_study(study_id): ...

The app's guard (intact/accounts/guard.py) reads the declaration before the view runs; a route
with none is refused, and tests/test_permissions.py fails for it. On a flask-smorest MethodView
put the decorator on the class.
"""

from enum import StrEnum

ADMIN, RESEARCHER, ANALYST = "admin", "researcher", "analyst"
ROLES = (ADMIN, RESEARCHER, ANALYST)
ROLE_DESCRIPTIONS = {
    ADMIN: "everything, including accounts and erasing a participant's data",
    RESEARCHER: "runs the study: creates and manages study links, downloads all data",
    ANALYST: "sees progress and scores, never study links; downloads de-identified data only",
}
READ, WRITE = "read", "write"
TOKEN_SCOPES = (READ, WRITE)


class Permission(StrEnum):
    """What a route needs. The values are stable: they appear in error messages and docs."""

    VIEW_PROGRESS = "view_progress"  # overview, progress, participant pages, scores, data quality
    SEE_STUDY_LINKS = "see_study_links"  # study ids and links are the participants' credentials
    MANAGE_STUDIES = "manage_studies"  # create, add follow-ups, withdraw, deactivate/reissue
    ERASE_PARTICIPANTS = "erase_participants"
    DOWNLOAD_IDENTIFIABLE = "download_identifiable"
    DOWNLOAD_DEIDENTIFIED = "download_deidentified"
    SEE_REFUSED = "see_refused"  # refused submissions' raw bodies
    SEE_AUDIT_LOG = "see_audit_log"
    MANAGE_ACCOUNTS = "manage_accounts"  # other people's accounts and tokens
    OWN_ACCOUNT = "own_account"  # one's own password, two-factor, sessions, tokens


_EVERYONE = frozenset(ROLES)
_STUDY_TEAM = frozenset({ADMIN, RESEARCHER})

# The table of issue 11 ("Accounts and roles"). Change a role's rights here and nowhere else.
ROLES_FOR: dict[Permission, frozenset[str]] = {
    Permission.VIEW_PROGRESS: _EVERYONE,
    Permission.SEE_STUDY_LINKS: _STUDY_TEAM,
    Permission.MANAGE_STUDIES: _STUDY_TEAM,
    Permission.ERASE_PARTICIPANTS: frozenset({ADMIN}),
    Permission.DOWNLOAD_IDENTIFIABLE: _STUDY_TEAM,
    Permission.DOWNLOAD_DEIDENTIFIED: _EVERYONE,
    Permission.SEE_REFUSED: _STUDY_TEAM,
    Permission.SEE_AUDIT_LOG: _STUDY_TEAM,
    Permission.MANAGE_ACCOUNTS: frozenset({ADMIN}),
    Permission.OWN_ACCOUNT: _EVERYONE,
}
# What a `read` API token may not do: anything that changes data or accounts.
WRITE_PERMISSIONS = frozenset(
    {Permission.MANAGE_STUDIES, Permission.ERASE_PARTICIPANTS, Permission.MANAGE_ACCOUNTS}
)

PUBLIC = "public"
DECLARATION = "intact_permission"


def allowed(principal, permission: Permission) -> bool:
    """The one check: may this person (or token) use something that needs `permission`?

    `principal` is an intact.accounts.principal.Principal (None: nobody logged in). A token is
    limited by its owner's role and by its scope.
    """
    if principal is None:
        return False
    if principal.role not in ROLES_FOR[permission]:
        return False
    return not (principal.scope == READ and permission in WRITE_PERMISSIONS)


def requires(permission: Permission):
    """Declare that a view needs `permission` (the guard enforces it before the view runs)."""
    permission = Permission(permission)

    def declare(view):
        setattr(view, DECLARATION, permission)
        return view

    return declare


def public(view):
    """Declare that a view is open to everyone (participants, the login page, health checks)."""
    setattr(view, DECLARATION, PUBLIC)
    return view


# Routes that other libraries register, which cannot carry a decorator: Flask's static files and
# flask-smorest's OpenAPI document and Swagger UI page.
EXTERNAL_PUBLIC_ENDPOINTS = frozenset(
    {"static", "api-docs.openapi_json", "api-docs.openapi_swagger_ui"}
)


def declaration_of(endpoint: str, view) -> Permission | str | None:
    """What the route `endpoint` (served by `view`) declared: a Permission, PUBLIC, or None."""
    if endpoint in EXTERNAL_PUBLIC_ENDPOINTS:
        return PUBLIC
    declared = getattr(view, DECLARATION, None)
    if declared is None:
        # flask-smorest / Flask MethodView: as_view() builds a function that keeps the class.
        declared = getattr(getattr(view, "view_class", None), DECLARATION, None)
    return declared
