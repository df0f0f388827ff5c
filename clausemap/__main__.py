import sys

from clausemap.cli import main

sys.exit(main())
