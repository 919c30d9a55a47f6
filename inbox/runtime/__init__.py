"""A running node: its services, its channels, provisioning from the config, presence, the daemon."""
