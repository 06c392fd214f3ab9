"""Bookings and availability: bookings that close the loop (Cal.com, scheduling pulls), Calendly visits
read back, and real free slots from the scheduling system (FHIR) driving the next action.
"""
