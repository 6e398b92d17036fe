"""The pytest sample's source (../pytest.xml): passed, failed, error in a
fixture, skipped, xfail, parametrized tests, and captured output."""
import sys

import pytest


def test_adds():
    assert 2 + 2 == 4


def test_subtracts():
    print("computing 5 - 3")
    print("to stderr", file=sys.stderr)
    assert 5 - 3 == 3


@pytest.fixture
def broken():
    raise RuntimeError("database unavailable")


def test_uses_broken_fixture(broken):
    pass


@pytest.mark.skip(reason="needs a GPU")
def test_skipped():
    pass


@pytest.mark.xfail(reason="known bug 12")
def test_expected_failure():
    assert False


@pytest.mark.parametrize("n", [2, 3])
def test_even(n):
    assert n % 2 == 0


class TestGroup:
    def test_in_class(self):
        assert "a" in "abc"
