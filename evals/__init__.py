"""Evaluations: dataset format (``dataset``), metrics as pure functions (``metrics``, ``scoring``),
the runner over ``Assistant.ask`` (``runner``), reports (``report``), run comparison (``compare``),
refusal calibration (``calibrate``), the support-judge eval (``judge_eval``) and the CI gate (``gate``).
"""
