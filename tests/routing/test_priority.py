import pytest

from routing.priority import LEVELS, incident_priority


@pytest.mark.parametrize(
    ("impact", "urgency", "expected"),
    [
        ("high", "high", "P1"),
        ("high", "medium", "P2"),
        ("medium", "high", "P2"),
        ("high", "low", "P3"),
        ("medium", "medium", "P3"),
        ("low", "high", "P3"),
        ("medium", "low", "P4"),
        ("low", "medium", "P4"),
        ("low", "low", "P5"),
    ],
)
def test_matrix_gives_the_itil_priority(impact, urgency, expected):
    assert incident_priority(impact, urgency) == expected


def test_matrix_is_symmetric_in_impact_and_urgency():
    for a in LEVELS:
        for b in LEVELS:
            assert incident_priority(a, b) == incident_priority(b, a)


def test_unknown_level_is_rejected_with_the_expected_values():
    with pytest.raises(ValueError, match="high, medium or low"):
        incident_priority("critical", "high")  # type: ignore[arg-type]
