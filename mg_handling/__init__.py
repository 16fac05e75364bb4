__version__ = "2.0.0"  # the one place it is written; main.py --version prints it
