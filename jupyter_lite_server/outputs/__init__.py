"""Results of cells whose browser went away, written into the notebook (issue 18, part 1)."""
