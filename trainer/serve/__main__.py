"""`python -m trainer.serve`: the same as `deeplab-trainer serve`."""
import sys

from trainer.cli.serve import main

sys.exit(main())
