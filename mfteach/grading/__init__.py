"""Grading submitted lesson notebooks (``python -m mfteach grade``; the command line is ``mfteach.grade``).

One idea per module:

- ``notebooks``: reading a submission, its ``%%check`` cells and answer lines, recognising its lesson;
- ``plan``: what of the shipped lesson a grading kernel runs (its set-up) and where the exercises go;
- ``kernel``: the helpers that run INSIDE the grading kernel (the learner's cell, then ``check``);
- ``session``: one fresh ipykernel per notebook through nbclient, each piece under a time limit;
- ``answers``: the questions, from the answer lines in the file;
- ``runner``: one notebook -> its rows;
- ``report``: the CSVs, the per-student table and the printed summary.

Learner code never runs in the grader's own process: only in the kernel (and, for each check, in
the kernel's forked sandbox).
"""
