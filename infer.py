"""Apply a trained model to a project: `python infer.py --help`."""
import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # tf-models-official needs Keras 2 (tf_keras)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from trainer.cli.infer import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
