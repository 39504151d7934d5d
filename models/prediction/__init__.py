"""Prediction models saved for external validation: the model that ``tmesurv validate`` scores on an external cohort.

It is the config's ``validation_model``: its ``terms`` (columns, or log/clip/rcs/factor of a column, see
:mod:`.transforms`) and, with ``interaction`` (one term or several), the arm and ``arm x`` each column of each
interaction term (an effect-modelling treatment-benefit model), or with ``arm_effect`` the arm alone (risk modelling),
fitted on the patients of its ``arm`` (all, treated or control). Two fits of it can be scored:

* **Cox** (:func:`.cox.fit_validation_model`): the Efron fit (:func:`tmesurv.models.cox.fitting.fitted_cox`, as R's
  ``coxph``) and the Breslow baseline cumulative hazard at the design means (R's ``basehaz(fit, centered = TRUE)``
  with ``ctype = 1``). A patient's risk by t is ``1 - S0(t)^exp(lp)``, ``lp`` the
  linear predictor centred at the design means; after the last development event time ``S0`` stays flat (an
  extrapolation, flagged by the validation). Saved as ``validation_model.json``
  (:func:`.storage.write_validation_model`).
* **Bayesian**: a piecewise-exponential fit of the same design by :func:`tmesurv.models.pwe.fit.fit_pwe`, saved as
  ``validation_model_posterior.nc`` (:func:`.posterior.fit_validation_posterior`,
  :func:`.storage.write_validation_posterior`). Predictions are posterior means: the risk is the mean over draws of
  ``1 - S(t)``, the linear predictor ``X . E[coef]``; the external log predictive density is
  ``sum_i log mean_s p(y_i | draw s)`` (:meth:`.posterior.PosteriorModel.log_predictive_density`, from
  :func:`tmesurv.models.pwe.data.pwe_log_likelihood`).

What validation needs about the development cohort travels with either fit (:class:`.info.Development`): per term its
mean, sd and quantiles (to harmonise an external cohort's biomarkers) and its values, without ids (for the case-mix
comparison); the follow-up (last time and reverse Kaplan-Meier median); and the first event time. A term derived in
development from a gene set (``data.derive.signatures``) is saved with the genes of its set that the development
panel had (:attr:`.info.ModelInfo.gene_sets`), so that ``tmesurv validate --harmonise TERM=rederive`` can recompute
it from an external cohort's genes exactly as it was computed in development.

Modules: :mod:`.settings` (the config section and what a fit takes from the config), :mod:`.terms` (the model's terms:
patients, design matrix, development distributions), :mod:`.transforms` (the terms' transformations, fitted knots and
levels), :mod:`.info` (what every saved fit carries), :mod:`.cox` and
:mod:`.posterior` (the two fits and their predictions), :mod:`.storage` (``validation_model.json`` and
``validation_model_posterior.nc``).
"""
