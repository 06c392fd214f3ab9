"""Configuration: the TOML file validated at start-up (config), and what an admin changes in the web
UI, kept as versioned documents (settings_store).
"""
