"""Listening-test statistics over a verdict frame: the figures a paper reports, in one call each.

Pure functions over pandas DataFrames (no widgets, no network): the review board's methods call
them, and so can anyone holding a results file (`read_results` reads webMUSHRA's and BeaqleJS's).

The verdict frame
-----------------
Long format, one row per judgement. Every function takes each column's name as a keyword
argument whose default is the name below, so a frame from elsewhere works as it is
(``report(df, by="model", rater="listener", item="prompt")``).

Scores (ACR/MOS, MUSHRA), one row per card a rater scored:

=============  ==============================================================================
column         meaning
=============  ==============================================================================
``rater``      who judged (any hashable; a rater is the unit of `exclude` and screening)
``item``       what is compared within: the row's prompt, video, trial (the same for every
               condition of one comparison)
``condition``  what is compared: the column the caller groups by (``by=``), e.g. ``steps``,
               ``model``, a webMUSHRA stimulus; the hidden reference is one condition
``score``      the score, a number; NaN/NA for a card left unscored (dropped, not zero: a row
               without a score may also lack a rater, as a table of unrated tasks does)
``best``       optional, True on the one card a rater picked as best in an item (best picks;
               the other cards the rater was shown in that item need a row with False)
=============  ==============================================================================

Pairwise (forced choice, optional "no preference"), one row per presented pair:

=============  ==============================================================================
``rater``      who judged
``item``       what is compared within
``a``, ``b``   the two conditions presented (in the order shown: ``a`` first)
``choice``     ``"a"``, ``"b"`` or ``"tie"`` (no preference); NA when not answered
=============  ==============================================================================

Bad input raises a ValueError that says what to fix (a missing column, scores that are not
numbers, a second best pick in one item, too few raters for the figure asked).

Functions
---------
- `report`: per condition, raters, verdicts, mean, median and an interval that resamples raters
  and items; Bradley-Terry (pairwise) or Luce (best picks) strengths with intervals.
- `compare_conditions`: every pair of conditions, Wilcoxon signed-rank over shared items,
  Holm-corrected, with the rank-biserial effect size; `friedman` for all at once.
- `agreement`: Krippendorff's alpha with a bootstrap interval.
- `screen_raters`: ITU-R BS.1534-3 post-screening, or correlation with the other raters.
- `plot`: means (or strengths) with their intervals, as a matplotlib Figure (PNG or SVG).
"""

from __future__ import annotations

from .comparisons import compare_conditions, friedman
from .formats import read_results
from .frame import CHOICES
from .plotting import plot
from .reliability import agreement
from .reporting import report
from .screening import screen_raters

__all__ = [
    "CHOICES",
    "agreement",
    "compare_conditions",
    "friedman",
    "plot",
    "read_results",
    "report",
    "screen_raters",
]
