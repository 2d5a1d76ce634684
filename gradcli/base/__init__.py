"""The ground every layer stands on: the GradcliError family (errors.py), the program text
and its spans (source.py), writing an output file whole (outfile.py). Imports nothing of gradcli.
"""
