"""lab: Hydra-composed experiments for fine-tuning Hugging Face transformers with Lightning.

Importing the package is cheap on purpose: `python -m lab.train --help` must answer in well
under two seconds, so torch, transformers and Lightning are imported only where they are used.
"""

__version__ = "0.1.0"
