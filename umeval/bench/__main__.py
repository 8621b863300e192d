"""``python -m umeval.bench``."""

import sys

from umeval.bench import main

if __name__ == "__main__":
    main()
    sys.exit(0)
