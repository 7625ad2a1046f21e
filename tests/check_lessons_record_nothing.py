#!/usr/bin/env python3
"""After `make test` ran every stored lesson top to bottom (nbval) with a fresh MFTEACH_HOME:
running a lesson must use no hints and record no attempts (the stubs are "not written yet",
the quizzes only display). Exit 1, naming the exercises, when anything was recorded.

The unit tests never write there: tests/conftest.py gives every test a private MFTEACH_HOME.
"""

import contextlib
import io
import os
import sys

import mfteach as mt

if not os.environ.get("MFTEACH_HOME"):
    sys.exit("set MFTEACH_HOME to the folder the lessons ran with")
with contextlib.redirect_stdout(io.StringIO()):
    frame = mt.exercises.progress()
touched = frame[(frame["attempts"] > 0) | (frame["hints_used"] > 0)]
if len(touched):
    print("Running the stored lessons recorded attempts or hints (it must record nothing):")
    print(touched.to_string(index=False))
    sys.exit(1)
print(f"Lessons run top to bottom: 0 attempts and 0 hints recorded over {len(frame)} exercises and questions.")
