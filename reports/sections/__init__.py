"""The sections of the HTML report: one module per section, its tables and figures together."""
