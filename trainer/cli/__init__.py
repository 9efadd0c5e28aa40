"""The commands: argument parsing, messages and exit codes; the steps of each job live in its session."""
import os

# TensorFlow's C++ start-up chatter is not for users of the commands (the library leaves it as the user set it).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
