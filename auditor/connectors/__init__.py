"""Where raw API responses come from: recorded fixtures (offline) or the Google APIs (live)."""

import warnings

# The Google libraries warn on every import under Python 3.10 that newer releases will need 3.11. The project
# supports 3.10 (pyproject's requires-python); this notice would be noise on every live run's stderr.
warnings.filterwarnings("ignore", message=r".*non-supported Python version", category=FutureWarning)
warnings.filterwarnings("ignore", message=r"Support for Python versions less than", category=DeprecationWarning)
