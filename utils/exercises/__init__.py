"""Exercises at the end of each lesson and their self-checks.

In a notebook, after the learner's answer:

    from utils.exercises import check
    check("04.2", tolerance, max_difference=largest)

`check` passes quietly with a one-line confirmation, or raises `NotYetRight` whose message says what is wrong and
gives a hint. Each lesson's checks live in `lessonNN.py` (one module per notebook, loaded on first use) and are
registered with `@exercise("NN.K")` from `registry`. `student` turns the instructor notebooks (solutions between
nbgrader's `### BEGIN SOLUTION` / `### END SOLUTION` markers) into student notebooks.
"""

from utils.exercises.registry import NotYetRight, check, exercise

__all__ = ["NotYetRight", "check", "exercise"]
