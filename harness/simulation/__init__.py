"""A deterministic fault simulation of the operator: several clusters running the operator's own reconciler
code on virtual time (virtual_loop.py), an in-memory DynamoDB, random faults, and a checker of the whole timeline.

    python -m harness.simulation --trials 5000 --seed 1     # what `make chaos TRIALS=5000 SEED=1` runs

Machine load cannot change a verdict (time is virtual), and a seed replays a trial exactly (with the same
PYTHONHASHSEED, which `make chaos` fixes).
"""
