"""Custom stages (modules/workflow ``custom_stages``): a team's own stage code.

Modules here ship in the stage code zip with the built-in stages. The two here are
the worked example of ``examples/custom-stages`` (and the e2e env ``e2ecustom``):
``region_tag`` (a Lambda stage on the base class) and ``value_band`` (a Glue stage's
``transform`` for ``ceap_stages.gluestage``).
"""
