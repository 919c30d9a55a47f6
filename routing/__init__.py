"""Routing: pure decisions over plain data, no database and no I/O.

rules.py (+ conditions, decision, timeline, snapshot): which rules fire on a message and
what they do. assignment.py: who in a team gets it. priority.py: the impact x urgency
matrix. tickets.py: the ticket lifecycle. business_hours.py and sla.py: due times.
templates.py: customer texts in the contact's language. config.py: the config sections.
"""
