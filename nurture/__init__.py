"""The domain of nurturehub, pure: leads, intent, next action, score, consent, cadence, triage, templates.

Nothing here does I/O, reads the clock or imports a framework: every function takes values (and
``now`` where time matters) and returns values. The application (``hub``) wires it to the world.
"""
