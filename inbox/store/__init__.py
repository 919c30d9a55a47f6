"""The store: engines and transactions, the models, migrations, secrets at rest, leases, the audit writer."""
