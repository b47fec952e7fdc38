"""The six INTACT result types: one marshmallow schema each, what each field means, type inference.

The front-end sends no `test_type`: the kind of test shows only in the result's field names
(`ir_*`, `crt_*`, `vpa_*`, `dsm_*`, `sm_*`, `dr_*`), which `infer_test_type` reads. Each
`TestType` also names the roles of its fields (reaction times, correctness, recorded score), which
scoring, exports and the dashboard read from here.
"""

import math
from dataclasses import dataclass
from functools import cached_property

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# A submission whose result is an empty list of answers: its type cannot be known.
UNCLASSIFIED = "unclassified"
UNCLASSIFIED_LABEL = "Empty result (no answers)"


class WholeNumber(fields.Integer):
    """A JSON number that is whole and fits in 64 bits; no strings, no booleans.

    Reaction times come from the browser clock and may be negative or absurd (about 1.7e12 when a
    press time was never recorded): they are stored as sent, so no range is imposed here.
    """

    default_error_messages = {  # noqa: RUF012 - marshmallow merges this class attribute
        "invalid": "Not a whole number.",
        "too_large": "Number does not fit in 64 bits.",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        if isinstance(value, float):
            if not math.isfinite(value) or not value.is_integer():
                raise self.make_error("invalid")
            value = int(value)
        if not INT64_MIN <= value <= INT64_MAX:
            raise self.make_error("too_large")
        return value


class TrueOrFalse(fields.Boolean):
    """A JSON boolean only: "yes", 1 or "true" are refused rather than guessed at."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class Text(fields.String):
    """A JSON string only (an object such as {"$ne": ""} is refused)."""


def _milliseconds(description, **options):
    return WholeNumber(
        required=options.pop("required", True),
        metadata={"description": description, "unit": "ms"},
        **options,
    )


class AnswerSchema(Schema):
    """Base of every answer schema: unknown fields inside an answer are kept as sent."""

    class Meta:
        unknown = INCLUDE


class ImmediateRecallResultSchema(AnswerSchema):
    """Immediate recall: one object; two attempts at recalling the animals."""

    ir_rt_first = _milliseconds("Time to answer at the first attempt.")
    ir_rt_second = _milliseconds(
        "Time to answer at the second attempt; null when there was no second attempt.",
        required=False,
        allow_none=True,
        load_default=None,
    )
    ir_score = WholeNumber(
        required=True,
        validate=validate.OneOf([0, 1, 2]),
        metadata={
            "description": "2: right at the first attempt, 1: at the second, 0: neither.",
            "unit": "points",
        },
    )


class ChoiceReactionTimeAnswerSchema(AnswerSchema):
    """Choice reaction time: one answer (press left or right as the stimulus says)."""

    crt_rt = _milliseconds("Reaction time.")
    crt_correct = TrueOrFalse(
        required=True, metadata={"description": "True when the answer was correct."}
    )
    crt_response = Text(
        required=True,
        validate=validate.OneOf(["left", "right"]),
        metadata={"description": 'The side answered: "left" or "right".'},
    )
    crt_dwell = _milliseconds("How long the answer key was held down.")


class VisualPairedAssociatesAnswerSchema(AnswerSchema):
    """Visual paired associates: one answer (which image was paired with the cue)."""

    vpa_rt = _milliseconds("Time to answer.")
    vpa_correct = TrueOrFalse(
        required=True, metadata={"description": "True when the answer was correct."}
    )
    vpa_response = Text(
        required=True, metadata={"description": "File name of the image chosen, e.g. bar3.jpg."}
    )


class DigitSymbolMatchingAnswerSchema(AnswerSchema):
    """Digit symbol matching: one answer (the digit that goes with the symbol)."""

    dsm_rt = _milliseconds("Reaction time.")
    dsm_correct = TrueOrFalse(
        required=True, metadata={"description": "True when the answer was correct."}
    )
    dsm_response = WholeNumber(
        required=True,
        validate=validate.OneOf([1, 2, 3]),
        metadata={"description": "The digit answered: 1, 2 or 3."},
    )


class SpatialMemoryAnswerSchema(AnswerSchema):
    """Spatial memory: one answer (where the items were)."""

    sm_rt = _milliseconds("Time to answer.")
    sm_correct = TrueOrFalse(
        required=True, metadata={"description": "True when the answer was correct."}
    )


class DelayedRecallResultSchema(AnswerSchema):
    """Delayed recall: one object; how many of the animals were recalled later."""

    dr_rt = _milliseconds("Time to answer.")
    dr_score = WholeNumber(
        required=True,
        validate=validate.Range(min=0, max=5),
        metadata={"description": "Animals recalled, 0 to 5 (0 is a real score).", "unit": "points"},
    )


@dataclass(frozen=True)
class TestType:
    """One kind of cognitive test: the shape of its result and the role of each field.

    Roles name fields of `schema` (checked when the type is made): `rt_fields` are reaction times
    in ms by the browser clock, `correct_field` is true for a right answer, `score_field` holds a
    score the front-end recorded, `dwell_field` how long a key was held (ms).
    """

    __test__ = False  # a cognitive test, not a pytest class

    name: str
    label: str
    schema: type[Schema]
    is_list: bool
    prefix: str  # of every field of its result, and of its score columns: "crt"
    rt_fields: tuple[str, ...]
    correct_field: str | None = None
    score_field: str | None = None
    dwell_field: str | None = None
    max_answers: int | None = None
    # Answers in the battery as the front-end runs it (used for completeness checks).
    battery_answers: int | None = None

    def __post_init__(self):
        roles = (*self.rt_fields, self.correct_field, self.score_field, self.dwell_field)
        unknown = [name for name in roles if name is not None and name not in self.fields]
        if unknown:
            raise ValueError(f"{self.name}: {unknown} are not fields of {self.schema.__name__}")
        if not all(name.startswith(self.prefix + "_") for name in self.fields):
            raise ValueError(f"{self.name}: every field starts with {self.prefix}_")

    @cached_property
    def fields(self) -> dict[str, fields.Field]:
        """The result's fields in schema order (the export column order), by name."""
        return dict(self.schema().fields)

    @property
    def field_names(self) -> list[str]:
        """The result's field names in schema order: the export column order."""
        return list(self.fields)

    @cached_property
    def max_score(self) -> int | None:
        """The highest value `score_field` allows (its OneOf or Range validator), if any."""
        if self.score_field is None:
            return None
        for validator in self.fields[self.score_field].validators:
            if isinstance(validator, validate.OneOf):
                return max(validator.choices)
            if isinstance(validator, validate.Range) and validator.max is not None:
                return validator.max
        return None

    def load(self, result):
        """Validate a result of this type; raise ValidationError, return the data as stored."""
        schema = self.schema(many=self.is_list)
        if self.is_list:
            if not isinstance(result, list):
                raise ValidationError(f"{self.name} sends a list of answers.")
            if self.max_answers is not None and len(result) > self.max_answers:
                raise ValidationError(
                    f"{self.name} has at most {self.max_answers} answers, got {len(result)}."
                )
        elif not isinstance(result, dict):
            raise ValidationError(f"{self.name} sends one object, not a list.")
        return schema.load(result)


# In the order of the battery.
TEST_TYPES: dict[str, TestType] = {
    t.name: t
    for t in (
        TestType(
            "immediate_recall",
            "Immediate recall",
            ImmediateRecallResultSchema,
            is_list=False,
            prefix="ir",
            rt_fields=("ir_rt_first", "ir_rt_second"),
            score_field="ir_score",
        ),
        TestType(
            "choice_reaction_time",
            "Choice reaction time",
            ChoiceReactionTimeAnswerSchema,
            is_list=True,
            prefix="crt",
            rt_fields=("crt_rt",),
            correct_field="crt_correct",
            dwell_field="crt_dwell",
            battery_answers=10,
        ),
        TestType(
            "visual_paired_associates",
            "Visual paired associates",
            VisualPairedAssociatesAnswerSchema,
            is_list=True,
            prefix="vpa",
            rt_fields=("vpa_rt",),
            correct_field="vpa_correct",
            max_answers=20,
            battery_answers=5,
        ),
        TestType(
            "digit_symbol_matching",
            "Digit symbol matching",
            DigitSymbolMatchingAnswerSchema,
            is_list=True,
            prefix="dsm",
            rt_fields=("dsm_rt",),
            correct_field="dsm_correct",
            battery_answers=10,
        ),
        TestType(
            "spatial_memory",
            "Spatial memory",
            SpatialMemoryAnswerSchema,
            is_list=True,
            prefix="sm",
            rt_fields=("sm_rt",),
            correct_field="sm_correct",
            max_answers=5,
            battery_answers=5,
        ),
        TestType(
            "delayed_recall",
            "Delayed recall",
            DelayedRecallResultSchema,
            is_list=False,
            prefix="dr",
            rt_fields=("dr_rt",),
            score_field="dr_score",
        ),
    )
}


def label(test_type: str) -> str:
    """A reader's name for a stored test type: 'Choice reaction time', or the unclassified one."""
    known = TEST_TYPES.get(test_type)
    return known.label if known else UNCLASSIFIED_LABEL


def _types_named_by(keys) -> set[str]:
    return {t.name for t in TEST_TYPES.values() if set(t.field_names) & set(keys)}


def infer_test_type(result) -> str:
    """The test type a result's field names point to; UNCLASSIFIED for an empty list.

    Raises ValidationError when the fields match no type, or several at once.
    """
    if isinstance(result, dict):
        candidates = {n for n in _types_named_by(result) if not TEST_TYPES[n].is_list}
        return _single(candidates, "the result's fields")
    if isinstance(result, list):
        if not result:
            return UNCLASSIFIED
        if not all(isinstance(answer, dict) for answer in result):
            raise ValidationError("Every answer in the result list must be an object.")
        per_answer = [
            {n for n in _types_named_by(answer) if TEST_TYPES[n].is_list} for answer in result
        ]
        names = set().union(*per_answer)
        if len(names) > 1 or any(len(found) != 1 for found in per_answer):
            if len(names) > 1:
                raise ValidationError(
                    "The answers mix test types: " + ", ".join(sorted(names)) + "."
                )
            raise ValidationError("An answer has no field of any known test type.")
        return names.pop()
    raise ValidationError("The result must be an object or a list of answers.")


def _single(candidates: set[str], where: str) -> str:
    if len(candidates) == 1:
        return candidates.pop()
    if not candidates:
        raise ValidationError(f"No known test type has {where}.")
    raise ValidationError(f"{where.capitalize()} mix test types: {', '.join(sorted(candidates))}.")
