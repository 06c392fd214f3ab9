"""The wired application and its surroundings: the composition root (bootstrap), the instance folder,
logging, metrics, the running demo's record for other terminals, and the local sandboxes.
"""
