import pytest

from moderation.evaluate import calibration_error


def test_calibration_error_weighs_each_bins_gap_by_its_size():
    """Three comments at 0.05, none abusive (gap 0.05), one at 0.95 that is (gap 0.05): 0.05; a confident miss
    in a bin of its own adds its whole gap, weighted by a quarter."""
    assert calibration_error([0, 0, 0, 1], [0.05, 0.05, 0.05, 0.95]) == pytest.approx(0.05)
    assert calibration_error([0, 0, 0, 0], [0.05, 0.05, 0.05, 0.95]) == pytest.approx(0.75 * 0.05 + 0.25 * 0.95)
