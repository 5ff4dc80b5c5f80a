"""Names are read as a person reads them, greeted as a person would, and doubts are said."""

from __future__ import annotations

import pytest

from service.names import english_greeting, read_name


@pytest.mark.parametrize(
    ("given", "greeting"),
    [
        ("Dr. Lucius Fox", "Dear Dr. Fox"),
        ("Roe, Jane", "Dear Jane"),
        ("bruce wayne", "Dear Bruce"),
        ("DR. JANE ROE", "Dear Dr. Roe"),
        ("Jane Roe", "Dear Jane"),
        ("Mary Jane Watson", "Dear Mary"),
        ("van der Berg, Anna", "Dear Anna"),
        ("Prof. Dr. Hans Müller", "Dear Prof. Dr. Müller"),
        ("Jean-Luc Picard", "Dear Jean-Luc"),
        ("Ms. Dana Scully", "Dear Ms. Scully"),
        ("Dr. Fox", "Dear Dr. Fox"),
    ],
)
def test_greetings_are_what_a_person_would_write(given, greeting):
    name = read_name(given)
    assert english_greeting(name) == greeting
    assert name.certain, name.doubt


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("J. Roe", "only an initial"),
        ("Jane", "only one name"),
        ("Recruiting Team", "team"),
        ("HR", "a team or a role"),
        ("Talent Acquisition", "a team or a role"),
        ("Person 7", "digits"),
        ("Dr.", "no letters"),
    ],
)
def test_a_name_that_cannot_be_read_with_confidence_says_why(given, why):
    name = read_name(given)
    assert not name.certain
    assert why in name.doubt or (given == "Dr." and name.doubt)


def test_capitalisation_is_fixed_only_when_the_name_was_all_one_case():
    assert read_name("bruce wayne").full == "Bruce Wayne"
    assert read_name("Sam O'Neil").full == "Sam O'Neil"
    assert read_name("Ursula von der Leyen").given == "Ursula"
