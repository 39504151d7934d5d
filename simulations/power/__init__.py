"""Power studies of validation cohorts on Dask: study files, simulated cohorts, analysis methods, summaries."""
