"""A lead's life after intake: the one path every lead change takes (leads.commit_lead), the cadence
job, clearances (referral, insurance, authorization), what a channel-map change does to queued
leads, and the speed-to-lead clock.
"""
