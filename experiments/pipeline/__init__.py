"""The stages of a run: plan, execute, run, and the one trainer every kind plugs into
(:mod:`experiments.pipeline.loop`)."""
