"""The embedded local cloud: moto's server with the gaps closed that a CEAP stack needs.

``LocalCloud(state_dir).ensure_running()`` starts (or finds) the server of a project and
returns its endpoint. See ``docs/ARCHITECTURE.md`` ("Local cloud").
"""

from ceap_tf.localcloud.cloud import LocalCloud, LocalCloudError

__all__ = ["LocalCloud", "LocalCloudError"]
