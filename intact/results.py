"""Storing the front-end's submissions: validation, idempotency, quarantine of refused ones.

`submit(raw_body, content_type, client)` is the whole story of a POST /tests: read the JSON, check
the envelope and the result, find the study, store the test once, and keep a refused submission
that names a known study in the quarantine. It raises a domain error for every refusal; the view
picks the status code.
"""

import hashlib
import json
import logging
import math
from datetime import UTC, datetime

from bson import ObjectId
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from pymongo.errors import DuplicateKeyError, PyMongoError

from intact import db, deferred, quarantine
from intact.participants import counters, intake
from intact.studies import StudyNotFound, find_study
from intact.testtypes import (
    INT64_MAX,
    INT64_MIN,
    TEST_TYPES,
    UNCLASSIFIED,
    Text,
    WholeNumber,
    infer_test_type,
)
from intact.timestamps import utc_iso

log = logging.getLogger(__name__)

JSON_MIMETYPE = "application/json"
# The front-end's deepest value is result -> list -> answer -> field; this leaves room for
# nested extras while keeping every walk over a submission far from Python's recursion limit.
MAX_NESTING = 16
# Two writers of the same fingerprint on a store without atomic unique inserts (mongomock) can
# both be rolled back; a handful of retries settles it. MongoDB needs at most one.
INSERT_ATTEMPTS = 5


class SubmissionRefused(Exception):
    """A submission that cannot be stored; `message` says why and names the field."""

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}

    def field_errors(self) -> list[dict]:
        """The errors as a flat list of {"field", "message"}; the whole body when none is named."""
        return flatten_errors(self.errors) or [{"field": "body", "message": self.message}]


class UnreadableSubmission(SubmissionRefused):
    """The body is not a JSON object (malformed JSON, not UTF-8, a list, a number...)."""


class NotJsonSubmission(SubmissionRefused):
    """The body was not sent as application/json."""


class InvalidSubmission(SubmissionRefused):
    """A JSON object whose fields are missing, of the wrong type or out of range."""


class StudyClosed(SubmissionRefused):
    """A well-formed result for a study that takes no more (intact/participants/intake.py).

    It has no field errors: the result itself is valid, and is kept whole with `reason`.
    """

    def __init__(self, closure: intake.Closure):
        super().__init__(closure.message)
        self.reason = closure.reason


class StoringFailed(db.DatabaseUnavailable):
    """The same submission kept colliding with itself; nothing certain was stored."""


class UtcDateTime(fields.AwareDateTime):
    """ISO 8601 in, timezone-aware UTC out (milliseconds, as BSON stores); written back with Z.

    A time without an offset is taken as UTC: the browser always sends one, and refusing a
    participant's test over it would lose the test.
    """

    default_error_messages = {  # noqa: RUF012 - marshmallow merges this class attribute
        "out_of_range": "Not a date and time that can be stored in UTC.",
    }

    def __init__(self, **kwargs):
        super().__init__(format="iso", default_timezone=UTC, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:
            raise self.make_error("out_of_range") from None
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else utc_iso(value)


class ResultField(fields.Raw):
    """The result: an object or a list of answers, checked against its test type separately."""


class SubmissionSchema(Schema):
    """What the front-end posts after each test; unknown top-level fields are kept as `extra`."""

    class Meta:
        unknown = EXCLUDE

    study_id = Text(required=True, metadata={"description": "The study link's id."})
    time_started = UtcDateTime(
        required=True,
        metadata={"description": "When the test started (browser toISOString(), ISO 8601)."},
    )
    time_elapsed_milliseconds = WholeNumber(
        required=True,
        metadata={"description": "How long the test took, in milliseconds.", "unit": "ms"},
    )
    device_info = Text(required=True, metadata={"description": "The browser's user agent."})
    notes = Text(
        allow_none=True,
        load_default=None,
        metadata={"description": "Optional free text, as in the original backend."},
    )
    test_type = Text(
        allow_none=True,
        load_default=None,
        validate=validate.OneOf([*TEST_TYPES, UNCLASSIFIED]),
        metadata={
            "description": "Optional: the front-end sends none and the type is inferred from the "
            "result's field names. When given it must agree with the result."
        },
    )
    result = ResultField(
        required=True,
        metadata={
            "description": "An object (immediate and delayed recall) or a list of answers "
            "(the other four tests). Unknown fields inside answers are kept."
        },
    )


class StoredTestSchema(Schema):
    """A stored test as the API answers it."""

    test_id = fields.String(metadata={"description": "The stored test's id."})
    test_type = fields.String(
        metadata={"description": "One of the six test types, or unclassified (empty result)."}
    )
    study_id = fields.String()
    time_started = UtcDateTime(metadata={"description": "ISO 8601 in UTC, with Z."})
    time_elapsed_milliseconds = WholeNumber()
    device_info = fields.String()
    notes = fields.String(allow_none=True)
    result = ResultField(metadata={"description": "The result exactly as stored."})


ENVELOPE_FIELDS = frozenset(SubmissionSchema().fields)


def submit(
    raw_body: bytes, content_type: str | None, client: str | None = None
) -> tuple[dict, bool]:
    """Validate and store one submission; return (the stored test, whether it is new).

    Raises a SubmissionRefused subclass (StudyClosed for a completed study that takes no more
    results) or StudyNotFound (also for a link closed by hand: see intact/participants/intake.py).
    A refused submission that names a known study is kept in the quarantine (within its caps for
    the study and for `client`, the sender's address) after the answer has been sent: a refusal
    does the same work before its answer whether the study exists or not, so its timing tells a
    guesser nothing.
    """
    try:
        body = parse_body(raw_body)
    except UnreadableSubmission:
        if not _is_json(content_type):
            raise NotJsonSubmission(_not_json_message(content_type)) from None
        raise
    study = _known_study(body.get("study_id") if isinstance(body, dict) else None)
    # A closed study (intact/participants/intake.py) refuses what it still receives, but keeps
    # it, with the reason: nothing a participant sent is lost.
    closed = intake.closure(study) if study is not None else None
    try:
        if not _is_json(content_type):
            raise NotJsonSubmission(_not_json_message(content_type))
        if not isinstance(body, dict):
            raise UnreadableSubmission(f"The body must be a JSON object, not {_json_kind(body)}.")
        submission = validate_submission(body)
    except SubmissionRefused as refusal:
        if study is not None:
            deferred.after_response(
                _keep_in_quarantine,
                study,
                raw_body,
                content_type,
                refusal.message,
                refusal.field_errors(),
                client=client,
                reason=closed.reason if closed else None,
            )
        raise
    if study is None:
        raise StudyNotFound(body["study_id"])
    if closed is not None:
        if not closed.answers_as_unknown:
            # A retry of a test stored while the study was open is answered as before.
            stored = find_same_test(study, submission)
            if stored is not None:
                return stored, False
        # The result itself is valid: kept whole, with the reason and no field errors.
        deferred.after_response(
            _keep_in_quarantine,
            study,
            raw_body,
            content_type,
            closed.message,
            [],
            client=client,
            reason=closed.reason,
        )
        if closed.answers_as_unknown:
            raise StudyNotFound(study["study_id"])
        raise StudyClosed(closed)
    stored, created = store_test(study, submission)
    _note_activity(stored)
    return stored, created


def parse_body(raw_body: bytes):
    """The JSON value in the body; UnreadableSubmission when it is not strict JSON in UTF-8."""
    if not raw_body.strip():
        raise UnreadableSubmission("The body is empty; send the submission as a JSON object.")
    try:
        text = raw_body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableSubmission(
            f"The body is not UTF-8 text (byte {error.start} is invalid)."
        ) from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise UnreadableSubmission(
            f"The body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}."
        ) from None
    except ValueError as error:
        raise UnreadableSubmission(f"The body is not valid JSON: {error}") from None
    except RecursionError:
        raise UnreadableSubmission("The body is not valid JSON: it is nested too deeply.") from None


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON number.")


def validate_submission(body: dict) -> dict:
    """The submission as it will be stored, or InvalidSubmission naming every bad field."""
    errors = {}
    try:
        envelope = SubmissionSchema().load(body)
    except ValidationError as error:
        errors.update(error.messages)
        envelope = error.valid_data or {}
    if "result" in body:
        try:
            envelope["test_type"], envelope["result"] = load_result(
                body["result"], envelope.get("test_type")
            )
        except ValidationError as error:
            field = "test_type" if getattr(error, "field_name", "") == "test_type" else "result"
            errors[field] = error.messages
    if not errors:
        # The body as sent, so that an error names the field where the client put it.
        errors = unstorable_values(body)
    if errors:
        raise InvalidSubmission(refusal_message(errors), errors)
    envelope["extra"] = {key: value for key, value in body.items() if key not in ENVELOPE_FIELDS}
    return envelope


def load_result(result, claimed_type: str | None) -> tuple[str, object]:
    """The result's test type and its data as stored; ValidationError when they do not fit.

    An empty list says nothing about its type: it takes the claimed type when that is a list
    type, and is stored as unclassified otherwise, never refused.
    """
    if claimed_type and claimed_type != UNCLASSIFIED and result == []:
        if TEST_TYPES[claimed_type].is_list:
            return claimed_type, []
        raise ValidationError(
            f"test_type {claimed_type} sends one object, not a list.", field_name="test_type"
        )
    test_type = infer_test_type(result)
    if claimed_type and claimed_type != test_type:
        raise ValidationError(
            f"test_type {claimed_type} does not match the result, which is {test_type}.",
            field_name="test_type",
        )
    if test_type == UNCLASSIFIED:
        return test_type, []
    return test_type, TEST_TYPES[test_type].load(result)


def unstorable_values(document: dict) -> dict:
    """Errors for values no store can keep safely, keyed like marshmallow errors.

    Field names starting with "$" or holding "." are operators or paths to MongoDB, NUL cannot be
    in a field name, a lone surrogate cannot be encoded, and numbers must fit in 64 bits.
    """
    problems = {}
    _walk(document, [], 0, problems)
    return problems


def _walk(value, path, depth, problems):
    if depth > MAX_NESTING:
        _add_error(problems, path, f"Nested more than {MAX_NESTING} levels deep.")
    elif isinstance(value, dict):
        for key, item in value.items():
            complaint = _field_name_problem(key)
            if complaint:
                _add_error(problems, [*path, _printable(key)], complaint)
            else:
                _walk(item, [*path, key], depth + 1, problems)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, [*path, index], depth + 1, problems)
    else:
        complaint = _scalar_problem(value)
        if complaint:
            _add_error(problems, path, complaint)


def _scalar_problem(value) -> str | None:
    if isinstance(value, str) and not _encodable(value):
        return "Text holds an unpaired surrogate (invalid Unicode)."
    if isinstance(value, int) and not isinstance(value, bool):
        if not INT64_MIN <= value <= INT64_MAX:
            return "Number does not fit in 64 bits."
    elif isinstance(value, float) and not math.isfinite(value):
        return "Number is too large."
    return None


def _field_name_problem(key: str) -> str | None:
    if not _encodable(key):
        return "Field name holds an unpaired surrogate (invalid Unicode)."
    if "\x00" in key:
        return "Field name holds a NUL character."
    if key.startswith("$"):
        return 'Field names starting with "$" are not accepted (operator-like).'
    if "." in key:
        return 'Field names containing "." are not accepted.'
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(key: str) -> str:
    """A field name safe to echo in an error and to store: NUL and surrogates escaped."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _add_error(problems: dict, path: list, message: str) -> None:
    node = problems
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node.setdefault(path[-1], []).append(message)


def flatten_errors(errors, prefix: str = "") -> list[dict]:
    """Marshmallow-style nested errors as a flat list of {"field": "a.0.b", "message": ...}."""
    if isinstance(errors, dict):
        return [
            item
            for key, nested in errors.items()
            for item in flatten_errors(nested, f"{prefix}.{key}" if prefix else str(key))
        ]
    if isinstance(errors, list | tuple):
        return [item for nested in errors for item in flatten_errors(nested, prefix)]
    return [{"field": _printable(prefix or "body"), "message": _printable(str(errors))}]


def refusal_message(errors: dict, shown: int = 5) -> str:
    """One sentence naming the bad fields, for the client and the log."""
    flat = flatten_errors(errors)
    parts = [f"{item['field']}: {item['message']}" for item in flat[:shown]]
    more = f" (and {len(flat) - shown} more)" if len(flat) > shown else ""
    return "Invalid submission: " + "; ".join(parts) + more


def compute_fingerprint(study_id: str, test_type: str, time_started: datetime, result) -> str:
    """sha256 of the canonical JSON of what makes two submissions the same test."""
    canonical = json.dumps(
        {
            "study_id": study_id,
            "test_type": test_type,
            "time_started": utc_iso(time_started),
            "result": result,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _fingerprint_of(study: dict, submission: dict) -> str:
    return compute_fingerprint(
        study["study_id"], submission["test_type"], submission["time_started"], submission["result"]
    )


def find_same_test(study: dict, submission: dict) -> dict | None:
    """The stored test this submission repeats (same fingerprint), or None."""
    return db.tests().find_one({"fingerprint": _fingerprint_of(study, submission)}, {"_id": 0})


def store_test(study: dict, submission: dict) -> tuple[dict, bool]:
    """Insert the test unless the same one is stored already; return (test, whether new).

    The unique fingerprint index decides, so two identical submissions racing each other still
    leave one test: the loser finds the winner's.
    """
    fingerprint = _fingerprint_of(study, submission)
    for _ in range(INSERT_ATTEMPTS):
        document = {
            "test_id": str(ObjectId()),
            "study_id": study["study_id"],
            "participant_id": study.get("participant_id"),
            "study_type": study.get("study_type"),
            "followup_number": study.get("followup_number"),
            "test_type": submission["test_type"],
            "time_started": submission["time_started"],
            "time_elapsed_milliseconds": submission["time_elapsed_milliseconds"],
            "device_info": submission["device_info"],
            "notes": submission["notes"],
            "result": submission["result"],
            "extra": submission["extra"],
            "fingerprint": fingerprint,
            "received_at": datetime.now(UTC),
        }
        try:
            # insert_one returns once the server acknowledged the write (the client's default
            # write concern); only then does the caller answer 200.
            written = db.tests().insert_one(dict(document))
        except DuplicateKeyError:
            existing = db.tests().find_one({"fingerprint": fingerprint}, {"_id": 0})
            if existing is not None:
                log.info("identical re-submission answered with the stored test")
                return existing, False
            continue
        if not written.acknowledged:
            # Only a connection string with w=0 does this: the 200 would promise too much.
            raise StoringFailed("the database did not acknowledge the write (is w=0 set?)")
        log.info("test stored", extra={"fields": {"test_type": document["test_type"]}})
        return document, True
    raise StoringFailed("the submission kept colliding with a concurrent identical one")


def find_test(test_id: str) -> dict | None:
    """The stored test with this id, without the database's _id, or None."""
    if not isinstance(test_id, str):
        return None
    return db.tests().find_one({"test_id": test_id}, {"_id": 0})


def _known_study(study_id) -> dict | None:
    if not isinstance(study_id, str) or not _encodable(study_id):
        return None
    try:
        return find_study(study_id)
    except StudyNotFound:
        return None


def _keep_in_quarantine(study, raw_body, content_type, message, errors, *, client, reason) -> None:
    # The refusal is the answer either way: an unreachable store must not turn it into a 503.
    try:
        quarantine.keep_refused(
            study, raw_body, content_type, message, errors, client=client, reason=reason
        )
    except (PyMongoError, *db.UNAVAILABLE_ERRORS):
        log.error("could not keep a refused submission in quarantine", exc_info=True)


def _note_activity(test: dict) -> None:
    # The test is stored already: a failed count must not turn its 200 into an error (`flask
    # studies recount` rebuilds the counters from the tests).
    try:
        counters.count_test(test, seen_at=datetime.now(UTC))
    except Exception:
        # Whatever went wrong, the test is stored: the participant's 200 stands.
        log.exception("could not count the study's new test")


def _is_json(content_type: str | None) -> bool:
    mimetype = (content_type or "").split(";")[0].strip().lower()
    return mimetype == JSON_MIMETYPE or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def _not_json_message(content_type: str | None) -> str:
    sent = f"Content-Type {content_type}" if content_type else "no Content-Type"
    return f"Send the submission as {JSON_MIMETYPE} (the request had {sent})."


def _json_kind(value) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"
