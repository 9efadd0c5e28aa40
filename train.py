"""Train a DeepLabV3/V3+ model: `python train.py --help`."""
import sys

from trainer.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
