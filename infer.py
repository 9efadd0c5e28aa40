"""Apply a trained model to a project: `python infer.py --help`."""
import sys

from trainer.cli.infer import main

if __name__ == "__main__":
    sys.exit(main())
