"""Packaging beside pyproject.toml (which holds all the metadata): which packages the wheel has.

Every package under mfteach/, found anew at each build, plus ``mfteach.lessons``: the repository's
``lessons/*.ipynb`` mapped into the wheel as package data WITHOUT moving them (Binder, ``make lab``
and the tests open them at the repository's root). Only the notebooks: no data (MovieLens may not
be redistributed). ``python -m mfteach lessons DEST`` copies them out of an installed wheel;
``mfteach.course.lesson_paths()`` finds them in a wheel and in a clone alike.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["mfteach", "mfteach.*"]), "mfteach.lessons"],
    package_dir={"mfteach.lessons": "lessons"},
    # + the cached sweep results of mfteach.explain.precomputed (numbers computed from MovieLens, no ratings)
    package_data={"mfteach.lessons": ["*.ipynb"], "mfteach.explain": ["precomputed_data/*.json"]},
    exclude_package_data={"mfteach.lessons": ["*.cfg"]},
)
