"""Values for the variables: value text and Python objects (values.py), data files
(datafiles.py), the command line's NAME=VALUE, --values and @FILE (arguments.py).
"""
