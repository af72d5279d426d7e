"""Measuring models and data: ``evaluate`` and its report, the blend study, the
classifiers, generation, ``explore``, the scaling measurements and the sync study."""
