"""The CEAP policy pack: checkov custom checks of this project's own conventions.

checkov loads every ``.py`` file of a directory holding an ``__init__.py`` through
``--external-checks-dir``; ``ceap-tf scan`` passes this directory by default.
"""
