"""The review's measures: pure aggregation over plain row values. No database, no clock, no I/O.

Each measure takes an iterable of small named tuples (what :mod:`hub.review.queries` streams from the
store, or what a test builds by hand) and returns a frozen result. Rows that carry a count ``n`` may
stand for one lead (``n=1``) or for a group the database already counted: the results are the same.

One module per measure; each module's docstring defines its figures (also in ``docs/review.md``):

- :mod:`~hub.review.measures.counts`: :class:`Count`, shares, percentiles, ``NONE_LABEL`` (shared by all).
- :mod:`~hub.review.measures.funnel`: the cohort and its funnel (inquiries → reached → scheduled →
  prepared → kept) by channel, campaign, location, service or language.
- :mod:`~hub.review.measures.language`: conversion per preferred language (Spanish against English).
- :mod:`~hub.review.measures.demand`: each service's demand against its openings, and its verdict.
- :mod:`~hub.review.measures.speed`: speed to lead (time to first attempt and contact, within
  target in clinic opening time, after hours).
- :mod:`~hub.review.measures.stalled`: open leads whose next action is overdue, with one reason each.
- :mod:`~hub.review.measures.questions`: the most frequent intents, needs and triage keywords.
- :mod:`~hub.review.measures.touches`: touches counted as attempts (reached, answered with a reply).
- :mod:`~hub.review.measures.timing`: follow-up timing: reach rate by attempt, hour, part of day, step.
- :mod:`~hub.review.measures.confusion`: replies after each approved template.
- :mod:`~hub.review.measures.trend`: the funnel counts week by week.

Import each name from the module that holds it; this package itself exports nothing.
"""
