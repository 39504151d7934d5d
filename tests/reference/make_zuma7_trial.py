"""Write zuma7_trial.csv, a ZUMA-7-like trial export that the screen and clustering references in R read.

The file is committed, so later changes to the simulator do not change the reference values. Run once from the
repository root: ``.venv/bin/python tests/reference/make_zuma7_trial.py``.
"""

from pathlib import Path

from tmesurv.simulations.scenario import load_scenario
from tmesurv.simulations.trial import simulate_trial

SEED = 20241022


def main() -> None:
    frame = simulate_trial(load_scenario("zuma7"), SEED).to_frame()
    frame.to_csv(Path(__file__).with_name("zuma7_trial.csv"), index=False, float_format="%.6g")


if __name__ == "__main__":
    main()
