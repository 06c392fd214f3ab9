"""Inquiries in: every inbound event kept durably (the inbox), mapped, matched to one lead per person
(identity), triaged and committed (intake); opt-outs without a lead (suppression); why an event was
parked; sample events, demo inquiries and the triage evaluation.
"""
