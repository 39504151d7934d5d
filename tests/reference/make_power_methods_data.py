"""Write power_methods_data.csv, the input of power_methods.R (run once; the CSV is committed).

Eight validation cohorts of 200 patients from the power-study generator (scenario zuma7: per-arm baselines with the
CAR T cure plateau; continuous biomarker, prevalence 0.3, prognostic HR 0.6, interaction HR 0.5), one row per patient:
``replicate, time, event, arm (1 treated), positive (the true cut-point), marker``. Times are rounded to 1e-6 months
so that R reads exactly the values the test gives the methods. Run from the repository root:
``.venv/bin/python tests/reference/make_power_methods_data.py``.
"""

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from tmesurv.simulations.power.cohorts import simulate_validation_cohorts
from tmesurv.simulations.power.study import load_power_study

STUDY = """
name: power_methods_reference
scenario: zuma7
seed: 20240612
replicates: 8
biomarker: {kind: continuous}
grid: {n: [200], interaction_hr: [0.5], prognostic_hr: [0.6], prevalence: [0.3]}
methods: [cox_interaction, cox_interaction_stratified, median_split]
"""


def main() -> None:
    folder = Path(__file__).parent
    with tempfile.TemporaryDirectory() as temporary:
        path = Path(temporary) / "study.yaml"
        path.write_text(STUDY.lstrip())
        study = load_power_study(path)
    setting = study.settings()[0]
    batch = simulate_validation_cohorts(study.cohort_model(setting), study.spec.seed, 0, range(8))
    replicates, n = batch.time.shape
    frame = pd.DataFrame(
        {
            "replicate": np.repeat(np.arange(1, replicates + 1), n),
            "time": np.round(batch.time, 6).ravel(),
            "event": batch.event.astype(int).ravel(),
            "arm": batch.treated.astype(int).ravel(),
            "positive": batch.positive.astype(int).ravel(),
            "marker": np.round(batch.marker, 6).ravel(),
        }
    )
    frame.to_csv(folder / "power_methods_data.csv", index=False)


if __name__ == "__main__":
    main()
