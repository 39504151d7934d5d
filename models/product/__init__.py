"""CAR T product attributes and pharmacokinetics of the treated arm, and their associations with outcomes."""
