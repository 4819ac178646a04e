"""An example of a head of your own for lab: scores in [0, 5] (README: "Writing your own head")."""
