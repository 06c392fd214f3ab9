"""CRM connections: their settings, OAuth tokens kept encrypted, the connectors built from them,
connecting by OAuth, and leads the CRM converted.
"""
