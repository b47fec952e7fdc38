"""Result schemas and test-type inference, against the front-end's own samples."""

import dataclasses

import pytest
from conftest import CONTRACT_SAMPLES, EXPECTED_TYPE, load_sample
from marshmallow import ValidationError

from intact import testtypes
from intact.testtypes import TEST_TYPES, UNCLASSIFIED, infer_test_type


def test_every_contract_sample_has_an_expectation():
    assert set(CONTRACT_SAMPLES) == set(EXPECTED_TYPE)


@pytest.mark.parametrize("sample", CONTRACT_SAMPLES)
def test_contract_samples_are_inferred_and_valid(sample):
    result = load_sample(sample, "x")["result"]
    test_type = infer_test_type(result)
    assert test_type == EXPECTED_TYPE[sample]
    if test_type != UNCLASSIFIED:
        assert TEST_TYPES[test_type].load(result) == result


def test_battery_order_and_field_order():
    assert list(TEST_TYPES) == [
        "immediate_recall",
        "choice_reaction_time",
        "visual_paired_associates",
        "digit_symbol_matching",
        "spatial_memory",
        "delayed_recall",
    ]
    assert TEST_TYPES["choice_reaction_time"].field_names == [
        "crt_rt",
        "crt_correct",
        "crt_response",
        "crt_dwell",
    ]


def test_delayed_recall_zero_is_a_real_score():
    assert TEST_TYPES["delayed_recall"].load({"dr_rt": 15002, "dr_score": 0})["dr_score"] == 0


def test_second_attempt_may_be_missing_or_null():
    ir = TEST_TYPES["immediate_recall"]
    assert ir.load({"ir_rt_first": 1, "ir_score": 2})["ir_rt_second"] is None
    assert ir.load({"ir_rt_first": 1, "ir_score": 2, "ir_rt_second": None})["ir_rt_second"] is None


@pytest.mark.parametrize("rt", [-250, 0, 1_700_000_000_000, 2**63 - 1, 412.0])
def test_absurd_reaction_times_are_kept(rt):
    answer = {"sm_rt": rt, "sm_correct": True}
    assert TEST_TYPES["spatial_memory"].load([answer])[0]["sm_rt"] == int(rt)


def test_unknown_fields_inside_answers_are_kept():
    answer = {"sm_rt": 10, "sm_correct": False, "sm_target": "B2"}
    assert TEST_TYPES["spatial_memory"].load([answer]) == [answer]


@pytest.mark.parametrize(
    ("test_type", "result", "field"),
    [
        ("spatial_memory", [{"sm_rt": "10", "sm_correct": True}], "sm_rt"),
        ("spatial_memory", [{"sm_rt": True, "sm_correct": True}], "sm_rt"),
        ("spatial_memory", [{"sm_rt": 10.5, "sm_correct": True}], "sm_rt"),
        ("spatial_memory", [{"sm_rt": 2**63, "sm_correct": True}], "sm_rt"),
        ("spatial_memory", [{"sm_rt": 10, "sm_correct": "yes"}], "sm_correct"),
        ("spatial_memory", [{"sm_rt": 10, "sm_correct": 1}], "sm_correct"),
        (
            "choice_reaction_time",
            [{"crt_rt": 1, "crt_correct": True, "crt_dwell": 1}],
            "crt_response",
        ),
        (
            "digit_symbol_matching",
            [{"dsm_rt": 1, "dsm_correct": True, "dsm_response": 4}],
            "dsm_response",
        ),
        (
            "visual_paired_associates",
            [{"vpa_rt": 1, "vpa_correct": True, "vpa_response": {"$ne": ""}}],
            "vpa_response",
        ),
        ("immediate_recall", {"ir_rt_first": 1, "ir_score": 3}, "ir_score"),
        ("delayed_recall", {"dr_rt": 1, "dr_score": 6}, "dr_score"),
        ("delayed_recall", {"dr_rt": 1, "dr_score": -1}, "dr_score"),
    ],
)
def test_invalid_values_name_the_field(test_type, result, field):
    with pytest.raises(ValidationError) as raised:
        TEST_TYPES[test_type].load(result)
    assert field in str(raised.value.messages)


def test_list_length_limits():
    answer = {"sm_rt": 1, "sm_correct": True}
    with pytest.raises(ValidationError, match="at most 5 answers"):
        TEST_TYPES["spatial_memory"].load([answer] * 6)
    vpa = {"vpa_rt": 1, "vpa_correct": True, "vpa_response": "a.jpg"}
    assert len(TEST_TYPES["visual_paired_associates"].load([vpa] * 20)) == 20


def test_shape_must_match_the_type():
    with pytest.raises(ValidationError, match="one object"):
        TEST_TYPES["delayed_recall"].load([{"dr_rt": 1, "dr_score": 1}])
    with pytest.raises(ValidationError, match="list of answers"):
        TEST_TYPES["spatial_memory"].load({"sm_rt": 1, "sm_correct": True})


@pytest.mark.parametrize(
    ("result", "complaint"),
    [
        (
            [
                {"sm_rt": 1, "sm_correct": True},
                {"dsm_rt": 1, "dsm_correct": True, "dsm_response": 1},
            ],
            "mix",
        ),
        ([{"foo": 1}], "no field of any known test type"),
        ([1, 2], "must be an object"),
        ({"foo": 1}, "No known test type"),
        ({"ir_score": 1, "dr_score": 1}, "mix test types"),
        ("a string", "object or a list"),
        (None, "object or a list"),
    ],
)
def test_inference_refuses_what_it_cannot_tell(result, complaint):
    with pytest.raises(ValidationError, match=complaint):
        infer_test_type(result)


def test_each_types_roles_name_its_own_fields():
    crt = TEST_TYPES["choice_reaction_time"]
    assert (crt.prefix, crt.rt_fields, crt.correct_field, crt.dwell_field) == (
        "crt",
        ("crt_rt",),
        "crt_correct",
        "crt_dwell",
    )
    assert TEST_TYPES["immediate_recall"].rt_fields == ("ir_rt_first", "ir_rt_second")
    assert [(t.score_field, t.max_score) for t in TEST_TYPES.values() if t.score_field] == [
        ("ir_score", 2),
        ("dr_score", 5),
    ]
    for test_type in TEST_TYPES.values():
        assert all(name.startswith(test_type.prefix + "_") for name in test_type.field_names)
        assert set(test_type.rt_fields) <= set(test_type.field_names)
        assert all(test_type.fields[name].metadata["unit"] == "ms" for name in test_type.rt_fields)


def test_a_role_naming_no_field_is_refused_when_the_type_is_made():
    crt = TEST_TYPES["choice_reaction_time"]
    with pytest.raises(ValueError, match="crt_reaction"):
        dataclasses.replace(crt, rt_fields=("crt_reaction",))
    with pytest.raises(ValueError, match="starts with rt_"):
        dataclasses.replace(crt, prefix="rt")


def test_one_label_for_a_result_of_no_known_type():
    assert testtypes.label("spatial_memory") == "Spatial memory"
    assert testtypes.label(UNCLASSIFIED) == testtypes.UNCLASSIFIED_LABEL
    assert testtypes.label("something_else") == testtypes.UNCLASSIFIED_LABEL
