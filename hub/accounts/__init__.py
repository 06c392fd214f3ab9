"""Who may use the admin UI: accounts, roles, sign-in and its throttle, web sessions."""
