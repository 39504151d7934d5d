"""What tmesurv writes: atomic file writes, the registry of result files, and the run record (``run.json``)."""
