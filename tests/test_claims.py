"""The chapters' claims: a table when they hold, an error naming each one that does not."""

import math

import pytest

from autoencoder.book.claims import Claim, ClaimFailed, check_claims


def test_claims_that_hold_are_tabled():
    table = check_claims(
        [Claim("most features are localized", 0.93, low=0.8), Claim("gap below 3 %", 0.016, high=0.03)],
        caption="claims",
    )
    assert "<caption>claims</caption>" in table
    assert "most features are localized" in table and "0.93" in table and "≥ 0.8" in table
    assert "≤ 0.03" in table


def test_every_failing_claim_is_named_with_its_value_and_range():
    claims = [
        Claim("band just above rho", 0.099, low=0.1, high=0.12),
        Claim("ok", 1.0, low=0.0),
        Claim("no silent unit", 0.02, high=0.0),
        Claim("not a number", math.nan, low=0.0),
    ]
    with pytest.raises(ClaimFailed) as err:
        check_claims(claims)
    message = str(err.value)
    assert "band just above rho: measured 0.099, the text needs in [0.1, 0.12]" in message
    assert "no silent unit: measured 0.02, the text needs ≤ 0" in message
    assert "not a number" in message and "ok" not in message.replace("no longer", "")


@pytest.mark.parametrize(
    "kwargs, message",
    [({}, "needs a bound"), ({"low": 2.0, "high": 1.0}, "low = 2 above high = 1")],
)
def test_a_claim_needs_a_sensible_range(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Claim("x", 1.0, **kwargs)


def test_no_claims_is_refused():
    with pytest.raises(ValueError, match="at least one Claim"):
        check_claims([])


def test_unenforced_claims_are_tabled_with_which_hold():
    claims = [Claim("holds", 1.0, low=0.0), Claim("fails", 1.0, high=0.0)]
    table = check_claims(claims, enforce=False)
    assert table.count("<td>yes</td>") == 1 and table.count("<td>no</td>") == 1
