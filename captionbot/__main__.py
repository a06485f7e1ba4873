"""`python -m captionbot` is `captionbot`."""

import sys

from captionbot.cli import main

sys.exit(main())
