"""Root pytest configuration: shared by the unit tests (tests/) and nbval (lessons/)."""

import os
import tempfile

# Exercise progress goes to a throwaway folder, never to the real home; nbval's kernels
# inherit this environment, so a lesson's %%check output does not depend on past sessions.
os.environ["MFTEACH_HOME"] = tempfile.mkdtemp(prefix="mfteach-home-")

# The real MovieLens 100K beside the project, when it is there (CI and make test set it too).
_shared = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shared", "data")
if "MFTEACH_DATA" not in os.environ and os.path.isfile(os.path.join(_shared, "ml-100k", "u.data")):
    os.environ["MFTEACH_DATA"] = os.path.abspath(_shared)
elif os.environ.get("MFTEACH_DATA"):
    # nbval's kernels run in lessons/: a relative path given on the command line must not move
    os.environ["MFTEACH_DATA"] = os.path.abspath(os.path.expanduser(os.environ["MFTEACH_DATA"]))

collect_ignore_glob = ["benchmarks/*", "tests/browser/*", ".venv/*", ".venv-*/*"]
