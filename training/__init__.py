"""Training, evaluation and command-line tools for the exposure model."""
