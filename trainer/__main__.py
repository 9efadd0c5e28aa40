"""`python -m trainer COMMAND ...`: the same as `deeplab-trainer COMMAND ...`."""
import sys

from trainer.cli.main import main

sys.exit(main())
