"""`python -m trainer.export MODEL --output DIR ...` (also `deeplab-trainer export`)."""
import sys

from trainer.cli.export import main

sys.exit(main())
