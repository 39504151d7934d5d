"""The Bayesian mixture-cure piecewise-exponential model (``bayes.model: cure``).

``S(t | x) = pi(x) + (1 - pi(x)) S_u(t | x)``: a cured fraction ``pi(x)`` (the incidence, a logistic model) that never
has the event, and the uncured, whose survival ``S_u`` is the piecewise-exponential proportional-hazards model (the
latency). Modules: :mod:`.likelihood` (the data and the O(n + K) log-likelihood kernel), :mod:`.model` (the PyMC
specification), :mod:`.density` (the hand-coded log posterior nutpie samples), :mod:`.fit`, :mod:`.summary` (the
``cure:`` and ``latency:`` terms, cure fractions) and :mod:`.plateau` (is the plateau supported by follow-up).
"""
